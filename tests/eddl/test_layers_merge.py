"""Merge, operator and reduction layers against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.eddl.layer_cases import run_graph

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import ShapeError


def _two(shape_a=(3, 4), shape_b=(3, 4)):
    a, b = eddl.Input(list(shape_a)), eddl.Input(list(shape_b))
    da = torch.rand(2, *shape_a) + 0.5
    db = torch.rand(2, *shape_b) + 0.5
    return a, b, da, db


@pytest.mark.parametrize(
    "make, ref",
    [
        (lambda a, b: eddl.Add([a, b]), lambda x, y: x + y),
        (lambda a, b: eddl.Add(a, b), lambda x, y: x + y),
        (lambda a, b: eddl.Sum(a, b), lambda x, y: x + y),
        (lambda a, b: eddl.Subtract([a, b]), lambda x, y: x - y),
        (lambda a, b: eddl.Diff(a, b), lambda x, y: x - y),
        (lambda a, b: eddl.Mult(a, b), lambda x, y: x * y),
        (lambda a, b: eddl.Div(a, b), lambda x, y: x / y),
        (lambda a, b: eddl.Pow(a, b), lambda x, y: x**y),
        (lambda a, b: eddl.Maximum([a, b]), np.maximum),
        (lambda a, b: eddl.Minimum([a, b]), np.minimum),
        (lambda a, b: eddl.Average([a, b]), lambda x, y: (x + y) / 2),
    ],
)
def test_binary(make, ref):
    a, b, da, db = _two()
    out = make(a, b)
    got = run_graph([a, b], out, da, db).numpy()
    np.testing.assert_allclose(got, ref(da.numpy(), db.numpy()), rtol=1e-5)


def test_many_parents_and_broadcast():
    a, b, da, db = _two((3, 4), (1, 4))
    c = eddl.Input([3, 4])
    dc = torch.randn(2, 3, 4)
    out = eddl.Add([a, b, c])
    assert out.output_shape == (3, 4)
    np.testing.assert_allclose(
        run_graph([a, b, c], out, da, db, dc).numpy(), (da + db + dc).numpy(), rtol=1e-6
    )
    mx = eddl.Maximum([a, c, a])
    np.testing.assert_allclose(
        run_graph([a, c], mx, da, dc).numpy(), np.maximum(da.numpy(), dc.numpy())
    )


@pytest.mark.parametrize(
    "make, ref",
    [
        (lambda x: eddl.Sum(x, 2.0), lambda v: v + 2),
        (lambda x: eddl.Add(3.0, x), lambda v: v + 3),
        (lambda x: eddl.Diff(x, 1.5), lambda v: v - 1.5),
        (lambda x: eddl.Diff(1.5, x), lambda v: 1.5 - v),
        (lambda x: eddl.Sub(x, 1.0), lambda v: v - 1),
        (lambda x: eddl.Mult(2.0, x), lambda v: 2 * v),
        (lambda x: eddl.Div(x, 4.0), lambda v: v / 4),
        (lambda x: eddl.Div(1.0, x), lambda v: 1 / v),
        (lambda x: eddl.Pow(x, 3.0), lambda v: v**3),
        (lambda x: eddl.Abs(x), np.abs),
        (lambda x: eddl.Exp(x), np.exp),
        (lambda x: eddl.Log(x), np.log),
        (lambda x: eddl.Log2(x), np.log2),
        (lambda x: eddl.Log10(x), np.log10),
        (lambda x: eddl.Sqrt(x), np.sqrt),
        (lambda x: eddl.Clamp(x, 0.7, 1.2), lambda v: np.clip(v, 0.7, 1.2)),
    ],
)
def test_scalar_and_unary(make, ref):
    x = eddl.Input([5])
    data = torch.rand(3, 5) + 0.5
    np.testing.assert_allclose(run_graph([x], make(x), data).numpy(), ref(data.numpy()), rtol=1e-5)


def test_matmul_and_concat():
    a, b = eddl.Input([3, 4]), eddl.Input([4, 2])
    da, db = torch.randn(2, 3, 4), torch.randn(2, 4, 2)
    mm = eddl.MatMul([a, b])
    assert mm.output_shape == (3, 2)
    np.testing.assert_allclose(
        run_graph([a, b], mm, da, db).numpy(), da.numpy() @ db.numpy(), rtol=1e-5
    )
    c1, c2 = eddl.Input([2, 4, 4]), eddl.Input([3, 4, 4])
    d1, d2 = torch.randn(2, 2, 4, 4), torch.randn(2, 3, 4, 4)
    cat = eddl.Concat([c1, c2])
    assert cat.output_shape == (5, 4, 4)
    np.testing.assert_array_equal(
        run_graph([c1, c2], cat, d1, d2).numpy(), np.concatenate([d1, d2], axis=1)
    )
    w1, w2 = eddl.Input([2, 4, 3]), eddl.Input([2, 4, 5])
    last = eddl.Concat([w1, w2], axis=-1)
    assert last.output_shape == (2, 4, 8)


def test_merge_shape_errors_name_layers_and_shapes():
    a, b = eddl.Input([3, 4], name="left"), eddl.Input([5, 4], name="right")
    with pytest.raises(ShapeError) as err:
        eddl.Add([a, b], name="sum1")
    msg = str(err.value)
    assert all(s in msg for s in ("sum1", "left", "right", "(3, 4)", "(5, 4)"))
    with pytest.raises(ShapeError, match=r"Concat.*right.*\(5, 4\)"):
        eddl.Concat([a, b], axis=1)
    with pytest.raises(ShapeError, match="MatMul"):
        eddl.MatMul([a, a])
    with pytest.raises(ShapeError, match="parent"):
        eddl.Subtract([a, a, a])
    with pytest.raises(TypeError, match="layers or a layer and a number"):
        eddl.Mult(1.0, 2.0)


@pytest.mark.parametrize(
    "make, axes, keep, ref",
    [
        (eddl.ReduceMean, [1], False, np.mean),
        (eddl.ReduceSum, [0], True, np.sum),
        (eddl.ReduceMax, [0, 2], False, np.max),
        (eddl.ReduceMin, [-1], False, np.min),
        (eddl.ReduceVar, [1, 2], True, np.var),
    ],
)
def test_reductions(make, axes, keep, ref):
    x = eddl.Input([3, 4, 5])
    data = torch.randn(2, 3, 4, 5)
    r = make(x, axes, keep)
    axis = tuple(a % 3 + 1 for a in axes)
    expected = ref(data.numpy(), axis=axis, keepdims=keep)
    assert r.output_shape == expected.shape[1:]
    np.testing.assert_allclose(run_graph([x], r, data).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_argmax_and_reduction_errors():
    x = eddl.Input([3, 4])
    data = torch.randn(2, 3, 4)
    am = eddl.ReduceArgMax(x, [1])
    np.testing.assert_array_equal(run_graph([x], am, data).numpy(), data.numpy().argmax(2))
    with pytest.raises(ShapeError, match="axis 2"):
        eddl.ReduceMean(x, [2])
