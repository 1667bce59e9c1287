"""Default layer names are counted per model (pyeddl style: `dense1`, `batchnormalization1`), so the
same network built twice, whatever ran before, has the same names and the same ONNX bytes."""

from __future__ import annotations

import pytest

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


def _decoder(units: int) -> tuple[eddl.Model, eddl.Layer]:
    x = eddl.Input([1])
    emb = eddl.Embedding(x, 10, 1, 4, True)
    lstm = eddl.LSTM(emb, units, True)
    return eddl.Model([x], [eddl.Softmax(eddl.Dense(lstm, 10))]), lstm


def test_eddl_process_wide_names_find_the_layer() -> None:
    """pyeddl's nlp_text_generation builds a second decoder and asks for `LSTM2`, `dense2`,
    `embedding2`: the names C++ EDDL counts across the process. They find the layer when the
    model has no layer so named, while the model's own names stay counted within it."""
    first, lstm1 = _decoder(8)
    second, lstm2 = _decoder(8)
    names = [layer.name for layer in second.layers]
    assert "LSTM1" in names and "dense1" in names and "embedding1" in names
    for model, lstm in ((first, lstm1), (second, lstm2)):
        stems = {"LSTM": lstm, "dense": model.layers[-2], "embedding": model.layers[1]}
        for stem, layer in stems.items():
            assert layer.process_name is not None and layer.process_name.startswith(stem)
            assert eddl.getLayer(model, layer.process_name) is layer
    n1, n2 = int(lstm1.process_name[4:]), int(lstm2.process_name[4:])
    assert n2 == n1 + 1  # counted across the process, as EDDL: the 2nd decoder's is LSTM<n+1>
    eddl.copyParam(
        eddl.getLayer(first, lstm1.process_name), eddl.getLayer(second, lstm2.process_name)
    )
    for a, b in zip(lstm1.module.parameters(), lstm2.module.parameters()):
        assert bool((a == b).all())
    assert eddl.getLayer(second, "LSTM1") is lstm2  # the model's own name wins
    with pytest.raises(KeyError, match="LSTM1"):
        eddl.getLayer(second, "LSTM999999")
