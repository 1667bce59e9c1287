"""Tiny ONNX files that describe huge tensors (issue #13) are refused before anything is allocated.

The 105-byte `ConstantOfShape([20000, 20000])` + `Add` of the issue folded to 1.6 GB; now shape
inference sizes every folded output first and the import fails with an error naming the node.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from deephealth.eddl import import_net_from_onnx_file, import_net_from_onnx_string
from deephealth.eddl.onnx import limits
from deephealth.eddl.onnx.errors import OnnxImportError


def _model(nodes, inits, n_in=4) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def constant_of_shape_bomb(n: int = 20000) -> onnx.ModelProto:
    """The model of the issue: zeros of shape (n, n) added to the input."""
    shape = helper.make_tensor("s", TensorProto.INT64, [2], [n, n])
    nodes = [
        helper.make_node("ConstantOfShape", ["s"], ["c"], name="zeros"),
        helper.make_node("Add", ["x", "c"], ["y"], name="add"),
    ]
    return _model(nodes, [shape], n_in=n)


def _i64(name: str, *values: int) -> onnx.TensorProto:
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))


BOMBS = {
    "ConstantOfShape": constant_of_shape_bomb(),
    "Tile": _model(
        [helper.make_node("Tile", ["w", "r"], ["t"], name="tile"),
         helper.make_node("Add", ["x", "t"], ["y"], name="add")],
        [helper.make_tensor("w", TensorProto.FLOAT, [1, 4], [1, 2, 3, 4]), _i64("r", 30000, 30000)],
    ),
    "Range": _model(
        [helper.make_node("Range", ["a", "b", "d"], ["t"], name="range"),
         helper.make_node("Add", ["x", "t"], ["y"], name="add")],
        [helper.make_tensor("a", TensorProto.INT64, [], [0]),
         helper.make_tensor("b", TensorProto.INT64, [], [10**9]),
         helper.make_tensor("d", TensorProto.INT64, [], [1])],
    ),
    "Expand": _model(
        [helper.make_node("Expand", ["w", "r"], ["t"], name="expand"),
         helper.make_node("Add", ["x", "t"], ["y"], name="add")],
        [helper.make_tensor("w", TensorProto.FLOAT, [1, 1], [1]), _i64("r", 100000, 100000)],
    ),
}  # fmt: skip


@pytest.mark.parametrize("op", sorted(BOMBS))
def test_bombs_refused_before_allocating(op, tmp_path, peak_rss):
    path = tmp_path / f"{op}.onnx"
    data = BOMBS[op].SerializeToString()
    assert len(data) < 400
    path.write_bytes(data)
    with pytest.raises(limits.TensorLimitError) as info:
        import_net_from_onnx_file(str(path))
    grown_mb = peak_rss.growth_mb()
    assert grown_mb < 64, f"{op}: peak RSS grew by {grown_mb:.0f} MB"
    msg = str(info.value)
    assert str(path) in msg and f"({op})" in msg and "DEEPHEALTH_ONNX_MAX_TENSOR_BYTES" in msg
    assert isinstance(info.value, OnnxImportError)


def test_issue_model_is_tiny_and_names_the_node():
    data = constant_of_shape_bomb().SerializeToString()
    assert len(data) <= 142
    with pytest.raises(limits.TensorLimitError, match="node 'zeros' \\(ConstantOfShape\\)"):
        import_net_from_onnx_string(data)


def test_bound_is_configurable(monkeypatch):
    small = constant_of_shape_bomb(64).SerializeToString()  # 64 x 64 float32: 16 KiB
    with pytest.raises(OnnxImportError) as info:  # folds, then Add refuses a non-scalar constant
        import_net_from_onnx_string(small)
    assert not isinstance(info.value, limits.TensorLimitError) and "not a scalar" in str(info.value)
    monkeypatch.setattr(limits, "MAX_BYTES", 1024)
    with pytest.raises(limits.TensorLimitError, match="of shape \\[64, 64\\]"):
        import_net_from_onnx_string(small)


def test_ops_that_do_not_grow_are_never_refused(monkeypatch):
    """A fold whose output is no larger than its inputs (a transposed weight) passes any bound."""
    monkeypatch.setattr(limits, "MAX_BYTES", 16)
    w = np.arange(32, dtype=np.float32).reshape(4, 8)
    feeds = {"w": w}
    node = helper.make_node("Transpose", ["w"], ["t"], perm=[1, 0])
    limits.check_node(node, feeds, [helper.make_opsetid("", 17)])
    limits.check_result(node, feeds, [w.T])


def test_tensor_shorter_than_its_dims_is_a_clear_error():
    t = TensorProto()
    t.name, t.data_type = "w", TensorProto.FLOAT
    t.dims.extend([20000, 20000])
    t.raw_data = b"\0\0\0\0"
    m = _model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [t])
    with pytest.raises(OnnxImportError, match="tensor 'w'"):
        import_net_from_onnx_string(m.SerializeToString())


def _seed_graph() -> onnx.ModelProto:
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 2], [0.5] * 8)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"], name="dense"),
        helper.make_node("Concat", ["m", "m"], ["y"], name="concat", axis=1),
    ]
    return _model(nodes, [w])


def test_fuzz_findings_are_import_errors_naming_the_part():
    """Mutated files the reader fuzzer found (scripts/fuzz_readers.py, seed 7): a node without
    outputs (IndexError before), an op type that is not UTF-8 (TypeError sorting the unsupported
    ops), an initializer of element type 127 (protobuf ValueError naming the type)."""
    model = _seed_graph()
    assert import_net_from_onnx_string(model.SerializeToString()) is not None
    no_output = _seed_graph()
    del no_output.graph.node[0].output[:]
    with pytest.raises(OnnxImportError, match=r"node 0 \('dense', op 'MatMul'\) has no output"):
        import_net_from_onnx_string(no_output.SerializeToString())
    data = model.SerializeToString()
    assert data.count(b"Concat") == 1
    with pytest.raises(OnnxImportError, match=r"node 1 \('concat'.*not UTF-8 text"):
        import_net_from_onnx_string(data.replace(b"Concat", b"Conc\xfft"))
    bad_type = _seed_graph()
    bad_type.graph.initializer[0].data_type = 127
    with pytest.raises(OnnxImportError, match="initializer 'w' is unknown type 127"):
        import_net_from_onnx_string(bad_type.SerializeToString())
