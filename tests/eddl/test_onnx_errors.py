"""Bad input to the ONNX wing: every error is clear, names its cause, and returns nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import deephealth.eddl as eddl
from deephealth.eddl.onnx import OnnxExportError, OnnxImportError, UnsupportedOpsError
from deephealth.eddl.onnx.registry import EXPORTERS

N = helper.make_node


def _model(nodes, inits=(), in_type=TensorProto.FLOAT, shape=("N", 4), opset=17) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", in_type, list(shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _dense_net() -> eddl.Model:
    x = eddl.Input([6], name="x")
    return eddl.Model([x], [eddl.Softmax(eddl.Dense(x, 3, name="head"), name="probs")])


def test_every_unsupported_op_is_listed_with_its_nodes() -> None:
    nodes = [
        N("Relu", ["x"], ["a"], name="ok"),
        N("Einsum", ["a"], ["b"], equation="ij->ij", name="e1"),
        N("TopK", ["b", "k"], ["c", "i"], name="top"),
        N("Einsum", ["c"], ["d"], equation="ij->ij", name="e2"),
        N("MyOp", ["d"], ["y"], domain="com.example", name="custom"),
    ]
    model = _model(nodes, [numpy_helper.from_array(np.array([2], np.int64), "k")])
    with pytest.raises(UnsupportedOpsError) as info:
        eddl.import_net_from_onnx_string(model.SerializeToString())
    assert info.value.ops == {
        "Einsum": ["e1", "e2"],
        "TopK": ["top"],
        "com.example.MyOp": ["custom"],
    }
    message = str(info.value)
    assert "3 unsupported ONNX op type(s)" in message and "Einsum (nodes: e1, e2)" in message


@pytest.mark.parametrize(
    "content", [b"", b"this is plain text, not protobuf", b"\x08\x07\x12\x03abc\xff\xff"]
)
def test_non_onnx_bytes(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(OnnxImportError, match="bad.onnx: not (a valid|an) ONNX model"):
        eddl.import_net_from_onnx_file(path)
    with pytest.raises(OnnxImportError, match="<string>"):
        eddl.import_net_from_onnx_string(content)


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "net.onnx"
    eddl.save_net_to_onnx_file(_dense_net(), path)
    data = path.read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(OnnxImportError, match="cut.onnx"):
        eddl.import_net_from_onnx_file(cut)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="absent.onnx"):
        eddl.import_net_from_onnx_file(tmp_path / "absent.onnx")


def test_missing_external_data(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    model = _model([N("MatMul", ["x", "w"], ["y"])], [w])
    path = tmp_path / "ext.onnx"
    onnx.save(model, path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    net = eddl.import_net_from_onnx_file(path)  # with its data present it imports
    assert net.layers[1].kind == "Dense"
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(
        OnnxImportError, match=r"missing external data file\(s\): weights.bin \(tensor 'w'\)"
    ):
        eddl.import_net_from_onnx_file(path)


def test_unsupported_dtypes_are_all_named() -> None:
    s = helper.make_tensor("names", TensorProto.STRING, [1], [b"a"])
    model = _model([N("Relu", ["x"], ["y"])], [s], in_type=TensorProto.INT32)
    with pytest.raises(OnnxImportError, match="input 'x' is INT32; initializer 'names' is STRING"):
        eddl.import_net_from_onnx_string(model.SerializeToString())


def test_impossible_input_shape_own_file(tmp_path: Path) -> None:
    path = tmp_path / "net.onnx"
    eddl.save_net_to_onnx_file(_dense_net(), path)
    with pytest.raises(OnnxImportError, match="net.onnx: .*weight weight has shape"):
        eddl.import_net_from_onnx_file(path, input_shape=[7])
    with pytest.raises(OnnxImportError, match="cannot rebuild the network.*positive"):
        eddl.import_net_from_onnx_file(path, input_shape=[0])


def test_impossible_input_shape_foreign() -> None:
    w = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "w")
    data = _model([N("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], [w], shape=("N", 3, 8, 8))
    data = data.SerializeToString()
    assert eddl.import_net_from_onnx_string(data, input_shape=[3, 5, 5]).outputs[
        0
    ].output_shape == (2, 5, 5)
    with pytest.raises(OnnxImportError, match="node '.*' \\(Conv\\): weight weight has shape"):
        eddl.import_net_from_onnx_string(data, input_shape=[4, 8, 8])
    with pytest.raises(OnnxImportError, match="takes channels \\+ 2 spatial axes"):
        eddl.import_net_from_onnx_string(data, input_shape=[3, 8])


def test_symbolic_input_needs_input_shape() -> None:
    data = _model([N("Relu", ["x"], ["y"])], shape=("N", "C")).SerializeToString()
    with pytest.raises(OnnxImportError, match="input 'x' has no static shape.*pass input_shape"):
        eddl.import_net_from_onnx_string(data)
    assert eddl.import_net_from_onnx_string(data, input_shape=[5]).inputs[0].output_shape == (5,)


@pytest.mark.parametrize(
    ("node", "inits", "message"),
    [
        (
            N("Transpose", ["x"], ["y"], perm=[1, 0]),
            [],
            "moves the batch axis|rearranges the batch",
        ),
        (N("Softmax", ["x"], ["y"], axis=0), [], "softmax over the batch axis"),
        (N("HardSigmoid", ["x"], ["y"], alpha=1 / 6), [], "only alpha=0.2, beta=0.5"),
        (
            N("Gemm", ["x", "w"], ["y"], transA=1),
            [numpy_helper.from_array(np.ones((4, 2), np.float32), "w")],
            "transA=1",
        ),
        (
            N("MatMul", ["w", "x"], ["y"]),
            [numpy_helper.from_array(np.ones((2, 3), np.float32), "w")],
            "must be a constant, not computed from data",
        ),
        (N("Concat", ["x", "x"], ["y"], axis=0), [], "concatenation along the batch axis"),
        (N("MaxPool", ["x"], ["y"]), [], r"cannot be imported \(KeyError: 'kernel_shape'"),
    ],
)
def test_unmappable_nodes_name_node_and_reason(node, inits, message: str) -> None:
    node.name = "the_node"
    data = _model([node], inits).SerializeToString()
    with pytest.raises(
        OnnxImportError, match=f"node 'the_node' \\({node.op_type}\\): .*({message})"
    ):
        eddl.import_net_from_onnx_string(data)


def test_export_of_a_kind_without_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    import deephealth.eddl.onnx.mapping  # noqa: F401 (fills the table before it is patched)

    monkeypatch.delitem(EXPORTERS, "Dense")
    with pytest.raises(
        OnnxExportError, match=r"no ONNX exporter for layer\(s\) \['head \(Dense\)'\]"
    ):
        eddl.serialize_net_to_onnx_string(_dense_net())


def test_old_opset_refused_and_newer_opsets_work() -> None:
    with pytest.raises(OnnxExportError, match="opset 13 is too old"):
        eddl.serialize_net_to_onnx_string(_dense_net(), opset=13)
    for opset in (18, 21):
        proto = onnx.load_from_string(eddl.serialize_net_to_onnx_string(_dense_net(), opset=opset))
        onnx.checker.check_model(proto, full_check=True)
        assert proto.opset_import[0].version == opset


def test_unwritable_destination(tmp_path: Path) -> None:
    with pytest.raises(OnnxExportError, match="cannot write"):
        eddl.save_net_to_onnx_file(_dense_net(), tmp_path / "no" / "such" / "dir" / "net.onnx")


def test_output_that_does_not_depend_on_the_input() -> None:
    c = numpy_helper.from_array(np.ones(3, np.float32), "c")
    data = _model([N("Identity", ["c"], ["y"])], [c]).SerializeToString()
    with pytest.raises(OnnxImportError, match="output 'y' does not depend on the input"):
        eddl.import_net_from_onnx_string(data)


def test_input_shape_with_several_foreign_inputs() -> None:
    graph = helper.make_graph(
        [N("Add", ["x", "z"], ["y"])],
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 4]) for n in ("x", "z")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
    )
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    assert [layer.name for layer in eddl.import_net_from_onnx_string(data).inputs] == ["x", "z"]
    with pytest.raises(OnnxImportError, match="input_shape is given but the graph has 2 inputs"):
        eddl.import_net_from_onnx_string(data, input_shape=[4])
