"""Dropout: zero a fraction of the units in training mode; the identity in eval mode."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, register, single


class DropoutNoScale(nn.Module):
    """EDDL's dropout with `iw=False`: zeroes units in training, unscaled; identity in eval."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        return x * (torch.rand_like(x) >= self.p).to(x.dtype)


@register
class DropoutSpec(LayerSpec):
    """Randomly zeroes a fraction `rate` of the units in training mode."""

    kind = "Dropout"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return single(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        if params["iw"]:
            return nn.Dropout(params["rate"])
        return DropoutNoScale(params["rate"])


def Dropout(parent: Layer, rate: float, iw: bool = True, name: str = "") -> Layer:
    """Zero a fraction `rate` of the units in training mode.

    `iw=True` (EDDL's default, "weighting in inference") keeps the expected activation equal in
    training and inference; it is computed as torch's inverted dropout (scaled in training).
    `iw=False` drops without any scaling.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"Dropout rate must be in [0, 1), got {rate}")
    return Layer("Dropout", [parent], {"rate": float(rate), "iw": bool(iw)}, name or None)
