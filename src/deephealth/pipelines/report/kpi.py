"""The KPI record of a run, as DeepHealth's use cases were judged.

`build_kpis` gathers, for every run and every task, the same keys (`KPI_KEYS`): the times
(time-of-pre-processing-images, time-to-train-models, time-to-model-in-production = from the raw
dataset to an ONNX model that passed its onnxruntime check), the quality figures on the test split
(error rate, accuracy, sensitivity, specificity; Dice and IoU for segmentation, pixel-wise for the
others; mAP@0.5 and the FROC's competition performance metric for detection), and speedup/efficiency of parallelism (None unless the run was parallel). A key that does
not apply to a task holds None, so a reader never has to guess whether it was forgotten.
`write_report` stores the whole report (KPIs, metrics, history, ONNX check, machine) as JSON.
"""

from __future__ import annotations

import json
import math
import os
import platform
from pathlib import Path
from typing import Any

REPORT_FORMAT = "deephealth-kpi-report/1"
KPI_KEYS = (
    "time_of_pre_processing_images_s",
    "time_to_train_models_s",
    "time_to_model_in_production_s",
    "error_rate",
    "accuracy",
    "sensitivity",
    "specificity",
    "dice",
    "iou",
    "map50",
    "cpm",
    "speedup",
    "efficiency",
)


def speedup_efficiency(
    serial_s: float | None, parallel_s: float | None, workers: int
) -> tuple[float | None, float | None]:
    """Speedup T1/Tp and efficiency speedup/p of a parallel run (None when not measurable).

    Args:
        serial_s: Time of the same work on one worker.
        parallel_s: Time on `workers` workers.
        workers: Number of workers (devices or processes).
    """
    if not serial_s or not parallel_s or workers < 1:
        return None, None
    speedup = serial_s / parallel_s
    return speedup, speedup / workers


def build_kpis(
    task: str,
    times: dict[str, float | None],
    test_metrics: dict[str, Any],
    parallel: dict[str, Any] | None = None,
) -> dict[str, float | None]:
    """The KPI dict with every key of `KPI_KEYS`.

    Args:
        task: The pipeline task.
        times: `pre_processing_s`, `train_s`, `production_s` (None when the ONNX check failed).
        test_metrics: Metrics of the exported model on the test split (for segmentation, the
            pixel-wise classification figures are under `pixel`).
        parallel: `{"workers": n, "serial_s": t1, "parallel_s": tp}` for a parallel run.
    """
    quality = test_metrics.get("pixel", test_metrics) if task == "segmentation" else test_metrics
    kpis: dict[str, float | None] = {
        "time_of_pre_processing_images_s": times.get("pre_processing_s"),
        "time_to_train_models_s": times.get("train_s"),
        "time_to_model_in_production_s": times.get("production_s"),
    }
    for key in ("error_rate", "accuracy", "sensitivity", "specificity"):
        kpis[key] = quality.get(key) if task not in ("regression", "detection") else None
    for key in ("dice", "iou"):
        kpis[key] = test_metrics.get(key) if task == "segmentation" else None
    for key in ("map50", "cpm"):
        kpis[key] = test_metrics.get(key) if task == "detection" else None
    speedup = efficiency = None
    if parallel and parallel.get("workers", 1) > 1:
        speedup, efficiency = speedup_efficiency(
            parallel.get("serial_s"), parallel.get("parallel_s"), int(parallel["workers"])
        )
    kpis["speedup"], kpis["efficiency"] = speedup, efficiency
    return {k: _clean(kpis[k]) for k in KPI_KEYS}


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def machine() -> dict[str, Any]:
    """The machine the run used (for comparing KPIs across runs)."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "threads": os.environ.get("OMP_NUM_THREADS"),
    }


def write_report(path: str | Path, report: dict[str, Any]) -> Path:
    """Write a report dict as JSON (non-finite numbers become null). Returns the path."""
    path = Path(path)
    data = _clean({"format": REPORT_FORMAT, **report})
    path.write_text(json.dumps(data, indent=2))
    return path


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a report JSON (a file, or a run folder holding `report.json`).

    Raises:
        FileNotFoundError: when there is no report.
        ValueError: when the file is not a deephealth KPI report.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise FileNotFoundError(f"no KPI report at {path}")
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise ValueError(f"{path} is not a deephealth KPI report")
    return data
