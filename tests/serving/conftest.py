"""Small ONNX models written with onnx.helper for the serving tests (no torch involved)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


def _save(graph: onnx.GraphProto, path: Path, metadata: dict[str, str] | None = None) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return path


def classifier_graph(seed: int = 0) -> onnx.GraphProto:
    """x (N, 3, 4, 4) -> softmax(flatten(x) @ W + b), 5 classes."""
    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.standard_normal((48, 5)).astype(np.float32) * 0.1, "W")
    b = numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "b")
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"]),
        helper.make_node("Gemm", ["f", "W", "b"], ["z"]),
        helper.make_node("Softmax", ["z"], ["y"], axis=-1),
    ]
    return helper.make_graph(
        nodes,
        "classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
        [w, b],
    )


@pytest.fixture
def classifier(tmp_path: Path) -> Path:
    """A 5-class classifier of (3, 4, 4) inputs, without stored preprocessing."""
    return _save(classifier_graph(), tmp_path / "classifier.onnx")


@pytest.fixture
def two_in_two_out(tmp_path: Path) -> Path:
    """a, b (N, 3) -> sum = a + b, prod = a * b."""
    nodes = [
        helper.make_node("Add", ["a", "b"], ["sum"]),
        helper.make_node("Mul", ["a", "b"], ["prod"]),
    ]
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes,
        "two",
        [vi("a", TensorProto.FLOAT, ["N", 3]), vi("b", TensorProto.FLOAT, ["N", 3])],
        [vi("sum", TensorProto.FLOAT, ["N", 3]), vi("prod", TensorProto.FLOAT, ["N", 3])],
    )
    return _save(graph, tmp_path / "two.onnx")


@pytest.fixture
def save_classifier(tmp_path: Path):
    """Factory: save the classifier with the given ONNX metadata under `name`."""

    def make(name: str, metadata: dict[str, str]) -> Path:
        return _save(classifier_graph(), tmp_path / name, metadata)

    return make
