"""Attention layers: MultiHeadAttention equals torch's reference `nn.MultiheadAttention`, causal
attention ignores later positions, LayerNormalization(axis=-1) normalizes per position, and a
tiny causal Transformer learns a shifted-copy task with pyeddl's `fit`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import ShapeError
from deephealth.eddl.model import Model


def _reference(layer, causal: bool) -> torch.nn.MultiheadAttention:
    m = layer.module
    embed = layer.params["embed_dim"]
    ref = torch.nn.MultiheadAttention(embed, layer.params["num_heads"], batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([m.q.weight, m.k.weight, m.v.weight]))
        ref.in_proj_bias.copy_(torch.cat([m.q.bias, m.k.bias, m.v.bias]))
        ref.out_proj.weight.copy_(m.o.weight)
        ref.out_proj.bias.copy_(m.o.bias)
    return ref.eval()


@pytest.mark.parametrize("causal", [False, True])
def test_self_attention_equals_torch_multihead_attention(causal):
    torch.manual_seed(0)
    x = eddl.Input([6, 8])
    att = eddl.MultiHeadAttention(x, num_heads=2, causal=causal)
    net = Model([x], [att])
    data = torch.randn(3, 6, 8)
    with torch.no_grad():
        got = net.graph.eval()(data)[0]
        mask = torch.ones(6, 6, dtype=torch.bool).triu(1) if causal else None
        want = _reference(att, causal)(data, data, data, attn_mask=mask, need_weights=False)[0]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_cross_attention_equals_torch_and_causal_ignores_later_tokens():
    torch.manual_seed(1)
    q, mem = eddl.Input([4, 8]), eddl.Input([9, 8])
    cross = eddl.MultiHeadAttention(q, mem, num_heads=4)
    net = Model([q, mem], [cross])
    a, m = torch.randn(2, 4, 8), torch.randn(2, 9, 8)
    with torch.no_grad():
        want = _reference(cross, False)(a, m, m, need_weights=False)[0]
        torch.testing.assert_close(net.graph.eval()(a, m)[0], want, atol=1e-5, rtol=1e-5)

    x = eddl.Input([5, 8])
    causal = Model([x], [eddl.MultiHeadAttention(x, num_heads=2, causal=True)])
    seq = torch.randn(1, 5, 8)
    later = seq.clone()
    later[:, 3:] = torch.randn(1, 2, 8)
    with torch.no_grad():
        before, after = causal.graph.eval()(seq)[0], causal.graph(later)[0]
    torch.testing.assert_close(before[:, :3], after[:, :3])
    assert not torch.allclose(before[:, 3:], after[:, 3:])


def test_layer_normalization_last_axis_and_shape_errors():
    x = eddl.Input([3, 4])
    norm = Model([x], [eddl.LayerNormalization(x, False, axis=-1)])
    data = torch.randn(2, 3, 4) * 5 + 2
    with torch.no_grad():
        out = norm.graph(data)[0]
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out, torch.nn.functional.layer_norm(data, [4]), atol=1e-6, rtol=1e-6)
    with pytest.raises(ShapeError, match="multiple of num_heads"):
        eddl.MultiHeadAttention(x, num_heads=3)
    with pytest.raises(ShapeError, match=r"\(T, features\)"):
        eddl.MultiHeadAttention(eddl.Input([8]))
    with pytest.raises(ShapeError, match="axis must be 1 or -1"):
        eddl.LayerNormalization(x, axis=0)


def test_causal_transformer_learns_to_repeat_the_previous_token():
    """Output at t = input at t - 1 (0 at t = 0): learnable only by attending to the previous
    position, which causal attention allows; trained with pyeddl's fit."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    t, vocab = 8, 10
    x_ids = rng.integers(1, vocab, (600, t))
    y_ids = np.concatenate([np.zeros((600, 1), int), x_ids[:, :-1]], 1)
    x = eddl.Input([t])
    h = eddl.PositionalEmbedding(eddl.Embedding(x, vocab, t, 32))
    att = eddl.MultiHeadAttention(h, num_heads=4, causal=True)
    h = eddl.LayerNormalization(eddl.Add(h, att), axis=-1)
    net = Model([x], [eddl.Softmax(eddl.Dense(h, vocab))])
    eddl.build(net, eddl.adam(0.01), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU())
    target = np.eye(vocab, dtype=np.float32)[y_ids]
    eddl.fit(net, [x_ids.astype(np.float32)], [target], 32, 10, verbose=0)
    probs = eddl.predict(net, [x_ids[:200].astype(np.float32)])[0].numpy()
    assert float((probs.argmax(-1) == y_ids[:200]).mean()) >= 0.95
