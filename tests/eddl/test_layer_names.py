"""Default layer names are counted per model (pyeddl style: `dense1`, `batchnormalization1`), so the
same network built twice, whatever ran before, has the same names and the same ONNX bytes."""

from __future__ import annotations

import deephealth.eddl as eddl


def _net() -> eddl.Model:
    x = eddl.Input([1, 6, 6])
    h = eddl.ReLu(eddl.BatchNormalization(eddl.Conv2D(x, 2, [3, 3])))
    h = eddl.Dense(eddl.Flatten(h), 4)
    return eddl.Model([x], [eddl.Softmax(eddl.Dense(h, 3))])


def test_names_count_within_the_model() -> None:
    names = [layer.name for layer in _net().layers]
    assert names == [
        "input1", "conv2d1", "batchnormalization1", "relu1", "flatten1", "dense1", "dense2",
        "softmax1",
    ]  # fmt: skip
    eddl.Dense(eddl.Input([3]), 2)  # layers built in between do not shift the next model's names
    assert [layer.name for layer in _net().layers] == names


def test_same_network_same_onnx_bytes() -> None:
    a, b = _net(), _net()
    for la, lb in zip(a.layers, b.layers):
        if la.module is not None:
            lb.module.load_state_dict(la.module.state_dict())
    assert eddl.serialize_net_to_onnx_string(a) == eddl.serialize_net_to_onnx_string(b)


def test_given_names_are_kept_and_skipped() -> None:
    x = eddl.Input([4], name="dense1")
    out = eddl.Dense(eddl.Dense(x, 3), 2, name="dense3")
    assert [layer.name for layer in eddl.Model([x], [out]).layers] == ["dense1", "dense2", "dense3"]


def test_a_layer_keeps_the_name_of_its_first_model() -> None:
    net = _net()
    feature = net.layer("dense1")
    head = eddl.Dense(feature, 2)
    bigger = eddl.Model(net.inputs, [head])
    assert feature.name == "dense1" and head.name == "dense2"
    assert [layer.name for layer in bigger.layers][:6] == [layer.name for layer in net.layers][:6]
