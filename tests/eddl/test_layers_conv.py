"""Convolution layers against torch.nn.functional references with hand-computed padding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tests.eddl.layer_cases import run_graph

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import ShapeError


def _conv_out(layer, x):
    return run_graph([layer.parents[0]], layer, x)


@pytest.mark.parametrize(
    "size, kernel, stride, dilation, pads",
    [
        # (before, after) per axis, computed by hand from out = ceil(in / s)
        (8, 3, 1, 1, (1, 1)),
        (8, 3, 2, 1, (0, 1)),
        (8, 4, 1, 1, (1, 2)),
        (7, 2, 2, 1, (0, 1)),
        (8, 3, 1, 2, (2, 2)),
        (9, 5, 3, 1, (1, 2)),
    ],
)
def test_conv2d_same_padding_matches_keras(size, kernel, stride, dilation, pads):
    torch.manual_seed(0)
    x = eddl.Input([2, size, size])
    c = eddl.Conv2D(x, 3, [kernel, kernel], [stride, stride], "same", dilation_rate=[dilation] * 2)
    data = torch.randn(2, 2, size, size)
    got = _conv_out(c, data)
    a, b = pads
    ref = F.conv2d(F.pad(data, (a, b, a, b)), c.module.weight, c.module.bias, stride, 0, dilation)
    assert c.output_shape == (3, -(-size // stride), -(-size // stride))
    torch.testing.assert_close(got, ref)


def test_conv2d_valid_groups_and_no_bias():
    x = eddl.Input([4, 9, 7])
    c = eddl.Conv2D(x, 6, [3, 2], [2, 1], "valid", use_bias=False, groups=2)
    data = torch.randn(3, 4, 9, 7)
    ref = F.conv2d(data, c.module.weight, None, (2, 1), 0, 1, 2)
    assert c.module.bias is None
    assert c.output_shape == (6, 4, 6)
    torch.testing.assert_close(_conv_out(c, data), ref)


def test_conv1d_and_conv3d_same():
    x1 = eddl.Input([2, 10])
    c1 = eddl.Conv1D(x1, 3, [4], [2])
    d1 = torch.randn(2, 2, 10)
    ref1 = F.conv1d(F.pad(d1, (1, 1)), c1.module.weight, c1.module.bias, 2)  # total 2
    torch.testing.assert_close(_conv_out(c1, d1), ref1)
    x3 = eddl.Input([2, 4, 5, 6])
    c3 = eddl.Conv3D(x3, 3, [2, 3, 3], [1, 2, 1])
    d3 = torch.randn(2, 2, 4, 5, 6)
    # D: k2 s1 -> total 1 (0, 1); H: 5, k3 s2 -> out 3, total 2 (1, 1); W: k3 s1 -> (1, 1)
    ref3 = F.conv3d(F.pad(d3, (1, 1, 1, 1, 0, 1)), c3.module.weight, c3.module.bias, (1, 2, 1))
    assert c3.output_shape == (3, 4, 3, 6)
    torch.testing.assert_close(_conv_out(c3, d3), ref3)


def test_depthwise_and_pointwise():
    x = eddl.Input([3, 6, 6])
    dw = eddl.DepthwiseConv2D(x, [3, 3])
    assert dw.module.groups == 3 and dw.module.weight.shape == (3, 1, 3, 3)
    data = torch.randn(2, 3, 6, 6)
    ref = F.conv2d(data, dw.module.weight, dw.module.bias, 1, 1, 1, 3)
    torch.testing.assert_close(_conv_out(dw, data), ref)
    pw = eddl.PointwiseConv2D(x, 5)
    ref = F.conv2d(data, pw.module.weight, pw.module.bias)
    assert pw.module.weight.shape == (5, 3, 1, 1)
    torch.testing.assert_close(_conv_out(pw, data), ref)


@pytest.mark.parametrize(
    "size, kernel, stride, padding, out, crop",
    [
        (4, 3, 2, "same", 8, (0, 1)),  # full 9: total k - s = 1 -> (0, 1)
        (4, 2, 2, "same", 8, (0, 0)),
        (4, 4, 2, "same", 8, (1, 1)),
        (4, 1, 2, "same", 8, (0, -1)),  # k < s: one extra zero row at the end
        (4, 3, 1, "valid", 6, (0, 0)),
        (4, 3, 2, "valid", 9, (0, 0)),
    ],
)
def test_conv_transpose_2d(size, kernel, stride, padding, out, crop):
    x = eddl.Input([2, size, size])
    ct = eddl.ConvT2D(x, 3, [kernel, kernel], [stride, stride], padding)
    data = torch.randn(2, 2, size, size)
    full = F.conv_transpose2d(data, ct.module.weight, ct.module.bias, stride)
    a, b = crop
    if b >= 0:
        ref = full[:, :, a : full.shape[2] - b, a : full.shape[3] - b]
    else:  # pad with the bias only (no input reaches those positions)
        ref = F.pad(full, (0, -b, 0, -b))
        ref[:, :, -1, :] = ct.module.bias.view(1, -1, 1)
        ref[:, :, :, -1] = ct.module.bias.view(1, -1, 1)
    assert ct.output_shape == (3, out, out)
    torch.testing.assert_close(run_graph([x], ct, data), ref)


def test_conv_transpose_3d_same():
    x = eddl.Input([2, 3, 4, 4])
    ct = eddl.ConvT3D(x, 2, [3, 3, 3], [2, 2, 2])
    data = torch.randn(1, 2, 3, 4, 4)
    full = F.conv_transpose3d(data, ct.module.weight, ct.module.bias, 2)
    torch.testing.assert_close(run_graph([x], ct, data), full[:, :, :6, :8, :8])


def test_conv_alias_picks_dimension():
    assert eddl.Conv(eddl.Input([3, 8, 8]), 2, [3, 3]).kind == "Conv2D"
    assert eddl.Conv(eddl.Input([3, 8]), 2, 3).kind == "Conv1D"
    assert eddl.ConvT is eddl.ConvT2D


def test_conv_shape_errors_name_layers_and_shapes():
    d = eddl.Dense(eddl.Input([10]), 5, name="fc")
    with pytest.raises(ShapeError) as err:
        eddl.Conv2D(d, 4, [3, 3], name="conv_a")
    msg = str(err.value)
    assert "conv_a" in msg and "fc" in msg and "(5,)" in msg
    x = eddl.Input([3, 4, 4], name="img")
    with pytest.raises(ShapeError, match=r"img.*\(3, 4, 4\).*does not fit"):
        eddl.Conv2D(x, 4, [5, 5], padding="valid", name="big")
    with pytest.raises(ShapeError, match="groups=2"):
        eddl.Conv2D(x, 4, [3, 3], groups=2)
    with pytest.raises(ValueError, match="padding"):
        eddl.Conv2D(x, 4, [3, 3], padding="full")
    with pytest.raises(ValueError, match="kernel_size needs 2"):
        eddl.Conv2D(x, 4, [3, 3, 3])
    with pytest.raises(ValueError, match="filters"):
        eddl.Conv2D(x, 0, [3, 3])


def test_symmetric_padding_uses_native_module():
    x = eddl.Input([3, 8, 8])
    assert type(eddl.Conv2D(x, 4, [3, 3]).module) is torch.nn.Conv2d
    assert type(eddl.ConvT2D(x, 4, [2, 2], [2, 2]).module) is torch.nn.ConvTranspose2d
    assert type(eddl.MaxPool2D(x).module) is torch.nn.MaxPool2d
