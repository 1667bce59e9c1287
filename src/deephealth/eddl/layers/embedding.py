"""Embedding: dense vectors for integer indices (given as numbers), pyeddl's `Embedding`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, register, single


class EmbeddingModule(nn.Embedding):
    """`nn.Embedding` over float-coded indices; a trailing axis of size 1 is dropped."""

    squeeze_last: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.squeeze_last:
            x = x.squeeze(-1)
        return super().forward(x.long())


@register
class EmbeddingSpec(LayerSpec):
    """Turns integer indices (given as numbers) into dense vectors of size `output_dim`."""

    kind = "Embedding"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        if len(shape) >= 1 and shape[-1] == 1:
            shape = shape[:-1]
        return (*shape, params["output_dim"])

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        shape = single(in_shapes)
        module = EmbeddingModule(
            params["vocsize"], params["output_dim"], padding_idx=0 if params["mask_zeros"] else None
        )
        module.squeeze_last = len(shape) >= 1 and shape[-1] == 1
        return module


def Embedding(
    parent: Layer,
    vocsize: int,
    length: int,
    output_dim: int,
    mask_zeros: bool = False,
    name: str = "",
) -> Layer:
    """Dense vectors for integer indices in [0, vocsize): (L,) -> (L, output_dim).

    `length` is EDDL's sequence length (kept for compatibility; the input shape decides). With
    `mask_zeros`, index 0 maps to a zero vector that is not trained.
    """
    if vocsize <= 0 or output_dim <= 0:
        raise ValueError(
            f"Embedding needs positive vocsize and output_dim, got {vocsize}, {output_dim}"
        )
    params = {
        "vocsize": int(vocsize),
        "length": int(length),
        "output_dim": int(output_dim),
        "mask_zeros": bool(mask_zeros),
    }
    return Layer("Embedding", [parent], params, name or None)
