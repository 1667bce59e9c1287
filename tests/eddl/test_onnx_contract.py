"""The ONNX contract of every layer kind, over the shared `LAYER_CASES`.

build -> infer shape -> export -> onnx.checker (full check, strict shape inference) -> onnxruntime
parity (1e-5 of the output scale) -> import -> parity -> re-export with bitwise-equal weights. And:
every kind of the layer table has an exporter.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper
from tests.eddl.layer_cases import LAYER_CASES, make_inputs

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import LAYER_TYPES
from deephealth.eddl.model import Model
from deephealth.eddl.onnx.registry import DECLARED_KINDS, EXPORTERS


def randomize_statistics(net: Model, seed: int = 0) -> None:
    """Give batch-norm running statistics non-trivial values (they start at 0 and 1)."""
    gen = torch.Generator().manual_seed(seed)
    for layer in net.layers:
        if layer.kind == "BatchNormalization":
            m = layer.module
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen))
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


def forward(net: Model, xs: list[torch.Tensor]) -> np.ndarray:
    net.graph.eval()
    with torch.no_grad():
        return net.graph(*xs)[0].numpy()


def assert_close_to_scale(got: np.ndarray, want: np.ndarray, tol: float = 1e-5) -> None:
    """|got - want| <= tol * max(1, max |want|), shapes equal."""
    assert got.shape == want.shape
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    err = float(np.abs(got.astype(np.float64) - want).max(initial=0.0))
    assert err <= tol * scale, f"max error {err:.3g} > {tol} x scale {scale:.3g}"


def initializers(data: bytes) -> dict[str, bytes]:
    return {
        t.name: numpy_helper.to_array(t).tobytes()
        for t in onnx.load_from_string(data).graph.initializer
    }


@pytest.mark.parametrize("builder", LAYER_CASES)
def test_layer_contract(builder) -> None:
    inputs, output = builder()
    net = Model(inputs, [output])
    randomize_statistics(net)
    xs = make_inputs(inputs, output, batch=3)
    want = forward(net, xs)
    assert want.shape[1:] == output.output_shape

    data = eddl.serialize_net_to_onnx_string(net)
    proto = onnx.load_from_string(data)
    assert proto.opset_import[0].version >= 17
    onnx.checker.check_model(proto, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    out_dims = inferred.graph.output[0].type.tensor_type.shape.dim
    assert out_dims[0].dim_param == "batch"
    assert [d.dim_value for d in out_dims[1:]] == list(output.output_shape)
    node_names = {n.name for n in proto.graph.node} | {i.name for i in proto.graph.input}
    assert {layer.name for layer in net.layers} <= node_names

    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feeds = {layer.name: x.numpy() for layer, x in zip(inputs, xs)}
    assert_close_to_scale(sess.run(None, feeds)[0], want)
    # dynamic batch: one sample runs too
    one = sess.run(None, {k: v[:1] for k, v in feeds.items()})[0]
    assert_close_to_scale(one, want[:1])

    again = eddl.import_net_from_onnx_string(data)
    assert [(l.name, l.kind, l.params) for l in again.layers] == [
        (l.name, l.kind, l.params) for l in net.layers
    ]
    np.testing.assert_array_equal(forward(again, xs), want)
    data2 = eddl.serialize_net_to_onnx_string(again)
    assert initializers(data2) == initializers(data)
    assert data2 == data


def test_every_layer_kind_has_an_exporter() -> None:
    import deephealth.eddl.onnx.mapping  # noqa: F401

    missing = sorted(set(LAYER_TYPES) - set(EXPORTERS))
    assert missing == []


def test_mappings_name_only_known_kinds() -> None:
    assert sorted(DECLARED_KINDS - set(LAYER_TYPES)) == []


def reimport_via_op_table(builder) -> bool:
    """Import our export of `builder` without its metadata (as a foreign file); True when it
    imports (and then it must match onnxruntime), False on a clear `OnnxImportError`."""
    inputs, output = builder()
    net = Model(inputs, [output])
    randomize_statistics(net)
    proto = onnx.load_from_string(eddl.serialize_net_to_onnx_string(net))
    del proto.metadata_props[:]
    data = proto.SerializeToString()
    xs = make_inputs(inputs, output, batch=2)
    try:
        foreign = eddl.import_net_from_onnx_string(data)
    except eddl.OnnxImportError:
        return False
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    want = sess.run(None, {layer.name: x.numpy() for layer, x in zip(inputs, xs)})[0]
    assert_close_to_scale(forward(foreign, xs), want)
    return True


@pytest.mark.parametrize("builder", LAYER_CASES)
def test_exports_read_back_through_the_op_table(builder) -> None:
    """Without our metadata, our files import like foreign ones: correct, or a clear refusal."""
    reimport_via_op_table(builder)


def test_most_exports_read_back_through_the_op_table() -> None:
    """Only pixel-gather augmentations, nearest Resize, GroupNormalization, recurrent ops with
    initial states or the cell state output (GetStates, one-step decoders), the sources that fold
    to constants (ConstOfTensor, generators, Shape), Where (a cast to bool) and Transform (a
    channel pad) may be refused."""
    refused = [p.id for p in LAYER_CASES if not reimport_via_op_table(p.values[0])]
    assert len(refused) <= 24, refused
    assert "GroupNormalization" in refused and "Conv2D-same" not in refused


ZOO = {
    "lenet": ((1, 28, 28), {}),
    "resnet18": ((3, 32, 32), {}),
    "densenet121": ((3, 32, 32), {}),
    "mobilenet": ((3, 32, 32), {}),
    "deeplabv3plus": ((3, 32, 32), {}),
    "unet": ((1, 32, 32), {"base_filters": 8, "depth": 2}),
    "unet3d": ((1, 16, 16, 16), {"base_filters": 4, "depth": 2}),
    "cnn3d": ((1, 16, 16, 16), {}),
}


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_network_contract(name: str) -> None:
    """Networks that combine many layer kinds: checker, onnxruntime parity, exact round trip."""
    from deephealth.eddl.zoo import build_model

    shape, kwargs = ZOO[name]
    torch.manual_seed(0)
    net = build_model(name, shape, 3, **kwargs)
    randomize_statistics(net)
    xs = [torch.randn(2, *shape)]
    want = forward(net, xs)
    data = eddl.serialize_net_to_onnx_string(net)
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert_close_to_scale(sess.run(None, {net.inputs[0].name: xs[0].numpy()})[0], want)
    again = eddl.import_net_from_onnx_string(data)
    np.testing.assert_array_equal(forward(again, xs), want)
    assert eddl.serialize_net_to_onnx_string(again) == data


@pytest.mark.parametrize("builder", LAYER_CASES)
def test_layer_exports_at_a_newer_opset(builder) -> None:
    """Opset 21 (axes as inputs, newer op versions): valid and equal to the forward as well."""
    inputs, output = builder()
    net = Model(inputs, [output])
    randomize_statistics(net)
    xs = make_inputs(inputs, output, batch=2)
    data = eddl.serialize_net_to_onnx_string(net, opset=21)
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = sess.run(None, {layer.name: x.numpy() for layer, x in zip(inputs, xs)})[0]
    assert_close_to_scale(got, forward(net, xs))
