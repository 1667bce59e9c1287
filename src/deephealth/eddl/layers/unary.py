"""Element-wise unary layers: Abs, Exp, Log, Log2, Log10, Sqrt (kind `Unary`, `op`) and Clamp."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, register, single

_UNARY: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "abs": torch.abs,
    "exp": torch.exp,
    "log": torch.log,
    "log2": torch.log2,
    "log10": torch.log10,
    "sqrt": torch.sqrt,
}


class UnaryModule(nn.Module):
    """An element-wise torch function."""

    def __init__(self, op: str):
        super().__init__()
        self.op, self.fn = op, _UNARY[op]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.op


@register
class UnarySpec(LayerSpec):
    """Element-wise abs, exp, log, log2, log10 or sqrt."""

    kind = "Unary"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return single(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return UnaryModule(params["op"])


class ClampModule(nn.Module):
    """torch.clamp with fixed bounds."""

    def __init__(self, lo: float, hi: float):
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, self.lo, self.hi)


@register
class ClampSpec(LayerSpec):
    """Clamp every element into [min, max]."""

    kind = "Clamp"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return single(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return ClampModule(params["min"], params["max"])


def _unary(op: str, parent: Layer, name: str) -> Layer:
    return Layer("Unary", [parent], {"op": op}, name or None)


def Abs(l: Layer, name: str = "") -> Layer:
    """|x|."""
    return _unary("abs", l, name)


def Exp(l: Layer, name: str = "") -> Layer:
    """exp(x)."""
    return _unary("exp", l, name)


def Log(l: Layer, name: str = "") -> Layer:
    """Natural logarithm."""
    return _unary("log", l, name)


def Log2(l: Layer, name: str = "") -> Layer:
    """Base-2 logarithm."""
    return _unary("log2", l, name)


def Log10(l: Layer, name: str = "") -> Layer:
    """Base-10 logarithm."""
    return _unary("log10", l, name)


def Sqrt(l: Layer, name: str = "") -> Layer:
    """Square root."""
    return _unary("sqrt", l, name)


def Clamp(parent: Layer, min: float, max: float, name: str = "") -> Layer:  # noqa: A002
    """Clamp every element into [min, max]."""
    if min > max:
        raise ValueError(f"Clamp needs min <= max, got {min} > {max}")
    return Layer("Clamp", [parent], {"min": float(min), "max": float(max)}, name or None)


Clip = Clamp
