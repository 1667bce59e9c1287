"""Reference ONNX patch models with known behaviour: nearest-colour classifier and segmenter.

Small exact models written directly with ``onnx.helper``, for tests, benchmarks and demos of
slide inference without a trained network: the classifier averages a tile's RGB (``[0, 1]``)
and scores each class by its closeness to a prototype colour (``-s * |mean - p_k|^2``, linear
in the mean, hence ``ReduceMean → Gemm → Softmax``); the segmenter does the same per pixel after
average pooling (``AveragePool → Conv 1x1 → Softmax``). A region painted in a class's colour must
come back as that class.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np


def _prototype_weights(prototypes: np.ndarray, sharpness: float) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(prototypes, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"prototypes must be (classes, 3) RGB in [0, 1], got {p.shape}")
    return (2.0 * sharpness * p).astype(np.float32), (-sharpness * (p**2).sum(axis=1)).astype(
        np.float32
    )


def _save(model: object, path: str | os.PathLike[str]) -> str:
    import onnx

    onnx.checker.check_model(model)
    onnx.save(model, os.fspath(path))
    return os.fspath(path)


def prototype_classifier(
    path: str | os.PathLike[str], prototypes: Sequence[Sequence[float]], sharpness: float = 50.0
) -> str:
    """Write a nearest-prototype-colour tile classifier: ``(N, 3, H, W) → (N, C)`` probabilities.

    Args:
        path: output ``.onnx``.
        prototypes: ``(C, 3)`` RGB colours in ``[0, 1]``, one per class.
        sharpness: scale of the squared-distance logits.

    Returns:
        The path written.
    """
    from onnx import TensorProto, helper, numpy_helper

    w, b = _prototype_weights(np.asarray(prototypes), sharpness)
    c = w.shape[0]
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["x", "axes"], ["m4"], keepdims=0),
            helper.make_node("Gemm", ["m4", "W", "B"], ["logits"], transB=1),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        ],
        "prototype_classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", c])],
        initializer=[
            numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes"),
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(b, "B"),
        ],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)


def prototype_segmenter(
    path: str | os.PathLike[str],
    prototypes: Sequence[Sequence[float]],
    sharpness: float = 50.0,
    pool: int = 4,
) -> str:
    """Write a nearest-prototype-colour segmenter: ``(N, 3, H, W) → (N, C, H/pool, W/pool)``.

    Args:
        path: output ``.onnx``.
        prototypes: ``(C, 3)`` RGB colours in ``[0, 1]``.
        sharpness: scale of the squared-distance logits.
        pool: average-pooling factor (output pixels per side = input / pool).

    Returns:
        The path written.
    """
    from onnx import TensorProto, helper, numpy_helper

    w, b = _prototype_weights(np.asarray(prototypes), sharpness)
    c = w.shape[0]
    graph = helper.make_graph(
        [
            helper.make_node(
                "AveragePool", ["x"], ["pooled"], kernel_shape=[pool, pool], strides=[pool, pool]
            ),
            helper.make_node("Conv", ["pooled", "W", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        ],
        "prototype_segmenter",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", c, "h", "w"])],
        initializer=[
            numpy_helper.from_array(w.reshape(c, 3, 1, 1), "W"),
            numpy_helper.from_array(b, "B"),
        ],
    )
    return _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
