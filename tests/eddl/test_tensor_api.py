"""pyeddl's Tensor API beyond creation and files: math (new and in-place), reductions, shape ops,
indexing and image transforms, checked against numpy (a reference we did not write)."""

from __future__ import annotations

import numpy as np
import pytest

from deephealth.eddl import Tensor
from deephealth.eddl.tensor import TensorError, WrappingMode
from deephealth.eddl.tensor.math import UNARY

NUMPY = {
    "abs": np.abs, "acos": np.arccos, "asin": np.arcsin, "atan": np.arctan, "ceil": np.ceil,
    "cos": np.cos, "cosh": np.cosh, "exp": np.exp, "floor": np.floor, "log": np.log,
    "log2": np.log2, "log10": np.log10, "neg": np.negative, "reciprocal": np.reciprocal,
    "round": np.round, "rsqrt": lambda a: 1 / np.sqrt(a), "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "sign": np.sign, "sin": np.sin, "sinh": np.sinh, "sqr": np.square, "sqrt": np.sqrt,
    "tan": np.tan, "tanh": np.tanh, "trunc": np.trunc,
}  # fmt: skip


def test_every_unary_op_has_a_numpy_reference():
    assert set(UNARY) == set(NUMPY)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_new_and_in_place_match_numpy(name: str):
    a = np.linspace(0.1, 0.9, 12, dtype=np.float32).reshape(3, 4) * (1 if "a" in name[:1] else 2.3)
    t = Tensor.fromarray(a)
    view = np.asarray(t)
    expected = NUMPY[name](a.astype(np.float64))
    np.testing.assert_allclose(getattr(t, name)().getdata(), expected, rtol=2e-6, atol=1e-6)
    np.testing.assert_array_equal(t.getdata(), a)  # the new form leaves t alone
    assert getattr(t, f"{name}_")() is None
    np.testing.assert_allclose(view, expected, rtol=2e-6, atol=1e-6)  # same memory, changed


def test_arithmetic_static_and_in_place_forms():
    a = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    b = a[::-1].copy()
    t, u = Tensor.fromarray(a), Tensor.fromarray(b)
    for name, ref in (("add", np.add), ("sub", np.subtract), ("mult", np.multiply),
                      ("div", np.divide)):  # fmt: skip
        np.testing.assert_allclose(getattr(Tensor, name)(t, u).getdata(), ref(a, b), rtol=1e-6)
        np.testing.assert_allclose(getattr(Tensor, name)(t, 2).getdata(), ref(a, 2), rtol=1e-6)
    c = t.clone()
    c.mod_(4)
    np.testing.assert_array_equal(c.getdata(), np.fmod(a, 4))
    np.testing.assert_allclose(t.logn(3).getdata(), np.log(a) / np.log(3), rtol=1e-6)
    np.testing.assert_allclose(t.pow(2).getdata(), a**2)
    np.testing.assert_allclose(t.powb(2).getdata(), 2**a)
    np.testing.assert_array_equal(t.clampmin(3).getdata(), np.maximum(a, 3))
    np.testing.assert_array_equal(t.clampmax(3).getdata(), np.minimum(a, 3))
    np.testing.assert_array_equal(t.greater(3).getdata(), (a > 3).astype(np.float32))
    np.testing.assert_array_equal(t.equal(u).getdata(), (a == b).astype(np.float32))
    np.testing.assert_array_equal(Tensor.where(t.greater(3), t, u).getdata(), np.where(a > 3, a, b))
    np.testing.assert_allclose(Tensor.mult2D(t, Tensor.fromarray(b.T)).getdata(), a @ b.T)
    n = t.normalize(-1, 1).getdata()
    assert n.min() == -1 and n.max() == 1
    const = Tensor.full([2, 2], 5)
    const.normalize_(0, 1)  # a constant tensor has no range: it becomes min
    assert const.sum() == 0


def test_reductions_with_and_without_axis():
    a = np.random.default_rng(0).random((3, 4, 5), dtype=np.float32)
    t = Tensor.fromarray(a)
    assert t.sum() == pytest.approx(a.sum(), rel=1e-5) and t.max() == a.max()
    assert t.argmax() == int(a.argmax()) and t.argmin() == int(a.argmin())
    assert t.std() == pytest.approx(a.std(ddof=1), rel=1e-4)
    assert t.var(False) == pytest.approx(a.var(), rel=1e-4)
    assert t.median() == pytest.approx(np.median(a), rel=1e-6)
    np.testing.assert_allclose(t.max([1]).getdata(), a.max(1))
    np.testing.assert_allclose(
        t.mean([0, 2], True).getdata(), a.mean((0, 2), keepdims=True), rtol=1e-6
    )
    np.testing.assert_array_equal(t.argmax(2).getdata(), a.argmax(2))
    np.testing.assert_array_equal(t.sort().getdata().reshape(-1), np.sort(a.reshape(-1)))
    with pytest.raises(TensorError, match="axis 3 is outside a 3-D tensor"):
        t.sum([3])


