"""Attention layers for Transformer networks: MultiHeadAttention and PositionalEmbedding.

Both work on token sequences in the Keras form, `(T, features)` per sample:

- `MultiHeadAttention(query, key, value, num_heads, embed_dim, causal)`: scaled dot-product
  attention with `num_heads` heads, the query/key/value/output projections of "Attention Is All
  You Need". One parent is self-attention (key = value = query), two are cross-attention (key =
  value = the second parent, e.g. an image's feature map as a sequence of positions). `causal`
  lets position t see positions <= t only (a decoder's self-attention), so the output at t does
  not depend on later tokens: a decoder fed a zero-padded prefix gives exact next-token outputs.
- `PositionalEmbedding(parent)`: adds a learned vector per position, `(T, E)` trained weights.

Per-position layer normalization is `LayerNormalization(x, axis=-1)` (`normalization.py`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, ShapeError, register, single

#: the additive mask value of the causal positions (finite, so a softmax never sees -inf - -inf)
MASK_VALUE = -1e9


def causal_mask(tq: int, tk: int) -> torch.Tensor:
    """(tq, tk) float mask: 0 where key position <= query position, `MASK_VALUE` elsewhere."""
    future = torch.ones(tq, tk, dtype=torch.bool).triu(1 + tk - tq)
    return torch.zeros(tq, tk).masked_fill(future, MASK_VALUE)


class MultiHeadAttentionModule(nn.Module):
    """Projections `q`, `k`, `v`, `o` (nn.Linear) and the attention of `num_heads` heads."""

    def __init__(self, dims: tuple[int, int, int], params: dict[str, Any], tq: int, tk: int):
        super().__init__()
        embed, bias = params["embed_dim"], params["use_bias"]
        self.heads = params["num_heads"]
        self.q = nn.Linear(dims[0], embed, bias=bias)
        self.k = nn.Linear(dims[1], embed, bias=bias)
        self.v = nn.Linear(dims[2], embed, bias=bias)
        self.o = nn.Linear(embed, embed, bias=bias)
        self.scale = 1.0 / math.sqrt(embed // self.heads)
        self.mask: torch.Tensor | None
        self.register_buffer(
            "mask", causal_mask(tq, tk) if params["causal"] else None, persistent=False
        )

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        n, t, e = x.shape
        return x.reshape(n, t, self.heads, e // self.heads).transpose(1, 2)

    def forward(self, query: torch.Tensor, *memory: torch.Tensor) -> torch.Tensor:
        key = memory[0] if memory else query
        value = memory[1] if len(memory) > 1 else key
        q = self._split(self.q(query)) * self.scale
        k, v = self._split(self.k(key)), self._split(self.v(value))
        scores = q @ k.transpose(-1, -2)
        if self.mask is not None:
            scores = scores + self.mask
        out = scores.softmax(-1) @ v
        n, _, t, _ = out.shape
        merged: torch.Tensor = self.o(out.transpose(1, 2).reshape(n, t, -1))
        return merged


@register
class MultiHeadAttentionSpec(LayerSpec):
    """Multi-head scaled dot-product attention over (T, features) sequences."""

    kind = "MultiHeadAttention"
    max_parents = 3

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        for shape in in_shapes:
            if len(shape) != 2:
                raise ShapeError(f"MultiHeadAttention takes (T, features) inputs, got {shape}")
        if len(in_shapes) == 3 and in_shapes[1][0] != in_shapes[2][0]:
            raise ShapeError(f"key and value lengths differ: {in_shapes[1]} vs {in_shapes[2]}")
        embed, heads = params["embed_dim"], params["num_heads"]
        if heads <= 0 or embed <= 0 or embed % heads:
            raise ShapeError(f"embed_dim {embed} is not a positive multiple of num_heads {heads}")
        return (in_shapes[0][0], embed)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        q = in_shapes[0]
        k = in_shapes[1] if len(in_shapes) > 1 else q
        v = in_shapes[2] if len(in_shapes) > 2 else k
        return MultiHeadAttentionModule((q[1], k[1], v[1]), params, q[0], k[0])


class PositionalEmbeddingModule(nn.Module):
    """x + weight, a learned (T, E) table."""

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight


@register
class PositionalEmbeddingSpec(LayerSpec):
    """Adds a learned vector per position to a (T, E) sequence."""

    kind = "PositionalEmbedding"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        if len(shape) != 2:
            raise ShapeError(f"PositionalEmbedding takes a (T, features) input, got {shape}")
        return shape

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return PositionalEmbeddingModule(single(in_shapes))


def MultiHeadAttention(
    query: Layer,
    key: Layer | None = None,
    value: Layer | None = None,
    num_heads: int = 1,
    embed_dim: int | None = None,
    causal: bool = False,
    use_bias: bool = True,
    name: str = "",
) -> Layer:
    """Multi-head attention of `query` (Tq, Fq) over `key`/`value` (Tk, F): (Tq, embed_dim).

    Without `key`, self-attention; without `value`, value = key. `embed_dim` (default: the
    query's features) must be a multiple of `num_heads`. `causal`: position t attends to
    positions <= t only.
    """
    parents = [query] + [p for p in (key, value) if p is not None]
    if value is not None and key is None:
        raise ValueError("MultiHeadAttention: a value needs a key")
    embed = int(embed_dim) if embed_dim else int(query.output_shape[-1])
    params = {
        "num_heads": int(num_heads),
        "embed_dim": embed,
        "causal": bool(causal),
        "use_bias": bool(use_bias),
    }
    return Layer("MultiHeadAttention", parents, params, name or None)


def PositionalEmbedding(parent: Layer, name: str = "") -> Layer:
    """A learned position vector added to each step of a (T, E) sequence."""
    return Layer("PositionalEmbedding", [parent], {}, name or None)
