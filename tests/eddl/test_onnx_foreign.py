"""Import of ONNX written by other tools: torch.onnx (TorchScript and dynamo) and onnx.helper.

Every imported network must match onnxruntime on the same file within 1e-5 of the output scale,
and survive a round trip through our own format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from tests.eddl import onnx_torch_models as tm
from tests.eddl.test_onnx_contract import assert_close_to_scale

import deephealth.eddl as eddl

TORCH_MODELS = {
    "resnet18": (lambda: tm.ResNet18(), (3, 32, 32)),
    "unet": (lambda: tm.UNet(), (1, 16, 16)),
    "densenet-block": (lambda: tm.DenseBlockNet(), (3, 8, 8)),
    "mobilenet": (lambda: tm.MobileNetish(), (3, 16, 16)),
    "lstm-gru": (lambda: tm.RecurrentClassifier(), (5, 6)),
}


def run_ours(net: eddl.Model, x: np.ndarray) -> np.ndarray:
    net.graph.eval()
    with torch.no_grad():
        return net.graph(torch.from_numpy(x))[0].numpy()


def run_ort(source: str | bytes, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Path]:
    """Every model exported once with each exporter."""
    folder = tmp_path_factory.mktemp("torch_onnx")
    out = {}
    for name, (make, shape) in TORCH_MODELS.items():
        torch.manual_seed(0)
        model = tm.randomize_bn(make())
        x = torch.randn(2, *shape)
        for dynamo in (False, True):
            out[name, dynamo] = tm.export(model, x, folder / f"{name}-{int(dynamo)}.onnx", dynamo)
    return out


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("name", list(TORCH_MODELS))
def test_torch_export_imports_and_matches(exported, name: str, dynamo: bool) -> None:
    path = exported[name, dynamo]
    shape = TORCH_MODELS[name][1]
    x = np.random.default_rng(1).standard_normal((3, *shape)).astype(np.float32)
    net = eddl.import_net_from_onnx_file(path)
    want = run_ort(str(path), x)
    assert_close_to_scale(run_ours(net, x), want)
    # and through our own format: exported again, it runs in onnxruntime the same way
    ours = eddl.serialize_net_to_onnx_string(net)
    assert_close_to_scale(run_ort(ours, x), want)


# ---- graphs written with onnx.helper -----------------------------------------------------------


def _t(name: str, value) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def _graph(nodes, inits, shape, opset: int = 17) -> bytes:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


RNG = np.random.default_rng(0)
W = RNG.standard_normal((12, 5)).astype(np.float32)
B = RNG.standard_normal(5).astype(np.float32)
N = helper.make_node

HELPER_GRAPHS = {
    "Gemm-transB-alpha-beta": (
        [N("Gemm", ["x", "w", "b"], ["y"], transB=1, alpha=0.5, beta=2.0)],
        [_t("w", W.T.copy()), _t("b", B)],
        (12,),
    ),
    "MatMul+Add": (
        [N("MatMul", ["x", "w"], ["m"]), N("Add", ["m", "b"], ["y"])],
        [_t("w", W), _t("b", B)],
        (12,),
    ),
    "MatMul-3d": ([N("MatMul", ["x", "w"], ["y"])], [_t("w", W)], (3, 12)),
    "Flatten": ([N("Flatten", ["x"], ["y"], axis=1)], [], (2, 3, 4)),
    "Reshape-shape-chain": (
        [
            N("Shape", ["x"], ["s"]),
            N("Gather", ["s", "zero"], ["n"], axis=0),
            N("Unsqueeze", ["n", "zero1"], ["n1"]),
            N("Concat", ["n1", "minus1"], ["target"], axis=0),
            N("Cast", ["target"], ["target64"], to=TensorProto.INT64),
            N("Identity", ["target64"], ["target_id"]),
            N("Reshape", ["x", "target_id"], ["y"]),
        ],
        [
            _t("zero", np.int64(0)),
            _t("zero1", np.array([0], np.int64)),
            _t("minus1", np.array([-1], np.int64)),
        ],
        (2, 3, 4),
    ),
    "Reshape-constant-node": (
        [
            N("Constant", [], ["t"], value=_t("v", np.array([0, 4, 6], np.int64))),
            N("Reshape", ["x", "t"], ["y"]),
        ],
        [],
        (2, 3, 4),
    ),
    "ConstantOfShape-Add": (
        [
            N("Constant", [], ["shape"], value=_t("v", np.array([1], np.int64))),
            N("ConstantOfShape", ["shape"], ["k"], value=_t("c", np.array([0.5], np.float32))),
            N("Add", ["x", "k"], ["y"]),
        ],
        [],
        (4,),
    ),
    "Transpose": ([N("Transpose", ["x"], ["y"], perm=[0, 3, 1, 2])], [], (2, 3, 4)),
    "Clip-ReLU6": (
        [N("Clip", ["x", "lo", "hi"], ["y"])],
        [_t("lo", np.float32(0)), _t("hi", np.float32(6))],
        (8,),
    ),
    "Sigmoid": ([N("Sigmoid", ["x"], ["y"])], [], (6,)),
    "HardSigmoid": ([N("HardSigmoid", ["x"], ["y"], alpha=0.2, beta=0.5)], [], (6,)),
    "Pad": (
        [N("Pad", ["x", "pads", "v"], ["y"], mode="constant")],
        [_t("pads", np.array([0, 0, 1, 2, 0, 0, 3, 0], np.int64)), _t("v", np.float32(0.25))],
        (2, 4, 4),
    ),
    "Slice": (
        [N("Slice", ["x", "st", "en", "ax"], ["y"])],
        [
            _t("st", np.array([1, -3], np.int64)),
            _t("en", np.array([3, 100], np.int64)),
            _t("ax", np.array([1, 3], np.int64)),
        ],
        (4, 3, 5),
    ),
    "Split-Concat": (
        [N("Split", ["x", "sp"], ["a", "b"], axis=1), N("Concat", ["b", "a"], ["y"], axis=1)],
        [_t("sp", np.array([2, 4], np.int64))],
        (6, 3),
    ),
    "Squeeze-Unsqueeze": (
        [N("Squeeze", ["x", "a1"], ["s"]), N("Unsqueeze", ["s", "a2"], ["y"])],
        [_t("a1", np.array([2], np.int64)), _t("a2", np.array([-1], np.int64))],
        (3, 1, 4),
    ),
    "ReduceMean": ([N("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=1)], [], (3, 4, 5)),
    "Softmax": ([N("Softmax", ["x"], ["y"], axis=1)], [], (7,)),
    "LRN": ([N("LRN", ["x"], ["y"], size=3, alpha=1e-3, beta=0.75, bias=2.0)], [], (5, 4, 4)),
    "LRN-defaults": ([N("LRN", ["x"], ["y"], size=5)], [], (6, 3, 3)),
    "Dropout-identity": ([N("Dropout", ["x"], ["y"])], [], (5,)),
    "InstanceNormalization": (
        [N("InstanceNormalization", ["x", "sc", "bi"], ["y"], epsilon=1e-3)],
        [
            _t("sc", RNG.random(4).astype(np.float32) + 0.5),
            _t("bi", RNG.random(4).astype(np.float32)),
        ],
        (4, 3, 5),
    ),
}
GROUPNORM = (
    [N("GroupNormalization", ["x", "sc", "bi"], ["y"], num_groups=2, epsilon=1e-4)],
    [_t("sc", RNG.random(6).astype(np.float32) + 0.5), _t("bi", RNG.random(6).astype(np.float32))],
    (6, 4, 4),
)
UPSAMPLE = (
    [N("Upsample", ["x", "sc"], ["y"], mode="nearest")],
    [_t("sc", np.array([1, 1, 2, 3], np.float32))],
    (2, 3, 4),
)


@pytest.mark.parametrize("name", list(HELPER_GRAPHS))
def test_helper_graph_imports_and_matches(name: str) -> None:
    nodes, inits, shape = HELPER_GRAPHS[name]
    data = _graph(nodes, inits, shape)
    x = np.random.default_rng(2).standard_normal((3, *shape)).astype(np.float32)
    net = eddl.import_net_from_onnx_string(data)
    assert_close_to_scale(run_ours(net, x), run_ort(data, x))


def test_upsample_opset9() -> None:
    nodes, inits, shape = UPSAMPLE
    data = _graph(nodes, inits, shape, opset=9)
    x = np.random.default_rng(3).standard_normal((2, *shape)).astype(np.float32)
    net = eddl.import_net_from_onnx_string(data)
    assert [layer.kind for layer in net.layers] == ["Input", "UpSampling"]
    np.testing.assert_array_equal(run_ours(net, x), run_ort(data, x))


def test_group_normalization_opset21() -> None:
    nodes, inits, shape = GROUPNORM
    data = _graph(nodes, inits, shape, opset=21)
    x = np.random.default_rng(4).standard_normal((2, *shape)).astype(np.float32)
    net = eddl.import_net_from_onnx_string(data)
    assert net.layers[1].kind == "GroupNormalization" and net.layers[1].params["groups"] == 2
    assert_close_to_scale(run_ours(net, x), run_ort(data, x))


def test_shape_computations_are_folded() -> None:
    nodes, inits, shape = HELPER_GRAPHS["Reshape-shape-chain"]
    net = eddl.import_net_from_onnx_string(_graph(nodes, inits, shape))
    assert [layer.kind for layer in net.layers] == ["Input", "Flatten"]
    nodes, inits, shape = HELPER_GRAPHS["MatMul+Add"]
    net = eddl.import_net_from_onnx_string(_graph(nodes, inits, shape))
    assert [layer.kind for layer in net.layers] == ["Input", "Dense"]
    assert net.layers[1].params == {"ndim": 5, "use_bias": True}


def test_layer_names_come_from_node_names() -> None:
    nodes = [N("Relu", ["x"], ["r"], name="first relu"), N("Sigmoid", ["r"], ["y"], name="gate")]
    net = eddl.import_net_from_onnx_string(_graph(nodes, [], (4,)))
    assert [layer.name for layer in net.layers] == ["x", "first_relu", "gate"]
