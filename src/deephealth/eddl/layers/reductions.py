"""Reduction layers: ReduceMean/Sum/Max/Min/Var/ArgMax (kind `Reduce`, `op`, `axis`, `keepdims`).

Axes exclude the batch, as in EDDL. ReduceVar is the population variance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from deephealth.eddl.layers._util import norm_axis
from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, ShapeError, register, single


def _mean(x: torch.Tensor, d: tuple[int, ...], k: bool) -> torch.Tensor:
    return torch.mean(x, dim=d, keepdim=k)


def _sum(x: torch.Tensor, d: tuple[int, ...], k: bool) -> torch.Tensor:
    return torch.sum(x, dim=d, keepdim=k)


def _max(x: torch.Tensor, d: tuple[int, ...], k: bool) -> torch.Tensor:
    return torch.amax(x, dim=d, keepdim=k)


def _min(x: torch.Tensor, d: tuple[int, ...], k: bool) -> torch.Tensor:
    return torch.amin(x, dim=d, keepdim=k)


def _var(x: torch.Tensor, d: tuple[int, ...], k: bool) -> torch.Tensor:
    return torch.var(x, dim=d, keepdim=k, correction=0)


def _argmax(x: torch.Tensor, d: tuple[int, ...], k: bool) -> torch.Tensor:
    return torch.argmax(x, dim=d[0], keepdim=k).to(x.dtype)


_REDUCE: dict[str, Callable[[torch.Tensor, tuple[int, ...], bool], torch.Tensor]] = {
    "mean": _mean,
    "sum": _sum,
    "max": _max,
    "min": _min,
    "var": _var,
    "argmax": _argmax,
}


REDUCTIONS = tuple(_REDUCE)


class ReduceModule(nn.Module):
    """A reduction over fixed (batch-included) dimensions."""

    def __init__(self, op: str, dims: tuple[int, ...], keepdims: bool):
        super().__init__()
        self.op, self.dims, self.keepdims = op, dims, keepdims
        self.fn = _REDUCE[op]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, self.dims, self.keepdims)

    def extra_repr(self) -> str:
        return f"{self.op}, dims={self.dims}, keepdims={self.keepdims}"


@register
class ReduceSpec(LayerSpec):
    """Reduction (mean, sum, max, min, var, argmax) over batch-excluded axes."""

    kind = "Reduce"

    def _axes(self, params: dict[str, Any], shape: Shape) -> list[int]:
        axes = sorted({norm_axis(a, len(shape), "reduction axis") for a in params["axis"]})
        if params["op"] == "argmax" and len(axes) != 1:
            raise ShapeError(f"ReduceArgMax takes one axis, got {params['axis']}")
        return axes

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        axes = self._axes(params, shape)
        if params["keepdims"]:
            return tuple(1 if i in axes else d for i, d in enumerate(shape))
        out = tuple(d for i, d in enumerate(shape) if i not in axes)
        return out

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        axes = self._axes(params, single(in_shapes))
        return ReduceModule(params["op"], tuple(a + 1 for a in axes), params["keepdims"])


def _reduce(op: str, l: Layer, axis: int | Sequence[int], keepdims: bool, name: str) -> Layer:
    axes = [int(axis)] if isinstance(axis, int) else [int(a) for a in axis]
    if not axes:
        raise ValueError("a reduction needs at least one axis")
    params = {"op": op, "axis": axes, "keepdims": bool(keepdims)}
    return Layer("Reduce", [l], params, name or None)


def ReduceMean(
    l: Layer, axis: int | Sequence[int] = (0,), keepdims: bool = False, name: str = ""
) -> Layer:
    """Mean over `axis` (batch excluded)."""
    return _reduce("mean", l, axis, keepdims, name)


def ReduceSum(
    l: Layer, axis: int | Sequence[int] = (0,), keepdims: bool = False, name: str = ""
) -> Layer:
    """Sum over `axis` (batch excluded)."""
    return _reduce("sum", l, axis, keepdims, name)


def ReduceMax(
    l: Layer, axis: int | Sequence[int] = (0,), keepdims: bool = False, name: str = ""
) -> Layer:
    """Maximum over `axis` (batch excluded)."""
    return _reduce("max", l, axis, keepdims, name)


def ReduceMin(
    l: Layer, axis: int | Sequence[int] = (0,), keepdims: bool = False, name: str = ""
) -> Layer:
    """Minimum over `axis` (batch excluded)."""
    return _reduce("min", l, axis, keepdims, name)


def ReduceVar(
    l: Layer, axis: int | Sequence[int] = (0,), keepdims: bool = False, name: str = ""
) -> Layer:
    """Population variance over `axis` (batch excluded)."""
    return _reduce("var", l, axis, keepdims, name)


def ReduceArgMax(
    l: Layer, axis: int | Sequence[int] = (0,), keepdims: bool = False, name: str = ""
) -> Layer:
    """Index of the maximum along one axis (as floats; not differentiable)."""
    return _reduce("argmax", l, axis, keepdims, name)
