"""REST inference on recordings: ``POST /api/v1/predict/{id}`` with an EDF/BDF body and a signal
model answers the detected events (the model's window spec travels in its ONNX metadata)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

EDF_MAGIC = (b"0       ", b"\xffBIOSEMI")


def is_recording(data: bytes) -> bool:
    """Whether the request body is an EDF/EDF+/BDF recording."""
    return data[:8] in EDF_MAGIC


def predict_recording_bytes(weights_path: str | Path, data: bytes, scratch: Path) -> dict:
    """Events of a recording given as bytes (written to a private file, removed at once).

    Raises:
        ValueError: The model is no signal model or the recording cannot be read (the message
            says which).
    """
    from deephealth.ecvl.errors import EcvlError
    from deephealth.pipelines.signals.predict import predict_recording
    from deephealth.serving import InferenceSession, ServingError
    from deephealth.serving.signals import is_signal_session

    sess = InferenceSession(weights_path)
    if not is_signal_session(sess):
        raise ValueError("this model is not a signal model; send an image")
    suffix = ".bdf" if data[:1] == b"\xff" else ".edf"
    tmp = scratch / f"deephealth-predict-{secrets.token_hex(8)}{suffix}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            r = predict_recording(weights_path, tmp, session=sess)
        except (EcvlError, ServingError) as e:
            raise ValueError(str(e).replace(str(tmp), "the recording")) from None
    finally:
        tmp.unlink(missing_ok=True)
    return {"task": "signal_classification", "events": r["events"], "duration_s": r["duration"],
            "windows": r["windows"], "classes": r["classes"]}  # fmt: skip