def test_select_keeps_dims_and_set_select_writes_in_place():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = Tensor.fromarray(a)
    assert t.select(["1"]).shape == [1, 3, 4]
    np.testing.assert_array_equal(t.select(["1", "-1", "1:3"]).getdata(), a[1:2, 2:3, 1:3])
    view = np.asarray(t)
    t.set_select(["0", ":", "0"], Tensor.fromarray(np.full((3,), -1, np.float32)))
    t.set_select([":", "2"], 7)
    assert (view[0, :2, 0] == -1).all() and (view[:, 2] == 7).all()
    with pytest.raises(TensorError, match="index 5 is outside a dimension of size 2"):
        t.select(["5"])
    with pytest.raises(TensorError, match="does not fit the selected"):
        t.set_select(["0"], Tensor([5]))


def test_shape_ops_match_numpy():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = Tensor.fromarray(a)
    np.testing.assert_array_equal(t.permute([2, 0, 1]).getdata(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(Tensor.permute(t, [1, 0, 2]).getdata(), a.transpose(1, 0, 2))
    np.testing.assert_array_equal(t.moveaxis(0, 2).getdata(), np.moveaxis(a, 0, 2))
    np.testing.assert_array_equal(t.swapaxis(0, 2).getdata(), np.swapaxes(a, 0, 2))
    np.testing.assert_array_equal(Tensor.concat([t, t], 2).getdata(), np.concatenate([a, a], 2))
    np.testing.assert_array_equal(Tensor.stack([t, t], 1).getdata(), np.stack([a, a], 1))
    np.testing.assert_array_equal(Tensor.repeat(t, 2, 1).getdata(), np.repeat(a, 2, 1))
    np.testing.assert_array_equal(
        Tensor.repeat(t, [1, 0, 2], 1).getdata(), np.repeat(a, [1, 0, 2], 1)
    )
    np.testing.assert_array_equal(Tensor.tile(t, [1, 2, 1]).getdata(), np.tile(a, [1, 2, 1]))
    u = t.unsqueeze(1)
    assert u.shape == [2, 1, 3, 4] and u.squeeze().shape == [2, 3, 4]
    u.squeeze_(1)
    assert u.shape == [2, 3, 4]
    # EDDL's broadcast matches A's axes inside B's shape: [3] into [3, 4] repeats along axis 1
    b = Tensor.broadcast(Tensor.arange(0, 3, 1), Tensor([3, 4])).getdata()
    np.testing.assert_array_equal(b, np.repeat(np.arange(3, dtype=np.float32)[:, None], 4, 1))
    out = Tensor([4, 3, 4])
    assert Tensor.concat([t, t], 0, out) is out and out.sum() == 2 * a.sum()
    with pytest.raises(TensorError, match="concat along axis 0 of shapes"):
        Tensor.concat([t, Tensor([2, 2])], 0)


def test_image_transforms():
    img = np.zeros((1, 1, 5, 5), np.float32)
    img[0, 0, 1, 3] = 1.0  # row 1, col 3
    t = Tensor.fromarray(img)
    moved = t.shift([2, -1]).getdata()[0, 0]  # 2 rows down, 1 col left
    assert moved[3, 2] == 1.0 and moved.sum() == 1.0
    np.testing.assert_array_equal(t.flip(0).getdata(), img[..., ::-1, :])
    np.testing.assert_array_equal(t.flip(1).getdata(), img[..., ::-1])
    rot = t.rotate(90).getdata()[0, 0]  # counter-clockwise about the centre (2, 2)
    np.testing.assert_array_equal(rot, np.rot90(img[0, 0]))
    assert t.crop([1, 1], [3, 3]).shape == [1, 1, 3, 3]
    kept = t.crop([0, 0], [1, 2], cval=9, keep_size=True).getdata()[0, 0]
    assert kept[0, 0] == 0 and kept[4, 4] == 9 and kept.shape == (5, 5)
    cut = t.cutout([1, 3], [1, 3], 5).getdata()
    assert cut[0, 0, 1, 3] == 5 and cut.sum() == 5
    big = Tensor.ones([2, 3, 8, 8])
    assert big.scale([4, 6]).shape == [2, 3, 4, 6]
    zoom_out = big.scale([4, 4], WrappingMode.Constant, 0.0, keep_size=True).getdata()
    assert (
        zoom_out.shape == (2, 3, 8, 8) and zoom_out[0, 0, 0, 0] == 0 and zoom_out[0, 0, 4, 4] == 1
    )
    assert big.crop_scale([0, 0], [3, 3]).shape == [2, 3, 8, 8]
    with pytest.raises(TensorError, match="not supported here"):
        t.shift([1, 1], WrappingMode.Wrap)
    with pytest.raises(TensorError, match=r"box from \(0, 0\) to \(9, 9\) is not inside a 5x5"):
        t.crop([0, 0], [9, 9])


def test_hardware_and_properties():
    assert Tensor.hardware_supported()[0] == "cpu"
    assert Tensor.is_hardware_supported("cpu") and not Tensor.is_hardware_supported("fpga")
    t = Tensor([2, 3])
    assert t.stride == [3, 1] and t.numel() == 6 and t.device == 0 and len(t) == 2
    assert t.trace() == 0.0 and Tensor.eye(3).trace(0) == 3.0
    np.testing.assert_array_equal(Tensor.eye(3).diag(1).getdata(), np.zeros((3, 3)))
