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
