"""`deephealth predict` at dataset scale: run an ONNX model over a dataset with onnxruntime.

Each worker keeps one `deephealth.serving.InferenceSession` per model for its lifetime, reads its
batch of samples, runs it as one onnxruntime batch and writes the predictions to storage
(`OUT/predictions/batch_NNNNNN.npz` with the sample indices and outputs); nothing but a small record
returns to the driver. A summary CSV (`OUT/predictions.csv`: index, location, predicted class,
score) is written at the end for classification models.
"""

from __future__ import annotations

import csv
import io
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


def _to_input(arr: np.ndarray, size: tuple[int, ...] | None) -> np.ndarray:
    """Canonical (H, W, C) / (D, H, W, C) array → channels-first float32, resized if asked."""
    import cv2

    if size is not None and arr.ndim == 3 and tuple(arr.shape[:2]) != tuple(size):
        arr = cv2.resize(arr, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        arr = arr[..., None] if arr.ndim == 2 else arr
    arr = np.moveaxis(arr, -1, 0).astype(np.float32)
    return arr


def predict_batch(index: int, batch: list[dict[str, Any]], out_dir: str) -> dict[str, Any]:
    """Task function: predict one batch and write it to `predictions/batch_NNNNNN.npz`."""
    from deephealth.ecvl.dataset.model import Sample
    from deephealth.ecvl.dataset.reader import read_sample_array

    first = batch[0]
    session = _session(first["model"], first["threads"])
    x = np.stack(
        [
            _to_input(
                read_sample_array(
                    Sample(location_=item["location"]), item["ctype"], index=item["index"]
                ),
                item["size"],
            )
            * item["scale"]
            for item in batch
        ]
    )
    y = session.run(x)
    y = y[0] if isinstance(y, list) else y
    folder = Path(out_dir) / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"batch_{index:06d}.npz"
    buffer = io.BytesIO()
    np.savez(buffer, indices=np.array([item["index"] for item in batch]), outputs=y)
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
    ctype: str = "none",
    size: tuple[int, ...] | None = None,
    scale: float = 1.0,
    split: str | None = None,
    threads: int = 1,
    progress: bool = True,
) -> tuple[Path, RunStats]:
    """Predict every sample (or one split) of a dataset; outputs are written per batch.

    Args:
        model: ONNX file.
        dataset: DeepHealth dataset YAML.
        out_dir: Output folder; a rerun skips finished batches.
        workers: Local processes (or Dask workers with `scheduler="local"`).
        scheduler: Dask scheduler address, "local", or None for a process pool.
        batch_size: Samples per task (and per onnxruntime call).
        ctype: Colour type to read images as.
        size: Resize 2D images to (H, W) before inference.
        scale: Factor applied to pixel values (e.g. 1/255).
        split: Only this split (name), or every sample.
        threads: onnxruntime threads per worker.
        progress: Show a progress bar.

    Returns:
        The folder with the predictions and the run statistics.
    """
    from deephealth.ecvl.dataset import Dataset

    ds = Dataset(dataset)
    indices = range(len(ds.samples_))
    if split is not None:
        indices = ds.GetSplit(split)
    model = str(Path(model).resolve())
    _session(model, threads)  # fail early, in the driver, on a bad model file
    items = [
        {
            "index": i,
            "location": list(ds.samples_[i].location_),
            "model": model,
            "threads": threads,
            "ctype": ctype,
            "size": tuple(size) if size else None,
            "scale": scale,
        }
        for i in indices
    ]
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
