"""Values of the repeating and auxiliary layers against numpy and EDDL's Tensor forms; the random
generators in torch and onnxruntime; sources in a trained network."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl import Tensor
from deephealth.eddl.model import Model


def run(inputs: list, out, *xs: np.ndarray, train: bool = False) -> np.ndarray:
    net = Model(inputs, [out])
    net.graph.train(train)
    with torch.no_grad():
        return net.graph(*[torch.from_numpy(x) for x in xs])[0].numpy()


RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 4)).astype(np.float32)


def test_repeat_tile_expand_match_numpy() -> None:
    x = eddl.Input([3, 4])
    np.testing.assert_array_equal(
        run([x], eddl.Repeat(x, [1, 0, 3], 0), X), np.repeat(X, [1, 0, 3], axis=1)
    )
    np.testing.assert_array_equal(run([x], eddl.Repeat(x, 2, 1), X), np.repeat(X, 2, axis=2))
    np.testing.assert_array_equal(run([x], eddl.Tile(x, [2, 3]), X), np.tile(X, (1, 2, 3)))
    np.testing.assert_array_equal(run([x], eddl.Tile(x, [1, 2, 1]), X), np.tile(X, (1, 2, 1)))
    y = eddl.Input([1, 4, 1])
    data = X.reshape(2, 3, 4)[:, :1, :, None]
    np.testing.assert_array_equal(run([y], eddl.Expand(y, 3), data), np.tile(data, (1, 3, 1, 3)))


def test_broadcast_as_the_tensor_form() -> None:
    small, big = eddl.Input([3]), eddl.Input([4, 3, 5])
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    b = np.zeros((2, 4, 3, 5), np.float32)
    got = run([small, big], eddl.Broadcast(small, big), a, b)
    assert got.shape == (2, 4, 3, 5)
    want = Tensor.broadcast(Tensor.fromarray(a[0]), Tensor.fromarray(b[0])).getdata()
    np.testing.assert_array_equal(got[0], want)
    # the parent order does not matter: the smaller one is broadcast
    np.testing.assert_array_equal(run([small, big], eddl.Broadcast(big, small), a, b), got)
    with pytest.raises(eddl.ShapeError, match="cannot be broadcast"):
        eddl.Broadcast(eddl.Input([2]), eddl.Input([4, 3]))


def test_where_shape_bypass_transform() -> None:
    a, b, c = eddl.Input([3, 4]), eddl.Input([3, 4]), eddl.Input([3, 4])
    cond = (RNG.random((2, 3, 4)) > 0.5).astype(np.float32)
    y = -X
    np.testing.assert_array_equal(
        run([a, b, c], eddl.Where(a, b, c), X, y, cond), np.where(cond != 0, X, y)
    )
    x = eddl.Input([3, 4])
    np.testing.assert_array_equal(run([x], eddl.Shape(x), X), [[2, 3, 4]] * 2)
    np.testing.assert_array_equal(run([x], eddl.Shape(x, False), X), [[3, 4]] * 2)
    np.testing.assert_array_equal(run([x], eddl.Bypass(x, "skipped"), X), X)
    img = eddl.Input([3, 2, 2])
    data = RNG.standard_normal((2, 3, 2, 2)).astype(np.float32)
    t = eddl.Transform(img, 0, 0, 1, 0)
    assert t.output_shape == (4, 2, 2)
    got = run([img], t, data)
    np.testing.assert_array_equal(got[:, :3], data)
    assert not got[:, 3].any()


def test_const_of_tensor_is_repeated_per_sample_and_trains_the_rest() -> None:
    value = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    x = eddl.Input([3, 4])
    k = eddl.ConstOfTensor(Tensor.fromarray(value))
    assert k.parents == [] and k.output_shape == (3, 4)
    out = eddl.Add(eddl.Dense(x, 4), k)
    np.testing.assert_array_equal(run([x], k, X), np.stack([value, value]))
    net = eddl.Model([x], [out])
    eddl.build(net, eddl.sgd(0.01), ["mse"], ["mse"], eddl.CS_CPU(), init_weights=True)
    before = net.layers[-1].parents[0].module.weight.detach().clone()
    eddl.fit(net, [X], [X + value], 2, 1, verbose=0)
    assert not torch.equal(before, net.layers[-1].parents[0].module.weight)
    np.testing.assert_array_equal(k.module.value.numpy(), value)  # a buffer, not a weight


def test_generators_draw_at_every_forward_in_both_modes() -> None:
    x = eddl.Input([1])
    g = eddl.GaussGenerator(3.0, 0.5, [50, 40])
    u = eddl.UniformGenerator(-1.0, 2.0, [50, 40])
    ones = np.ones((2, 1), np.float32)
    for train in (True, False):
        first, second = run([x], g, ones, train=train), run([x], g, ones, train=train)
        assert first.shape == (2, 50, 40) and not np.array_equal(first, second)
        assert abs(first.mean() - 3.0) < 0.05 and abs(first.std() - 0.5) < 0.05
        v = run([x], u, ones, train=train)
        assert v.min() >= -1.0 and v.max() < 2.0 and abs(v.mean() - 0.5) < 0.05


def test_generators_export_as_onnxruntime_random_ops() -> None:
    x = eddl.Input([2])
    out = eddl.Concat(
        [eddl.GaussGenerator(3.0, 0.5, [2000]), eddl.UniformGenerator(-1.0, 2.0, [2000]), x]
    )
    data = eddl.serialize_net_to_onnx_string(Model([x], [out]))
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = sess.run(None, {x.name: np.full((3, 2), 7.0, np.float32)})[0]
    assert got.shape == (3, 4002)
    gauss, unif = got[:, :2000], got[:, 2000:4000]
    assert abs(gauss.mean() - 3.0) < 0.05 and abs(gauss.std() - 0.5) < 0.05
    assert unif.min() >= -1.0 and unif.max() < 2.0 and abs(unif.mean() - 0.5) < 0.05
    assert (got[:, 4000:] == 7.0).all()
    again = eddl.import_net_from_onnx_string(data)
    assert [l.kind for l in again.layers] == [l.kind for l in Model([x], [out]).layers]
    assert {"GaussGenerator", "UniformGenerator"} <= {l.kind for l in again.layers}


def test_a_foreign_sorted_gather_imports_as_repeat() -> None:
    x = eddl.Input([3, 4])
    proto_bytes = eddl.serialize_net_to_onnx_string(Model([x], [eddl.Repeat(x, [2, 1, 0], 0)]))
    proto = onnx.load_from_string(proto_bytes)
    del proto.metadata_props[:]
    net = eddl.import_net_from_onnx_string(proto.SerializeToString())
    assert [l.kind for l in net.layers] == ["Input", "Repeat"]
    assert net.layers[1].params == {"repeats": [2, 1, 0], "axis": 0}
