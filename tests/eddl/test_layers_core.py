"""Core layers (activations, Dropout, GaussianNoise, reshaping, Select/Split, Embedding, Pad,
UpSampling, Resize) against numpy / torch.nn.functional references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tests.eddl.layer_cases import run_graph

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import ShapeError


def _one(shape, make, data=None, train=False):
    x = eddl.Input(list(shape))
    out = make(x)
    data = torch.randn(2, *shape) if data is None else data
    return out, data, run_graph([x], out, data, train=train)


@pytest.mark.parametrize(
    "make, ref",
    [
        (eddl.ReLu, lambda v: np.maximum(v, 0)),
        (lambda x: eddl.LeakyReLu(x, 0.2), lambda v: np.where(v > 0, v, 0.2 * v)),
        (eddl.Elu, lambda v: np.where(v > 0, v, np.exp(v) - 1)),
        (eddl.Sigmoid, lambda v: 1 / (1 + np.exp(-v))),
        (eddl.HardSigmoid, lambda v: np.clip(0.2 * v + 0.5, 0, 1)),
        (eddl.Softplus, lambda v: np.log1p(np.exp(v))),
        (eddl.Softsign, lambda v: v / (1 + np.abs(v))),
        (eddl.Tanh, np.tanh),
        (lambda x: eddl.Linear(x, 2.0), lambda v: 2 * v),
        (eddl.Exponential, np.exp),
        (lambda x: eddl.ThresholdedReLu(x, 0.5), lambda v: np.where(v > 0.5, v, 0)),
        (lambda x: eddl.Softmax(x, 0), lambda v: np.exp(v) / np.exp(v).sum(1, keepdims=True)),
        (eddl.Softmax, lambda v: np.exp(v) / np.exp(v).sum(2, keepdims=True)),
    ],
)
def test_activations(make, ref):
    _, data, got = _one((3, 4), make)
    np.testing.assert_allclose(got.numpy(), ref(data.numpy()), rtol=1e-5, atol=1e-6)


def test_dropout_train_and_eval():
    torch.manual_seed(0)
    data = torch.ones(4, 1000)
    out, _, got = _one((1000,), lambda x: eddl.Dropout(x, 0.25), data, train=True)
    kept = got != 0
    assert 0.70 < kept.float().mean() < 0.80
    np.testing.assert_allclose(got[kept].numpy(), 1 / 0.75, rtol=1e-6)  # inverted dropout
    assert torch.equal(run_graph([out.parents[0]], out, data, train=False), data)
    out2, _, got2 = _one((1000,), lambda x: eddl.Dropout(x, 0.25, iw=False), data, train=True)
    assert set(got2.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(run_graph([out2.parents[0]], out2, data), data)
    with pytest.raises(ValueError, match="rate"):
        eddl.Dropout(eddl.Input([3]), 1.0)


def test_gaussian_noise():
    torch.manual_seed(0)
    data = torch.zeros(8, 5000)
    out, _, got = _one((5000,), lambda x: eddl.GaussianNoise(x, 0.3), data, train=True)
    assert abs(got.std().item() - 0.3) < 0.01 and abs(got.mean().item()) < 0.01
    assert torch.equal(run_graph([out.parents[0]], out, data), data)


def test_reshape_family():
    data = torch.randn(2, 2, 3, 4)
    a = data.numpy()
    _, _, got = _one((2, 3, 4), eddl.Flatten, data)
    np.testing.assert_array_equal(got.numpy(), a.reshape(2, -1))
    out, _, got = _one((2, 3, 4), lambda x: eddl.Reshape(x, [4, -1]), data)
    assert out.output_shape == (4, 6)
    np.testing.assert_array_equal(got.numpy(), a.reshape(2, 4, 6))
    out, _, got = _one((2, 3, 4), lambda x: eddl.Permute(x, [2, 0, 1]), data)
    np.testing.assert_array_equal(got.numpy(), a.transpose(0, 3, 1, 2))
    out, _, got = _one((2, 3, 4), eddl.Transpose, data)
    np.testing.assert_array_equal(got.numpy(), a.swapaxes(2, 3))
    d1 = torch.randn(2, 1, 3, 1)
    out, _, got = _one((1, 3, 1), eddl.Squeeze, d1)
    assert out.output_shape == (3,)
    out, _, got = _one((1, 3, 1), lambda x: eddl.Squeeze(x, 0), d1)
    assert out.output_shape == (3, 1)
    np.testing.assert_array_equal(got.numpy(), d1.numpy()[:, 0])
    out, _, got = _one((3, 4), lambda x: eddl.Unsqueeze(x, 1), torch.randn(2, 3, 4))
    assert out.output_shape == (3, 1, 4) and got.shape == (2, 3, 1, 4)


def test_reshape_errors():
    x = eddl.Input([2, 3], name="src")
    with pytest.raises(ShapeError, match=r"src.*\(2, 3\).*cannot reshape"):
        eddl.Reshape(x, [4, -1])
    with pytest.raises(ShapeError, match="one -1"):
        eddl.Reshape(x, [-1, -1])
    with pytest.raises(ShapeError, match="permutation"):
        eddl.Permute(x, [0, 0])
    with pytest.raises(ShapeError, match="not 1"):
        eddl.Squeeze(x, 0)


def test_select_slice_split():
    data = torch.randn(2, 4, 5, 6)
    a = data.numpy()
    out, _, got = _one((4, 5, 6), lambda x: eddl.Select(x, ["1:3", ":", "2"]), data)
    assert out.output_shape == (2, 5, 1)
    np.testing.assert_array_equal(got.numpy(), a[:, 1:3, :, 2:3])
    out, _, got = _one((4, 5, 6), lambda x: eddl.Slice(x, ["-2:", "0:2"]), data)
    np.testing.assert_array_equal(got.numpy(), a[:, -2:, 0:2, :])
    x = eddl.Input([4, 5, 6])
    parts = eddl.Split(x, [2, 5], axis=-1)
    assert [p.output_shape for p in parts] == [(4, 5, 2), (4, 5, 3), (4, 5, 1)]
    for p, ref in zip(parts, np.split(a, [2, 5], axis=3)):
        np.testing.assert_array_equal(run_graph([x], p, data).numpy(), ref)
    with pytest.raises(ValueError, match="increase"):
        eddl.Split(x, [3, 2], axis=0)
    with pytest.raises(ShapeError, match="outside"):
        eddl.Select(x, ["7"])
    with pytest.raises(ValueError, match="Select indices"):
        eddl.Select(x, ["a:b"])
    with pytest.raises(ShapeError, match="selects nothing"):
        eddl.Select(x, ["3:1"])


def test_embedding():
    x = eddl.Input([5])
    emb = eddl.Embedding(x, 10, 5, 3)
    idx = torch.tensor([[0, 1, 9, 3, 3], [2, 2, 2, 2, 2]]).float()
    got = run_graph([x], emb, idx)
    assert emb.output_shape == (5, 3)
    np.testing.assert_array_equal(
        got.detach().numpy(), emb.module.weight.detach().numpy()[idx.long()]
    )
    x1 = eddl.Input([5, 1])
    emb1 = eddl.Embedding(x1, 10, 5, 3, mask_zeros=True)
    assert emb1.output_shape == (5, 3)
    got = run_graph([x1], emb1, idx.unsqueeze(-1))
    assert torch.all(got[0, 0] == 0)


def test_pad():
    data = torch.randn(2, 3, 4, 5)
    out, _, got = _one((3, 4, 5), lambda x: eddl.Pad(x, [1, 2]), data)
    assert out.output_shape == (3, 6, 9)
    np.testing.assert_array_equal(
        got.numpy(), np.pad(data.numpy(), [(0, 0), (0, 0), (1, 1), (2, 2)])
    )
    out, _, got = _one((3, 4, 5), lambda x: eddl.Pad(x, [1, 0, 2, 3], 0.5), data)  # t, r, b, l
    ref = np.pad(data.numpy(), [(0, 0), (0, 0), (1, 2), (3, 0)], constant_values=0.5)
    np.testing.assert_array_equal(got.numpy(), ref)
    with pytest.raises(ValueError, match="2 or 4"):
        eddl.Pad(eddl.Input([3, 4, 5]), [1, 2, 3])


def test_upsampling_and_resize():
    data = torch.randn(2, 3, 4, 5)
    a = data.numpy()
    out, _, got = _one((3, 4, 5), lambda x: eddl.UpSampling2D(x, [2, 3]), data)
    assert out.output_shape == (3, 8, 15)
    np.testing.assert_array_equal(got.numpy(), a.repeat(2, axis=2).repeat(3, axis=3))
    _, _, got = _one((3, 4, 5), lambda x: eddl.UpSampling(x, [2, 2], "bilinear"), data)
    ref = F.interpolate(data, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(got, ref)
    d3 = torch.randn(1, 2, 2, 3, 3)
    out, _, got = _one((2, 2, 3, 3), lambda x: eddl.UpSampling3D(x, [4, 6, 6]), d3)
    assert out.output_shape == (2, 4, 6, 6)
    np.testing.assert_array_equal(
        got.numpy(), d3.numpy().repeat(2, axis=2).repeat(2, axis=3).repeat(2, axis=4)
    )
    _, _, got = _one(
        (2, 2, 3, 3), lambda x: eddl.UpSampling3D(x, [4, 6, 6], interpolation="trilinear"), d3
    )
    torch.testing.assert_close(got, F.interpolate(d3, size=(4, 6, 6), mode="trilinear"))
    # nearest "asymmetric": out[i] = in[floor(i * in / out)]
    out, _, got = _one((3, 4, 5), lambda x: eddl.Resize(x, [3, 7]), data)
    rows = np.floor(np.arange(3) * 4 / 3).astype(int)
    cols = np.floor(np.arange(7) * 5 / 7).astype(int)
    np.testing.assert_array_equal(got.numpy(), a[:, :, rows][:, :, :, cols])
    # reshape=False keeps the size: a smaller image is padded around with the constant
    out, _, got = _one(
        (3, 4, 4), lambda x: eddl.Resize(x, [2, 2], False, constant=7.0), data[..., :4]
    )
    assert out.output_shape == (3, 4, 4)
    assert torch.all(got[:, :, 0] == 7.0) and torch.all(got[:, :, 1:3, 1:3] != 7.0)
    with pytest.raises(ShapeError, match="Resize"):
        eddl.Resize(eddl.Input([3, 4]), [2, 2])
    with pytest.raises(ValueError, match="interpolation"):
        eddl.UpSampling2D(eddl.Input([3, 4, 4]), [2, 2], "cubic")
