"""Core layers: Input and Dense (the others of the "core" group live in their own modules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, ShapeError, register, single


@register
class InputSpec(LayerSpec):
    """A network input; its shape excludes the batch dimension."""

    kind = "Input"
    min_parents = 0
    max_parents = 0

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = tuple(params["shape"])
        if not shape or any(int(d) <= 0 for d in shape):
            raise ShapeError(f"an Input shape needs positive sizes, got {list(shape)}")
        return shape

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> None:
        return None


@register
class DenseSpec(LayerSpec):
    """Fully connected layer over the last axis."""

    kind = "Dense"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        if params["ndim"] <= 0:
            raise ShapeError(f"Dense needs a positive number of units, got {params['ndim']}")
        return (*shape[:-1], params["ndim"])

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return nn.Linear(single(in_shapes)[-1], params["ndim"], bias=params["use_bias"])


def Input(shape: Sequence[int], name: str = "") -> Layer:
    """A network input of the given shape (batch excluded, channels first)."""
    return Layer("Input", [], {"shape": [int(d) for d in shape]}, name or None)


def Dense(parent: Layer, ndim: int, use_bias: bool = True, name: str = "") -> Layer:
    """Fully connected layer with `ndim` units."""
    return Layer("Dense", [parent], {"ndim": int(ndim), "use_bias": bool(use_bias)}, name or None)
