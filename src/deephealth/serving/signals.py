"""Serving a signal model: a recording in, detected events out (onnxruntime only, no torch).

A signal model is an ONNX window classifier with a sidecar ``<model>.signal.json`` (written by
the signal pipeline) holding the window spec (length, step, rate, channels, filters,
normalisation), the class names and the event rule (threshold, smoothing, minimum duration,
merge gap). ``predict_recording`` streams the recording's windows (bounded memory), runs the
model, and turns the event-class probabilities into events with
:func:`deephealth.ecvl.signal.windows.windows_to_events`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.serving.session import InferenceSession, ServingError

METADATA_KEY = "deephealth.signal"


@dataclasses.dataclass
class SignalModelInfo:
    """What a served signal model needs besides its ONNX file.

    Attributes:
        window: WindowSpec fields (length, step, classes, fs, channels, bandpass, notch, ...).
        events: windows_to_events arguments (threshold, smooth, min_duration, merge_gap).
    """

    window: dict[str, Any]
    events: dict[str, Any]

    @property
    def classes(self) -> list[str]:
        """Class names, background first."""
        return list(self.window.get("classes", ()))


def signal_sidecar(model_path: str | os.PathLike) -> Path:
    """``model.onnx`` → ``model.signal.json``."""
    p = Path(model_path)
    return p.with_name(p.stem + ".signal.json")


def save_signal_info(model_path: str | os.PathLike, info: SignalModelInfo) -> Path:
    """Write the sidecar beside the model and the same JSON into the ONNX file's metadata."""
    import onnx  # the writer side only (pipelines); serving reads through onnxruntime

    text = json.dumps(dataclasses.asdict(info), indent=2)
    model = onnx.load(os.fspath(model_path))
    props = {p.key: p.value for p in model.metadata_props}
    props[METADATA_KEY] = text
    del model.metadata_props[:]
    for k, v in props.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, os.fspath(model_path))
    path = signal_sidecar(model_path)
    path.write_text(text, encoding="utf-8")
    return path


def load_signal_info(
    model_path: str | os.PathLike, metadata: dict[str, str] | None = None
) -> SignalModelInfo:
    """The sidecar, else the ONNX metadata entry ``deephealth.signal`` (so a model uploaded alone,
    e.g. to the web server, still carries it).

    Raises:
        ServingError: Neither holds a valid signal model description (names the file).
    """
    path = signal_sidecar(model_path)
    try:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
        elif metadata and METADATA_KEY in metadata:
            text = metadata[METADATA_KEY]
        else:
            raise ServingError(
                f"{model_path}: not a signal model (no {path.name} and no '{METADATA_KEY}' metadata)"
            )
        d = json.loads(text)
        return SignalModelInfo(dict(d["window"]), dict(d["events"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ServingError(f"{path}: not a signal model description ({e})") from None


def is_signal_session(session: InferenceSession) -> bool:
    """Whether a loaded model carries a signal description (sidecar or ONNX metadata)."""
    meta = session._session.get_modelmeta().custom_metadata_map
    return signal_sidecar(session.path).is_file() or METADATA_KEY in meta


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
    events = []
    for c in range(1, len(info.classes)):
        for a, b, p in windows_to_events(probs[:, c], ds.start, ds.spec.length, **info.events):
            events.append({"onset": round(a, 3), "end": round(b, 3), "duration": round(b - a, 3),
                           "label": info.classes[c], "score": round(p, 4)})  # fmt: skip
    events.sort(key=lambda e: e["onset"])
    return {"events": events, "duration": ds.durations[0], "windows": len(ds), "classes": info.classes,
            "starts": ds.start.tolist(), "scores": probs.round(4).tolist()}  # fmt: skip
