"""`deephealth preprocess`: apply deterministic ECVL operations to a whole dataset, in parallel.

The operations are ECVL augmentation text (one per line, as a pipeline config holds them, e.g.
`AugResizeDim dims=(224,224)` then `AugNormalize mean=0.5 std=0.2`). Each sample is read, its
ground truth (if any) transformed with it, and both written under `OUT/images/` (`.png` for 8/16-bit
2D results, `.npy` for float or 3D ones); a new DeepHealth dataset YAML (`OUT/dataset.yml`) points at
them. Random operations draw from a generator seeded by (seed, sample index), so the output is
byte-identical whatever the engine (inline, processes, Dask) and the number of workers.
"""

from __future__ import annotations

import copy
import io
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deephealth.pipelines.batchjobs.runner import RunStats, make_batches, run_batches


@lru_cache(maxsize=8)
def _operations(text: str):
    from deephealth.ecvl.augment import AugmentationFactory

    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1 and not lines[0].strip().startswith("SequentialAugmentationContainer"):
        text = "SequentialAugmentationContainer\n" + "\n".join(lines) + "\nend"
    return AugmentationFactory.create(text)


def validate_ops(text: str) -> None:
    """Parse the operations once (raises the ECVL syntax error naming line and column)."""
    _operations(text)


def _write_array(arr: np.ndarray, base: Path) -> str:
    """Write `arr` (canonical (H, W, C) or (D, H, W, C)) as PNG when lossless, else NPY."""
    if arr.ndim == 3 and arr.dtype in (np.uint8, np.uint16) and arr.shape[-1] in (1, 3, 4):
        path = base.with_suffix(".png")
        img = arr[..., 0] if arr.shape[-1] == 1 else arr
        ok, data = cv2.imencode(".png", img)
        if not ok:
            raise OSError(f"cannot encode {path}")
        payload = data.tobytes()
    else:
        path = base.with_suffix(".npy")
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(arr))
        payload = buffer.getvalue()
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)
    return path.name


def preprocess_batch(index: int, batch: list[dict[str, Any]], out_dir: str) -> dict[str, Any]:
    """Task function: transform and write one batch of samples; returns their new file names."""
    from deephealth.ecvl.dataset.model import Sample
    from deephealth.ecvl.dataset.reader import read_sample_array

    images = Path(out_dir) / "images"
    images.mkdir(parents=True, exist_ok=True)
    written = {}
    for item in batch:
        sample = Sample(location_=item["location"], label_path_=item["label_path"])
        ops = _operations(item["ops"])
        x = read_sample_array(sample, item["ctype"], index=item["index"])
        gt = None
        if item["label_path"] is not None:
            gt = read_sample_array(sample, "GRAY", is_gt=True, index=item["index"])
        rng = np.random.default_rng([item["seed"], item["index"]])
        x, gt = ops.apply_arrays(x, gt, rng)
        entry = {"location": _write_array(x, images / f"{item['index']:07d}")}
        if gt is not None:
            entry["label_path"] = _write_array(gt, images / f"{item['index']:07d}_gt")
        written[str(item["index"])] = entry
    return {"samples": written}


def preprocess_dataset(
    dataset: str | os.PathLike,
    ops: str,
    out_dir: str | os.PathLike,
    workers: int = 2,
    scheduler: str | None = None,
    batch_size: int = 64,
    ctype: str = "none",
    seed: int = 0,
    progress: bool = True,
    baseline: str | os.PathLike | None = None,
) -> tuple[Path, RunStats]:
    """Preprocess every sample of a DeepHealth dataset; write the results and a new dataset YAML.

    Args:
        dataset: DeepHealth dataset YAML.
        ops: ECVL augmentation text (deterministic operations, or seeded random ones).
        out_dir: Output folder; a rerun skips batches already finished there.
        workers: Local processes (or Dask workers with `scheduler="local"`).
        scheduler: Dask scheduler address, "local" for a Dask LocalCluster, None for processes.
        batch_size: Samples per task.
        ctype: Colour type to read images as ("none" keeps them as stored, "RGB", "GRAY").
        seed: Seed of the random operations.
        progress: Show a progress bar.
        baseline: Output folder of a one-worker run on the same data: the report then gives
            the speedup and parallel efficiency against it.

    Returns:
        The new dataset YAML path and the run statistics (time-of-pre-processing-images is
        `stats.seconds`); `OUT/preprocess_report.json` holds the KPIs.
    """
    from deephealth.ecvl.dataset import Dataset

    validate_ops(ops)
    ds = Dataset(dataset)
    items = [
        {
            "index": i,
            "location": list(s.location_),
            "label_path": s.label_path_,
            "ops": ops,
            "ctype": ctype,
            "seed": seed,
        }
        for i, s in enumerate(ds.samples_)
    ]
    out = Path(out_dir)
    stats, records = run_batches(
        preprocess_batch, make_batches(items, batch_size), out, workers, scheduler, progress,
        "preprocess", fork_safe=True,
    )  # fmt: skip
    new = copy.deepcopy(ds)
    for record in records:
        for key, entry in record["samples"].items():
            sample = new.samples_[int(key)]
            sample.location_ = [str((out / "images" / entry["location"]).resolve())]
            if "label_path" in entry:
                sample.label_path_ = str((out / "images" / entry["label_path"]).resolve())
    yaml_path = out / "dataset.yml"
    new.Dump(yaml_path)
    write_report(out / "preprocess_report.json", stats, baseline)
    return yaml_path, stats


REPORT = "preprocess_report.json"


def write_report(path: Path, stats: RunStats, baseline: str | os.PathLike | None) -> dict[str, Any]:
    """Write the KPIs of a preprocessing run (speedup/efficiency against `baseline`'s report)."""
    from deephealth.pipelines.report.kpi import speedup_efficiency

    record: dict[str, Any] = {
        "time_of_pre_processing_images_s": stats.seconds, "samples": stats.samples,
        "images_per_s": stats.samples_per_s, "batches": stats.batches, "skipped": stats.skipped,
        "workers": stats.workers, "engine": stats.engine, "baseline": None,
        "speedup": None, "efficiency": None,
    }  # fmt: skip
    if baseline is not None:
        base_path = Path(baseline) / REPORT
        try:
            base = json.loads(base_path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"baseline {base_path}: cannot read its report ({err})") from None
        serial_s = base["time_of_pre_processing_images_s"] * stats.samples / max(base["samples"], 1)
        speedup, efficiency = speedup_efficiency(serial_s, stats.seconds, stats.workers)
        record.update(baseline=str(base_path), speedup=speedup, efficiency=efficiency)
    path.write_text(json.dumps(record, indent=2))
    return record
