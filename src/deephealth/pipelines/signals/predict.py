"""A served signal model applied to a whole recording: windows in, detected events out.

Reads the recording and cuts its windows with ECVL's signal wing, runs them through the model in
onnxruntime (`deephealth.serving.InferenceSession`) and merges the windows' decisions into events.
Used by `deephealth signal predict` and the REST endpoint for recordings; `predict_split` does
the same for every recording of a dataset split and scores the detections against the split's
annotations (the server's inference jobs).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deephealth.serving.session import InferenceSession
from deephealth.serving.signals import SignalModelInfo, load_signal_info


def window_spec(info: SignalModelInfo, step: float | None = None) -> Any:
    """The ``WindowSpec`` of a served model (``step`` overrides the prediction step)."""
    from deephealth.ecvl.signal.windows_dataset import WindowSpec

    w = dict(info.window)
    for k in ("classes", "channels", "bandpass"):
        if w.get(k) is not None:
            w[k] = tuple(w[k])
    if step is not None:
        w["step"] = step
    w["step"] = w.pop("predict_step", None) or w.get("step")
    return WindowSpec(**w)


def predict_recording(
    model_path: str | os.PathLike,
    recording: Any,
    batch_size: int = 256,
    session: InferenceSession | None = None,
) -> dict[str, Any]:
    """Detected events of a recording (a path, or a dataset ``Recording`` whose annotations then
    label the windows).

    Returns:
        ``{"events": [{"onset", "end", "duration", "label", "score"}], "duration", "windows",
        "classes", "starts", "scores", "labels", "annotations"}`` (``scores``: per window,
        probability of each class; ``labels``: per window, its class from the annotations;
        ``annotations``: the recording's own and the dataset's).

    Raises:
        ServingError: Missing sidecar. SignalReadError: unreadable recording (names the file).
    """
    from deephealth.ecvl.signal.windows import windows_to_events
    from deephealth.ecvl.signal.windows_dataset import WindowsDataset

    sess = session or InferenceSession(model_path)
    info = load_signal_info(model_path, sess._session.get_modelmeta().custom_metadata_map)
    source = recording if hasattr(recording, "location") else os.fspath(recording)
    ds = WindowsDataset([source], window_spec(info))
    try:
        probs = np.zeros((len(ds), len(info.classes)), np.float32)
        for x, _, idx in ds.sequential(batch_size):
            probs[idx] = np.asarray(sess.run(x)).reshape(len(idx), -1)
    finally:
        ds.close()
    events: list[dict[str, Any]] = []
    for c in range(1, len(info.classes)):
        for a, b, p in windows_to_events(probs[:, c], ds.start, ds.spec.length, **info.events):
            events.append({"onset": round(a, 3), "end": round(b, 3), "duration": round(b - a, 3),
                           "label": info.classes[c], "score": round(p, 4)})  # fmt: skip
    events.sort(key=lambda e: e["onset"])
    return {"events": events, "duration": ds.durations[0], "windows": len(ds), "classes": info.classes,
            "starts": ds.start.tolist(), "scores": probs.round(4).tolist(),
            "labels": ds.labels.astype(int).tolist(), "annotations": ds.events[0]}  # fmt: skip


def predict_split(
    model_path: str | os.PathLike,
    recordings: Sequence[Any],
    tolerance: float = 0.0,
    on_recording: Callable[[int, dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    session: InferenceSession | None = None,
) -> dict[str, Any]:
    """Events of every recording of a split (:func:`predict_recording` each) and their scores.

    The metrics are those of the pipeline's KPI report: window accuracy, sensitivity,
    specificity and AUC (:func:`deephealth.pipelines.metrics.classification_metrics`) and per
    event class the any-overlap event metrics (:func:`~deephealth.pipelines.signals.events.
    split_event_metrics`: event sensitivity, false alarms per 24 h, latency).

    Args:
        model_path: The signal model (ONNX with its window spec).
        recordings: Dataset ``Recording`` rows (or paths: then only the file's own annotations).
        tolerance: Seconds around a true event a detection may fall.
        on_recording: Called with ``(k, result)`` after recording ``k``.
        should_stop: Polled before each recording; True ends the split early (scored so far).

    Returns:
        ``{"recordings": [predict_recording result per recording], "metrics": {...}}``.
    """
    from deephealth.pipelines import metrics
    from deephealth.pipelines.signals.events import split_event_metrics

    sess = session or InferenceSession(model_path)
    results: list[dict[str, Any]] = []
    for k, rec in enumerate(recordings):
        if should_stop is not None and should_stop():
            break
        results.append(predict_recording(model_path, rec, session=sess))
        if on_recording is not None:
            on_recording(k, results[-1])
    if not results:
        return {"recordings": [], "metrics": {"recordings": 0}}
    classes = results[0]["classes"]
    y = np.concatenate([np.asarray(r["labels"], int) for r in results])
    probs = np.concatenate(
        [np.asarray(r["scores"], np.float64).reshape(-1, len(classes)) for r in results]
    )
    window = metrics.classification_metrics(y, probs, len(classes), class_names=list(classes))
    dets = [[(e["onset"], e["end"], e["score"], e["label"]) for e in r["events"]] for r in results]
    hours = sum(r["duration"] for r in results) / 3600
    out: dict[str, Any] = {
        "recordings": len(results), "windows": int(len(y)), "hours": hours,
        **{k: window[k] for k in ("accuracy", "sensitivity", "specificity", "roc_auc")},
        "confusion_matrix": window["confusion_matrix"],
        **split_event_metrics([r["annotations"] for r in results], dets, classes, hours, tolerance),
    }  # fmt: skip
    return {"recordings": results, "metrics": out}
