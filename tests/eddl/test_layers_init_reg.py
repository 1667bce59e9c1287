"""Initializers (statistics, seeds, norms reset) and regularizers (penalty values)."""

from __future__ import annotations

import math

import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.layers.init import initialize_layer
from deephealth.eddl.layers.regularizers import regularization_penalty


def _dense(n_in=400, n_out=300):
    return eddl.Dense(eddl.Input([n_in]), n_out)


def test_default_is_glorot_uniform_with_zero_bias():
    torch.manual_seed(0)
    d = _dense()
    initialize_layer(d)
    w = d.module.weight
    bound = math.sqrt(6 / (400 + 300))
    assert w.abs().max() <= bound and w.abs().max() > 0.98 * bound
    assert abs(w.std().item() - bound / math.sqrt(3)) < 0.01 * bound
    assert torch.all(d.module.bias == 0)


@pytest.mark.parametrize(
    "wrap, std",
    [
        (eddl.GlorotNormal, math.sqrt(2 / 700)),
        (eddl.HeNormal, math.sqrt(2 / 400)),
        (eddl.HeUniform, math.sqrt(6 / 400) / math.sqrt(3)),
        (eddl.GlorotUniform, math.sqrt(6 / 700) / math.sqrt(3)),
        (lambda l: eddl.RandomNormal(l, 0.5, 0.2), 0.2),
    ],
)
def test_initializer_statistics(wrap, std):
    torch.manual_seed(0)
    d = wrap(_dense())
    assert isinstance(d, Layer) and d.initializer is not None
    initialize_layer(d)
    assert abs(d.module.weight.std().item() - std) < 0.03 * std


def test_uniform_constant_and_conv_fans():
    d = eddl.RandomUniform(_dense(), -0.3, 0.1)
    initialize_layer(d)
    w = d.module.weight
    assert w.min() >= -0.3 and w.max() <= 0.1 and abs(w.mean().item() + 0.1) < 0.01
    c = eddl.Constant(_dense(10, 5), 0.25)
    initialize_layer(c)
    assert torch.all(c.module.weight == 0.25) and torch.all(c.module.bias == 0)
    conv = eddl.HeUniform(eddl.Conv2D(eddl.Input([8, 10, 10]), 16, [3, 3]))
    initialize_layer(conv)
    assert conv.module.weight.abs().max() <= math.sqrt(6 / (8 * 9))


def test_seed_reproducible_and_pyeddl_default_seed_ignored():
    a, b = eddl.GlorotNormal(_dense(20, 10), seed=7), eddl.GlorotNormal(_dense(20, 10), seed=7)
    initialize_layer(a)
    initialize_layer(b)
    assert torch.equal(a.module.weight, b.module.weight)
    c, d = eddl.GlorotNormal(_dense(20, 10), 1234), eddl.GlorotNormal(_dense(20, 10), 1234)
    initialize_layer(c)
    initialize_layer(d)
    assert not torch.equal(c.module.weight, d.module.weight)
    assert a.initializer == ("GlorotNormal", (7,))


def test_norms_recurrent_and_embedding():
    x = eddl.Input([3, 4, 4])
    bn = eddl.BatchNormalization(x)
    with torch.no_grad():
        bn.module.weight.fill_(3.0)
        bn.module.running_mean.fill_(2.0)
    initialize_layer(bn)
    assert torch.all(bn.module.weight == 1) and torch.all(bn.module.bias == 0)
    assert torch.all(bn.module.running_mean == 0) and torch.all(bn.module.running_var == 1)
    lstm = eddl.Constant(eddl.LSTM(eddl.Input([5, 3]), 4), 0.5)
    initialize_layer(lstm)
    for name, p in lstm.module.named_parameters():
        assert torch.all(p == (0.0 if "bias" in name else 0.5)), name
    emb = eddl.RandomUniform(eddl.Embedding(eddl.Input([5]), 10, 5, 3, mask_zeros=True), 0.1, 0.2)
    initialize_layer(emb)
    assert torch.all(emb.module.weight[0] == 0) and emb.module.weight[1:].min() >= 0.1
    initialize_layer(x)  # an Input has no module: nothing to do


def test_initializer_errors():
    with pytest.raises(TypeError, match="wraps a layer"):
        eddl.GlorotUniform("dense")
    with pytest.raises(ValueError, match="min <= max"):
        eddl.RandomUniform(_dense(2, 2), 1.0, 0.0)


def test_regularization_penalty_values():
    d1 = eddl.L1(eddl.Dense(eddl.Input([3]), 2), 0.1)
    d2 = eddl.L2(eddl.Dense(d1, 2), 0.01)
    d3 = eddl.L1L2(eddl.Conv2D(eddl.Input([1, 3, 3]), 2, [2, 2]), 0.2, 0.3)
    plain = eddl.Dense(d2, 4)
    with torch.no_grad():
        for layer in (d1, d2, d3, plain):
            layer.module.weight.copy_(torch.randn_like(layer.module.weight))
            layer.module.bias.fill_(5.0)  # biases are not regularized
    w1, w2, w3 = d1.module.weight, d2.module.weight, d3.module.weight
    expected = (
        0.1 * w1.abs().sum() + 0.01 * (w2**2).sum() + 0.2 * w3.abs().sum() + 0.3 * (w3**2).sum()
    )
    got = regularization_penalty([d1, d2, d3, plain])
    torch.testing.assert_close(got, expected)
    got.backward()
    torch.testing.assert_close(w2.grad, 0.02 * w2.detach())
    assert plain.module.weight.grad is None
    zero = regularization_penalty([plain])
    assert zero.item() == 0.0 and zero.dim() == 0
    assert d1.regularizer == ("L1", (0.1,))
    with pytest.raises(ValueError, match=">= 0"):
        eddl.L2(plain, -1.0)
