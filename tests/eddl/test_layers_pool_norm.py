"""Pooling and normalization layers against numpy / torch.nn.functional references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tests.eddl.layer_cases import run_graph

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import ShapeError


def _np_pool(x: np.ndarray, k: int, s: int, pads: tuple[int, int], op: str) -> np.ndarray:
    """2-D pooling over (N, C, H, W) by loops; padded cells are ignored."""
    n, c, h, w = x.shape
    a, b = pads
    oh, ow = (h + a + b - k) // s + 1, (w + a + b - k) // s + 1
    out = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - a, j * s - a
            win = x[:, :, max(r0, 0) : min(r0 + k, h), max(c0, 0) : min(c0 + k, w)]
            out[:, :, i, j] = win.max(axis=(2, 3)) if op == "max" else win.mean(axis=(2, 3))
    return out


@pytest.mark.parametrize(
    "size, k, s, padding, pads",
    [(8, 2, 2, "none", (0, 0)), (7, 3, 2, "same", (1, 1)), (8, 2, 1, "same", (0, 1)),
     (8, 3, 3, "same", (0, 1)), (9, 3, 2, "valid", (0, 0))],
)  # fmt: skip
@pytest.mark.parametrize("op", ["max", "avg"])
def test_pool2d_against_numpy(size, k, s, padding, pads, op):
    x = eddl.Input([2, size, size])
    ctor = eddl.MaxPool2D if op == "max" else eddl.AveragePool2D
    p = ctor(x, [k, k], [s, s], padding)
    data = torch.randn(2, 2, size, size)
    ref = _np_pool(data.numpy(), k, s, pads, op)
    assert p.output_shape == (2, *ref.shape[2:])
    np.testing.assert_allclose(run_graph([x], p, data).numpy(), ref, rtol=1e-5, atol=1e-6)


def test_pool1d_3d_and_global():
    x1 = eddl.Input([3, 10])
    d1 = torch.randn(2, 3, 10)
    torch.testing.assert_close(run_graph([x1], eddl.MaxPool1D(x1), d1), F.max_pool1d(d1, 2))
    torch.testing.assert_close(
        run_graph([x1], eddl.AvgPool1D(x1, [3], [1]), d1), F.avg_pool1d(d1, 3, 1)
    )
    x3 = eddl.Input([2, 4, 4, 4])
    d3 = torch.randn(2, 2, 4, 4, 4)
    torch.testing.assert_close(run_graph([x3], eddl.MaxPool3D(x3), d3), F.max_pool3d(d3, 2))
    torch.testing.assert_close(run_graph([x3], eddl.AvgPool3D(x3), d3), F.avg_pool3d(d3, 2))
    g = eddl.GlobalAveragePool3D(x3)
    assert g.output_shape == (2, 1, 1, 1)
    np.testing.assert_allclose(
        run_graph([x3], g, d3).numpy(), d3.numpy().mean(axis=(2, 3, 4), keepdims=True), rtol=1e-5
    )
    x2 = eddl.Input([3, 5, 6])
    d2 = torch.randn(2, 3, 5, 6)
    gm = eddl.GlobalMaxPool(x2)
    assert gm.output_shape == (3, 1, 1)
    np.testing.assert_allclose(
        run_graph([x2], gm, d2).numpy(), d2.numpy().max(axis=(2, 3), keepdims=True)
    )
    np.testing.assert_allclose(
        run_graph([x1], eddl.GlobalMaxPool1D(x1), d1).numpy(), d1.numpy().max(2, keepdims=True)
    )


def test_pool_errors():
    x = eddl.Input([3, 8], name="seq")
    with pytest.raises(ShapeError, match=r"seq.*\(3, 8\)"):
        eddl.MaxPool2D(x)
    with pytest.raises(ValueError, match="padding"):
        eddl.MaxPool2D(eddl.Input([3, 8, 8]), padding="weird")
    with pytest.raises(ShapeError, match="does not fit"):
        eddl.MaxPool2D(eddl.Input([3, 1, 1]), [2, 2])


def test_batchnorm_train_eval_and_momentum():
    x = eddl.Input([3, 4, 4])
    bn = eddl.BatchNormalization(x, True, 0.9, 1e-5)
    assert isinstance(bn.module, torch.nn.BatchNorm2d)
    assert bn.module.momentum == pytest.approx(0.1)  # torch = 1 - eddl
    data = torch.randn(5, 3, 4, 4) * 2 + 1
    got = run_graph([x], bn, data, train=True)
    a = data.numpy()
    mean = a.mean(axis=(0, 2, 3), keepdims=True)
    var = a.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(got.detach().numpy(), (a - mean) / np.sqrt(var + 1e-5), atol=1e-4)
    # EDDL running statistic: 0.9 * old + 0.1 * batch mean
    np.testing.assert_allclose(bn.module.running_mean.numpy(), 0.1 * mean.ravel(), rtol=1e-5)
    ev = run_graph([x], bn, data, train=False)
    rm = bn.module.running_mean.view(1, -1, 1, 1)
    rv = bn.module.running_var.view(1, -1, 1, 1)
    torch.testing.assert_close(ev, (data - rm) / torch.sqrt(rv + 1e-5))


def test_batchnorm_arguments():
    x = eddl.Input([6])
    bn = eddl.BatchNormalization(x)
    assert bn.params == {"affine": True, "momentum": 0.9, "epsilon": 1e-5}
    assert isinstance(bn.module, torch.nn.BatchNorm1d)
    assert eddl.BatchNormalization(x, False).module.weight is None
    old = eddl.BatchNormalization(x, 0.99, 0.001, False)  # EDDL's older overload
    assert old.params == {"affine": False, "momentum": 0.99, "epsilon": 0.001}
    with pytest.raises(ValueError, match="momentum"):
        eddl.BatchNormalization(x, True, 1.5)
    seq = eddl.Input([4, 7])
    assert isinstance(eddl.BatchNormalization(seq).module, torch.nn.BatchNorm1d)


def test_layer_and_group_normalization():
    x = eddl.Input([4, 3, 3])
    data = torch.randn(2, 4, 3, 3)
    ln = eddl.LayerNormalization(x)
    a = data.numpy().reshape(2, -1)
    ref = (a - a.mean(1, keepdims=True)) / np.sqrt(a.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(
        run_graph([x], ln, data).detach().numpy().reshape(2, -1), ref, atol=1e-5
    )
    gn = eddl.GroupNormalization(x, 2)
    g = data.numpy().reshape(2, 2, -1)
    ref = (g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + 1e-3)
    np.testing.assert_allclose(
        run_graph([x], gn, data).detach().numpy().reshape(2, 2, -1), ref, atol=1e-5
    )
    with pytest.raises(ShapeError, match="groups=3"):
        eddl.GroupNormalization(x, 3)
    assert eddl.LayerNormalization(x, False).module.weight is None
