"""Serving: run ONNX models with onnxruntime only (no torch), for pipelines and the web server.

`InferenceSession(path, device="cpu", threads=None).run(batch)` runs a model exported by
`deephealth.eddl` (or any ONNX file) on numpy arrays, with the preprocessing stored beside the
model. Importing this package loads numpy and onnxruntime and nothing of `deephealth.eddl`.
"""

from deephealth.serving.preprocessing import (
    Preprocessing,
    PreprocessingError,
    load_preprocessing,
    save_preprocessing,
    sidecar_path,
)
from deephealth.serving.session import InferenceSession, ServingError, providers_for

__all__ = [
    "InferenceSession",
    "Preprocessing",
    "PreprocessingError",
    "ServingError",
    "load_preprocessing",
    "providers_for",
    "save_preprocessing",
    "sidecar_path",
]
