"""Own ONNX files as the everyday format: import, build, fit, evaluate, resume, transfer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from tests.eddl import onnx_torch_models as tm

import deephealth.eddl as eddl
from deephealth.eddl.onnx import CheckpointError
from deephealth.serving import InferenceSession, Preprocessing


def _data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    labels = (x[:, 0, :4].mean(axis=(1, 2)) > 0).astype(np.int64)
    return x, np.eye(2, dtype=np.float32)[labels]


def _cnn() -> eddl.Model:
    x = eddl.Input([1, 8, 8], name="image")
    h = eddl.ReLu(eddl.BatchNormalization(eddl.Conv2D(x, 4, [3, 3], name="conv")), name="act")
    h = eddl.Flatten(eddl.MaxPool2D(h, [2, 2]), name="flat")
    return eddl.Model([x], [eddl.Softmax(eddl.Dense(h, 2, name="head"), name="probs")], "cnn")


def _build(net: eddl.Model, init_weights: bool = True) -> None:
    eddl.build(
        net,
        eddl.adam(0.01),
        ["softmax_cross_entropy"],
        ["categorical_accuracy"],
        eddl.CS_CPU(),
        init_weights=init_weights,
    )


def _weights(net: eddl.Model) -> dict[str, np.ndarray]:
    return {
        f"{layer.name}.{k}": v.detach().numpy().copy()
        for layer in net.layers
        if layer.module is not None
        for k, v in layer.module.state_dict().items()
    }


def _trained(tmp_path: Path) -> tuple[eddl.Model, Path]:
    torch.manual_seed(0)
    net = _cnn()
    _build(net)
    x, y = _data()
    eddl.fit(net, x, y, batch=16, epochs=2, shuffle=False, verbose=0)
    path = tmp_path / "cnn.onnx"
    eddl.save_net_to_onnx_file(net, path)
    return net, path


def test_import_keeps_names_weights_and_summary(tmp_path: Path) -> None:
    net, path = _trained(tmp_path)
    again = eddl.import_net_from_onnx_file(path)
    assert [layer.name for layer in again.layers] == [layer.name for layer in net.layers]
    assert again.name == "cnn"
    for key, value in _weights(net).items():
        np.testing.assert_array_equal(_weights(again)[key], value)
    text = eddl.summary(again)
    assert "conv" in text and "head" in text
    proto = onnx.load(path)
    assert {i.name for i in proto.graph.initializer} >= {"conv.weight", "head.bias"}


def test_build_keeps_or_reinitializes_imported_weights(tmp_path: Path) -> None:
    net, path = _trained(tmp_path)
    kept = eddl.import_net_from_onnx_file(path)
    _build(kept, init_weights=False)
    np.testing.assert_array_equal(_weights(kept)["conv.weight"], _weights(net)["conv.weight"])
    fresh = eddl.import_net_from_onnx_file(path)
    _build(fresh, init_weights=True)
    assert not np.array_equal(_weights(fresh)["conv.weight"], _weights(net)["conv.weight"])


def test_evaluate_gives_the_same_metrics_and_fit_continues(tmp_path: Path) -> None:
    net, path = _trained(tmp_path)
    x, y = _data(32, seed=1)
    before = eddl.evaluate(net, x, y, verbose=0)
    again = eddl.import_net_from_onnx_file(path)
    _build(again, init_weights=False)
    assert eddl.evaluate(again, x, y, verbose=0) == before
    start = _weights(again)["head.weight"]
    eddl.fit(again, *_data(), batch=16, epochs=1, verbose=0)
    assert not np.array_equal(_weights(again)["head.weight"], start)


def test_resuming_from_onnx_loses_nothing(tmp_path: Path) -> None:
    net, path = _trained(tmp_path)
    assert (tmp_path / "cnn.onnx.ckpt").is_file()
    x, y = _data()
    eddl.fit(net, x, y, batch=16, epochs=1, shuffle=False, verbose=0)
    resumed = eddl.import_net_from_onnx_file(path)
    _build(resumed, init_weights=False)
    ckpt = eddl.load_checkpoint(resumed)
    assert ckpt["epoch"] == 2 and ckpt["optimizer"]["name"] == "adam"
    eddl.fit(resumed, x, y, batch=16, epochs=1, shuffle=False, verbose=0)
    for key, value in _weights(net).items():
        np.testing.assert_array_equal(_weights(resumed)[key], value, err_msg=key)


def test_checkpoint_errors(tmp_path: Path) -> None:
    net, path = _trained(tmp_path)
    plain = eddl.import_net_from_onnx_file(path)
    with pytest.raises(CheckpointError, match="must be built with an optimizer"):
        eddl.load_checkpoint(plain)
    eddl.build(
        plain,
        eddl.sgd(0.1),
        ["softmax_cross_entropy"],
        ["categorical_accuracy"],
        init_weights=False,
    )
    with pytest.raises(CheckpointError, match="built with sgd but the checkpoint holds adam"):
        eddl.load_checkpoint(plain)
    other = tmp_path / "other.onnx"
    eddl.save_net_to_onnx_file(_cnn(), other)  # not built: no checkpoint written
    assert not (tmp_path / "other.onnx.ckpt").exists()
    bare = eddl.import_net_from_onnx_file(other)
    _build(bare, init_weights=False)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        eddl.load_checkpoint(bare)
    (tmp_path / "cnn.onnx.ckpt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cnn.onnx.ckpt: not a readable checkpoint"):
        eddl.import_net_from_onnx_file(path)


def test_trainable_flags_survive_the_round_trip(tmp_path: Path) -> None:
    net = _cnn()
    eddl.setTrainable(net, "conv", False)
    path = tmp_path / "frozen.onnx"
    eddl.save_net_to_onnx_file(net, path)
    again = eddl.import_net_from_onnx_file(path)
    assert not again.layer("conv").trainable and again.layer("head").trainable


def test_saved_model_serves_with_its_preprocessing(tmp_path: Path) -> None:
    net, _ = _trained(tmp_path)
    path = tmp_path / "served.onnx"
    prep = Preprocessing(
        layout="HWC", scale=1 / 255, mean=[0.5], std=[0.25], class_names=["no", "yes"]
    )
    eddl.save_net_to_onnx_file(net, path, preprocessing=prep)
    img = np.random.default_rng(5).integers(0, 256, (3, 8, 8, 1), dtype=np.uint8)
    x = ((img.astype(np.float32) / 255 - 0.5) / 0.25).transpose(0, 3, 1, 2)
    net.graph.eval()
    with torch.no_grad():
        want = net.graph(torch.from_numpy(np.ascontiguousarray(x)))[0].numpy()
    sess = InferenceSession(path)
    np.testing.assert_allclose(sess.run(img), want, rtol=1e-5, atol=1e-6)
    assert sess.classify(img) == [["no", "yes"][k] for k in want.argmax(1)]


def test_transfer_learning_from_a_foreign_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tm.export(
        tm.randomize_bn(tm.MobileNetish()),
        torch.randn(2, 3, 16, 16),
        tmp_path / "mobilenet.onnx",
        dynamo=False,
    )
    net = eddl.import_net_from_onnx_file(path, input_shape=[3, 8, 8])
    assert net.inputs[0].output_shape == (3, 8, 8)
    head = net.outputs[0]
    assert head.kind == "Dense"
    eddl.removeLayer(net, head.name)
    features = net.outputs[0]
    out = eddl.Softmax(eddl.Dense(features, 2, name="new_head"))
    net = eddl.Model(net.inputs, [out], "transfer")
    frozen = [
        layer.name for layer in net.layers if layer.module is not None and layer.name != "new_head"
    ]
    for name in frozen:
        eddl.setTrainable(net, name, False)
    _build(net, init_weights=False)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3, 8, 8)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x.mean(axis=(1, 2, 3)) > 0).astype(int)]
    w0 = _weights(net)
    eddl.fit(net, x, y, batch=8, epochs=1, verbose=0)
    w1 = _weights(net)
    conv_keys = [k for k in w0 if k.rsplit(".", 1)[0] in frozen and k.endswith(".weight")]
    assert conv_keys and all(np.array_equal(w0[k], w1[k]) for k in conv_keys)
    assert not np.array_equal(w0["new_head.weight"], w1["new_head.weight"])
    for name in frozen:
        eddl.setTrainable(net, name, True)
    eddl.fit(net, x, y, batch=8, epochs=1, verbose=0)
    w2 = _weights(net)
    assert any(not np.array_equal(w1[k], w2[k]) for k in conv_keys)


def test_two_inputs_two_outputs_round_trip_and_serve(tmp_path: Path) -> None:
    a, b = eddl.Input([4], name="a"), eddl.Input([3], name="b")
    h = eddl.Concat([eddl.Dense(a, 5, name="da"), eddl.Dense(b, 5, name="db")], name="cat")
    net = eddl.Model([a, b], [eddl.Softmax(h, name="p"), eddl.Sigmoid(h, name="s")], "two")
    path = tmp_path / "two.onnx"
    eddl.save_net_to_onnx_file(net, path)
    xa = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    xb = np.random.default_rng(1).standard_normal((3, 3)).astype(np.float32)
    net.graph.eval()
    with torch.no_grad():
        want = [t.numpy() for t in net.graph(torch.from_numpy(xa), torch.from_numpy(xb))]
    again = eddl.import_net_from_onnx_file(path)
    assert [layer.name for layer in again.inputs] == ["a", "b"]
    assert [layer.name for layer in again.outputs] == ["p", "s"]
    sess = InferenceSession(path)
    p, s = sess.run(xa, xb)
    np.testing.assert_allclose(p, want[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sess.run_named(xa[0], xb[0])["s"], want[1][0], rtol=1e-6, atol=1e-7)
    with pytest.raises(eddl.OnnxImportError, match="input_shape is given but the network has 2"):
        eddl.import_net_from_onnx_file(path, input_shape=[4])
