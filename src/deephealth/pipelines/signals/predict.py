"""A served signal model applied to a whole recording: windows in, detected events out.

Reads the recording and cuts its windows with ECVL's signal wing, runs them through the model in
onnxruntime (`deephealth.serving.InferenceSession`) and merges the windows' decisions into events.
Used by `deephealth signal predict` and the REST endpoint for recordings.
"""

from __future__ import annotations

import os
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
    recording: str | os.PathLike,
    batch_size: int = 256,
    session: InferenceSession | None = None,
) -> dict[str, Any]:
    """Detected events of a recording.

    Returns:
        ``{"events": [{"onset", "end", "duration", "label", "score"}], "duration", "windows",
        "classes", "starts", "scores"}`` (``scores``: per window, probability of each class).

    Raises:
        ServingError: Missing sidecar. SignalReadError: unreadable recording (names the file).
    """
    from deephealth.ecvl.signal.windows import windows_to_events
    from deephealth.ecvl.signal.windows_dataset import WindowsDataset

    sess = session or InferenceSession(model_path)
    info = load_signal_info(model_path, sess._session.get_modelmeta().custom_metadata_map)
    ds = WindowsDataset([os.fspath(recording)], window_spec(info))
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
            "starts": ds.start.tolist(), "scores": probs.round(4).tolist()}  # fmt: skip
