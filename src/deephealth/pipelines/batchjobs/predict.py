"""`deephealth predict` at dataset scale: run an ONNX model over a dataset with onnxruntime.

Each worker keeps one `deephealth.serving.InferenceSession` per model and one opened dataset for
its lifetime and reads its batch of samples through the training data path
(`pipelines.stream.StreamingDataset`, i.e. ECVL's `DLDataset`): the same decoding and colour type,
the same deterministic preprocessing text (`AugToFloat32` + `AugResizeDim` to the run's
`input_size`) and the same normalization as training, evaluation and local `deephealth predict`
use; no random augmentation. It runs the batch as one onnxruntime call and writes the predictions
to storage (`OUT/predictions/batch_NNNNNN.npz` with the sample indices and outputs); nothing but a
small record returns to the driver. A summary CSV (`OUT/predictions.csv`: index, location,
predicted class, score) is written at the end for classification models.
"""

from __future__ import annotations

import csv
import io
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.pipelines.batchjobs.runner import RunStats, make_batches, run_batches


@lru_cache(maxsize=4)
def _session(model: str, threads: int):
    from deephealth.serving import InferenceSession

    return InferenceSession(model, threads=threads)


@lru_cache(maxsize=2)
def _reader(dataset: str, settings: str, split: str) -> Any:
    """The dataset opened once per worker with the run's data settings (a JSON text)."""
    from deephealth.pipelines.stream import StreamingDataset

    reader = StreamingDataset(dataset, json.loads(settings), (split,))
    reader.start()
    return reader


def data_settings(model: Path, size: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The data part of a run's config, as training used it: the run folder's `config.json`
    next to `model` (input size, normalization, seed); for a bare `.onnx` file, min-max
    normalization at `size` (or the images' own size), as local `deephealth predict` does.
    The random augmentations and the training cache are left out; one loader thread per task."""
    cfg_path = model.parent / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    input_size = cfg.get("input_size") or (list(size) if size else None)
    return {"input_size": input_size, "normalize": cfg.get("normalize", "minmax"),
            "seed": int(cfg.get("seed", 0)), "loader": {"workers": 1, "queue": 2}}  # fmt: skip


def predict_batch(index: int, batch: list[dict[str, Any]], out_dir: str) -> dict[str, Any]:
    """Task function: predict one batch and write it to `predictions/batch_NNNNNN.npz`."""
    first = batch[0]
    session = _session(first["model"], first["threads"])
    reader = _reader(first["dataset"], first["settings"], first["split"])
    jobs = [(item["index"], 0) for item in batch]
    parts = list(reader.batches(first["split"], len(jobs), jobs=jobs))
    x = np.concatenate([b.x for b in parts])
    y = session.run(np.ascontiguousarray(x, dtype=np.float32))
    y = y[0] if isinstance(y, list) else y
    folder = Path(out_dir) / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"batch_{index:06d}.npz"
    buffer = io.BytesIO()
    indices = [i for b in parts for i in b.indices]
    np.savez(buffer, indices=np.array(indices), outputs=y)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    return {"file": path.name, "n": len(batch)}


def predict_dataset(
    model: str | os.PathLike,
    dataset: str | os.PathLike,
    out_dir: str | os.PathLike,
    workers: int = 2,
    scheduler: str | None = None,
    batch_size: int = 64,
    size: tuple[int, ...] | None = None,
    split: str | None = None,
    threads: int = 1,
    progress: bool = True,
) -> tuple[Path, RunStats]:
    """Predict every sample (or one split) of a dataset; outputs are written per batch.

    Args:
        model: ONNX file (a run's `model.onnx`: its `config.json` gives the preprocessing).
        dataset: DeepHealth dataset YAML.
        out_dir: Output folder; a rerun skips finished batches.
        workers: Local processes (or Dask workers with `scheduler="local"`).
        scheduler: Dask scheduler address, "local", or None for a process pool.
        batch_size: Samples per task (and per onnxruntime call).
        size: A bare `.onnx` file: resize images to (H, W) (a run uses its `input_size`).
        split: Only this split (name), or every sample.
        threads: onnxruntime threads per worker.
        progress: Show a progress bar.

    Returns:
        The folder with the predictions and the run statistics.
    """
    from deephealth.ecvl.dataset import Dataset

    ds = Dataset(dataset)
    model = Path(model).resolve()
    _session(str(model), threads)  # fail early, in the driver, on a bad model file
    indices: list[int] = list(range(len(ds.samples_)))
    name = split
    if split is not None:
        indices = ds.GetSplit(split)
    else:  # every sample, read with the preprocessing of a split that has samples
        name = next((s.split_name_ for s in ds.split_ if s.samples_indices_), "training")
    settings = json.dumps(data_settings(model, size))
    dataset_path = str(Path(dataset).resolve())
    items = [
        {"index": i, "model": str(model), "threads": threads, "dataset": dataset_path,
         "settings": settings, "split": name}
        for i in indices
    ]  # fmt: skip
    out = Path(out_dir)
    stats, records = run_batches(
        predict_batch, make_batches(items, batch_size), out, workers, scheduler, progress, "predict"
    )
    write_summary(out, records, ds)
    return out / "predictions", stats


def write_summary(out: Path, records: list[dict[str, Any]], ds: Any) -> Path:
    """Write `predictions.csv` (index, location, class, score) from the per-batch files."""
    path = out / "predictions.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["index", "location", "predicted", "score"])
        for record in records:
            data = np.load(out / "predictions" / record["file"])
            for i, y in zip(data["indices"], data["outputs"]):
                flat = np.asarray(y).reshape(-1) if np.asarray(y).ndim == 1 else None
                if flat is None:
                    writer.writerow([int(i), ds.samples_[int(i)].location_[0], "", ""])
                    continue
                k = int(np.argmax(flat))
                name = ds.classes_[k] if k < len(ds.classes_) else str(k)
                writer.writerow([int(i), ds.samples_[int(i)].location_[0], name, f"{flat[k]:.6f}"])
    return path
