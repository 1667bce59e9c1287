"""Inference over one split of a dataset, run as a job by a worker.

Each sample goes through the same code as the REST endpoint (`deephealth.server.inference`);
predictions are written to `run_dir/predictions.json`, progress is reported as batch events, and
when the samples carry labels (classes or masks) the metrics from `deephealth.pipelines.metrics`
(accuracy, or mean Dice) are part of the result. A signal model on a recordings dataset goes
through `deephealth.server.signal_inference.run_split_job` (events per recording, event metrics).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from deephealth.server.db.models import Job


def run_split_inference(
    sessions: sessionmaker[Session],
    job_id: int,
    run_dir: Path,
    on_event: Callable[[dict], None],
    should_stop: Callable[[], bool],
) -> dict:
    """Predict every sample of the job's split; returns the result dict (paths and metrics)."""
    from deephealth.ecvl import ImRead
    from deephealth.pipelines import metrics
    from deephealth.pipelines.tabular import dataset_rows
    from deephealth.pipelines.tasks.clinical import load_fitted_state
    from deephealth.server import datasets as dsvc
    from deephealth.server.imaging import image_dhwc
    from deephealth.server.inference import predict_file, session_for

    with sessions() as db:
        cfg = dict(db.get(Job, job_id).config)
    if cfg["task"] == "signal_classification":  # recordings: events per recording
        from deephealth.server.signal_inference import run_split_job

        return run_split_job(cfg, run_dir, on_event, should_stop)
    ds = dsvc.load(Path(cfg["dataset"]))
    base = Path(cfg["dataset"]).parent
    indices = list(ds.GetSplit(cfg["split"]))
    task = cfg["task"]
    state = load_fitted_state(cfg["weights"], session_for(cfg["weights"]).metadata)
    start = time.monotonic()
    rows, y_true, y_pred, dices = [], [], [], []
    for n, i in enumerate(indices):
        if should_stop():
            break
        image, mask_path, labels = dsvc.sample_files(ds, base, i)
        values = dataset_rows(ds, [i])[0] if state is not None else None
        result, _ = predict_file(cfg["weights"], image, task, features=values, sample=True)
        row = {"index": i, "labels": labels}
        if "report" in result:  # a packed report generator, whatever the project's task
            row.update(report=result["report"], findings=result["findings"])
        elif state is not None:  # image + clinical values: the sample's own values
            row.update({k: v for k, v in result.items() if k != "task"})
        elif task == "classification":
            row.update(label=result["label"], probabilities=result["probabilities"])
            if labels:
                y_true.append(labels[0])
                y_pred.append(result["label"])
        elif task == "segmentation":
            row["foreground_fraction"] = result["foreground_fraction"]
            if mask_path is not None and "volume_mask" in result:  # 3D: the whole volume
                truth = image_dhwc(ImRead(str(mask_path)))[..., 0] > 0
                dices.append(metrics.dice(result["volume_mask"] > 0, truth))
                row["dice"] = dices[-1]
            elif mask_path is not None:
                truth = np.asarray(ImRead(str(mask_path)).data)
                truth = truth.reshape(truth.shape[0], truth.shape[1], -1)[..., 0].T > 0
                dices.append(metrics.dice(result["mask"] > 0, truth))
                row["dice"] = dices[-1]
        elif "boxes" in result:  # detection: the boxes (3D: voxels and mm) with their scores
            keys = ("boxes", "boxes_mm", "scores", "labels", "count")
            row.update({k: result[k] for k in keys if k in result})
        else:
            row["values"] = result["values"]
        rows.append(row)
        on_event(
            {
                "type": "batch",
                "batch": n + 1,
                "time": time.monotonic() - start,
                "metrics": {"done": n + 1, "total": len(indices)},
            }
        )
    summary: dict = {"samples": len(rows), "split": cfg["split"]}
    if y_true:
        summary["accuracy"] = float(np.mean([a == b for a, b in zip(y_true, y_pred)]))
    if dices:
        summary["dice"] = float(np.mean(dices))
    out = run_dir / "predictions.json"
    out.write_text(json.dumps({"summary": summary, "predictions": rows}, indent=1))
    on_event({"type": "epoch", "epoch": 1, "metrics": summary, "time": time.monotonic() - start})
    return {"predictions": str(out), "metrics": summary}
