"""GaussianNoise: additive zero-mean noise in training mode; the identity in eval mode."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, register, single


class GaussianNoiseModule(nn.Module):
    """Adds N(0, stddev^2) noise in training mode."""

    def __init__(self, stddev: float):
        super().__init__()
        self.stddev = stddev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.stddev == 0.0:
            return x
        return x + torch.randn_like(x) * self.stddev


@register
class GaussianNoiseSpec(LayerSpec):
    """Additive zero-mean Gaussian noise in training mode."""

    kind = "GaussianNoise"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return single(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return GaussianNoiseModule(params["stddev"])


def GaussianNoise(parent: Layer, stddev: float, name: str = "") -> Layer:
    """Add zero-centered Gaussian noise of standard deviation `stddev` in training mode."""
    if stddev < 0:
        raise ValueError(f"GaussianNoise stddev must be >= 0, got {stddev}")
    return Layer("GaussianNoise", [parent], {"stddev": float(stddev)}, name or None)
