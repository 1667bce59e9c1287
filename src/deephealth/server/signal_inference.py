"""Inference on recordings: ``POST /api/v1/predict/{id}`` with an EDF/BDF body and a signal model
answers the detected events (the model's window spec travels in its ONNX metadata), and an
inference job over a split of a recordings dataset stores every recording's events and the
split's metrics (``run_split_job``)."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EDF_MAGIC = (b"0       ", b"\xffBIOSEMI")
HEADLINE = ("event_sensitivity", "false_alarms_per_24h", "accuracy", "roc_auc")


def is_recording(data: bytes) -> bool:
    """Whether the request body is an EDF/EDF+/BDF recording."""
    return data[:8] in EDF_MAGIC


def predict_recording_bytes(weights_path: str | Path, data: bytes, scratch: Path) -> dict:
    """Events of a recording given as bytes (written to a private file, removed at once).

    Raises:
        ValueError: The model is no signal model or the recording cannot be read (the message
            says which).
    """
    suffix = ".bdf" if data[:1] == b"\xff" else ".edf"
    tmp = scratch / f"deephealth-predict-{secrets.token_hex(8)}{suffix}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return predict_recording_file(weights_path, tmp)
    finally:
        tmp.unlink(missing_ok=True)


def predict_recording_file(weights_path: str | Path, path: Path) -> dict:
    """Events of a recording file (the answer of the REST endpoint).

    Raises:
        ValueError: The model is no signal model or the recording cannot be read (the message
            says which, without the server path).
    """
    from deephealth.ecvl.errors import EcvlError
    from deephealth.pipelines.signals.predict import predict_recording
    from deephealth.serving import InferenceSession, ServingError
    from deephealth.serving.signals import is_signal_session

    sess = InferenceSession(weights_path)
    if not is_signal_session(sess):
        raise ValueError("this model is not a signal model; send an image")
    try:
        r = predict_recording(weights_path, path, session=sess)
    except (EcvlError, ServingError) as e:
        raise ValueError(str(e).replace(str(path), "the recording")) from None
    return {"task": "signal_classification", "events": r["events"], "duration_s": r["duration"],
            "windows": r["windows"], "classes": r["classes"]}  # fmt: skip


def run_split_job(
    cfg: dict[str, Any],
    run_dir: Path,
    on_event: Callable[[dict[str, Any]], None],
    should_stop: Callable[[], bool],
) -> dict[str, Any]:
    """An inference job over a split of a recordings dataset (``POST /api/projects/{p}/
    inferences``): every recording through the signal model in onnxruntime
    (:func:`deephealth.pipelines.signals.predict.predict_split`), one ``batch`` event per
    recording, then ``run_dir/predictions.json``: per recording (its dataset index) the detected
    events (onset, end, duration, label, score) and the true annotations, and the split's window
    and event metrics as the KPI report computes them.

    Raises:
        ValueError: The model is no signal model (the job fails with this message).
    """
    from deephealth.pipelines.signals.events import unique_events
    from deephealth.pipelines.signals.predict import predict_split
    from deephealth.server import recordings as rsvc
    from deephealth.serving import InferenceSession
    from deephealth.serving.signals import is_signal_session

    yaml_path = Path(cfg["dataset"])
    rds = rsvc.load(yaml_path)
    indices = [k for k, r in enumerate(rds.recordings) if r.split == cfg["split"]]
    sess = InferenceSession(cfg["weights"])
    if not is_signal_session(sess):
        raise ValueError("these weights are not a signal model; a recordings dataset needs one")
    start = time.monotonic()

    def progress(k: int, _: dict[str, Any]) -> None:
        on_event({"type": "batch", "batch": k + 1, "time": time.monotonic() - start,
                  "metrics": {"done": k + 1, "total": len(indices)}})  # fmt: skip

    out = predict_split(cfg["weights"], [rds.recordings[k] for k in indices],
                        float(cfg.get("tolerance", 0.0)), progress, should_stop, sess)  # fmt: skip
    rows = [
        {"index": k, "name": rsvc._rel(rds.recordings[k].location, yaml_path.parent),
         "duration_s": r["duration"], "windows": r["windows"], "events": r["events"],
         "annotations": [{"onset": a, "duration": round(b - a, 3), "label": lab}
                         for a, b, lab in unique_events(r["annotations"])]}
        for k, r in zip(indices, out["recordings"])
    ]  # fmt: skip
    classes = list(out["recordings"][0]["classes"]) if out["recordings"] else []
    summary = {"split": cfg["split"], "samples": len(rows), "classes": classes, **out["metrics"]}
    path = run_dir / "predictions.json"
    path.write_text(json.dumps({"summary": summary, "predictions": rows}, indent=1))
    headline = {k: summary.get(k) for k in HEADLINE if summary.get(k) is not None}
    on_event({"type": "epoch", "epoch": 1, "metrics": headline, "time": time.monotonic() - start})
    return {"predictions": str(path), "metrics": summary}
