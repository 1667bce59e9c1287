"""Pooling layers: MaxPool1D/2D/3D, AveragePool1D/2D/3D and their global versions.

Padding "same" follows EDDL and Keras (ceil(in / stride) outputs, the odd pixel padded at the end);
padded positions never win a max and are not counted in an average (as Keras and ONNX's default).
Symmetric padding uses torch's native pooling modules; asymmetric padding pads first. Global pools
keep singleton spatial axes: (C, H, W) -> (C, 1, 1), as EDDL does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deephealth.eddl.layers._util import (
    int_list,
    norm_padding,
    torch_pad,
    window_output,
    window_padding,
)
from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, expect_rank, register, single

_MAX = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
_AVG = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
_AVG_F = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class PaddedMaxPool(nn.Module):
    """Max pooling after asymmetric padding with -inf."""

    def __init__(self, nd: int, kernel: Sequence[int], stride: Sequence[int], pad: list[int]):
        super().__init__()
        self.pad = pad
        self.pool = _MAX[nd](tuple(kernel), tuple(stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.pad(x, self.pad, value=float("-inf")))


class PaddedAvgPool(nn.Module):
    """Average pooling after asymmetric zero padding, dividing by the count of real inputs."""

    def __init__(
        self, nd: int, spatial: Shape, kernel: Sequence[int], stride: Sequence[int], pad: list[int]
    ):
        super().__init__()
        self.nd, self.kernel, self.stride, self.pad = nd, tuple(kernel), tuple(stride), pad
        ones = torch.ones(1, 1, *spatial)
        counts = _AVG_F[nd](F.pad(ones, pad), self.kernel, self.stride)
        self.register_buffer("scale", 1.0 / counts, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = _AVG_F[self.nd](F.pad(x, self.pad), self.kernel, self.stride)
        return y * self.scale.to(y.dtype)


class _PoolSpec(LayerSpec):
    nd: int = 2
    op: str = "max"

    def _pads(self, params: dict[str, Any], shape: Shape) -> list[tuple[int, int]]:
        return window_padding(params["padding"], shape[1:], params["pool_size"], params["strides"])

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        expect_rank(shape, [self.nd + 1], f"{self.kind} takes channels + {self.nd} spatial axes")
        pads = self._pads(params, shape)
        return (shape[0], *window_output(shape[1:], params["pool_size"], params["strides"], pads))

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        shape = single(in_shapes)
        pads = self._pads(params, shape)
        k, s = params["pool_size"], params["strides"]
        native = all(a == b and a <= kk // 2 for (a, b), kk in zip(pads, k))
        if native:
            pad = tuple(a for a, _ in pads)
            if self.op == "max":
                return _MAX[self.nd](tuple(k), tuple(s), padding=pad)
            return _AVG[self.nd](tuple(k), tuple(s), padding=pad, count_include_pad=False)
        if self.op == "max":
            return PaddedMaxPool(self.nd, k, s, torch_pad(pads))
        return PaddedAvgPool(self.nd, shape[1:], k, s, torch_pad(pads))


class GlobalPool(nn.Module):
    """Max or mean over every spatial axis, keeping them as size 1."""

    def __init__(self, op: str, nd: int):
        super().__init__()
        self.op = op
        self.dims = tuple(range(2, 2 + nd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.op == "max":
            return torch.amax(x, dim=self.dims, keepdim=True)
        return torch.mean(x, dim=self.dims, keepdim=True)

    def extra_repr(self) -> str:
        return f"{self.op}, dims={self.dims}"


class _GlobalPoolSpec(LayerSpec):
    nd: int = 2
    op: str = "max"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        expect_rank(shape, [self.nd + 1], f"{self.kind} takes channels + {self.nd} spatial axes")
        return (shape[0],) + (1,) * self.nd

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return GlobalPool(self.op, self.nd)


for _nd in (1, 2, 3):
    for _op, _name in (("max", "MaxPool"), ("avg", "AveragePool")):
        register(
            type(
                f"{_name}{_nd}DSpec",
                (_PoolSpec,),
                {"kind": f"{_name}{_nd}D", "nd": _nd, "op": _op, "__doc__": f"{_name} {_nd}-D."},
            )
        )
        register(
            type(
                f"Global{_name}{_nd}DSpec",
                (_GlobalPoolSpec,),
                {
                    "kind": f"Global{_name}{_nd}D",
                    "nd": _nd,
                    "op": _op,
                    "__doc__": f"Global {_name} {_nd}-D.",
                },
            )
        )


def _pool(
    kind: str,
    nd: int,
    parent: Layer,
    pool_size: int | Sequence[int],
    strides: int | Sequence[int] | None,
    padding: str | int | Sequence[int],
    name: str,
) -> Layer:
    size = int_list(pool_size, nd, f"{kind} pool_size")
    params = {
        "pool_size": size,
        "strides": size if strides is None else int_list(strides, nd, f"{kind} strides"),
        "padding": norm_padding(padding, nd),
    }
    if any(v <= 0 for v in params["pool_size"] + params["strides"]):
        raise ValueError(f"{kind} pool_size and strides must be positive, got {params}")
    return Layer(kind, [parent], params, name or None)


def MaxPool1D(parent: Layer, pool_size=(2,), strides=(2,), padding="none", name="") -> Layer:
    """Max pooling over (C, L)."""
    return _pool("MaxPool1D", 1, parent, pool_size, strides, padding, name)


def MaxPool2D(parent: Layer, pool_size=(2, 2), strides=(2, 2), padding="none", name="") -> Layer:
    """Max pooling over (C, H, W)."""
    return _pool("MaxPool2D", 2, parent, pool_size, strides, padding, name)


def MaxPool3D(
    parent: Layer, pool_size=(2, 2, 2), strides=(2, 2, 2), padding="none", name=""
) -> Layer:
    """Max pooling over (C, D, H, W)."""
    return _pool("MaxPool3D", 3, parent, pool_size, strides, padding, name)


def AveragePool1D(parent: Layer, pool_size=(2,), strides=(2,), padding="none", name="") -> Layer:
    """Average pooling over (C, L)."""
    return _pool("AveragePool1D", 1, parent, pool_size, strides, padding, name)


def AveragePool2D(
    parent: Layer, pool_size=(2, 2), strides=(2, 2), padding="none", name=""
) -> Layer:
    """Average pooling over (C, H, W)."""
    return _pool("AveragePool2D", 2, parent, pool_size, strides, padding, name)


def AveragePool3D(
    parent: Layer, pool_size=(2, 2, 2), strides=(2, 2, 2), padding="none", name=""
) -> Layer:
    """Average pooling over (C, D, H, W)."""
    return _pool("AveragePool3D", 3, parent, pool_size, strides, padding, name)


def _global(kind: str, parent: Layer, name: str) -> Layer:
    return Layer(kind, [parent], {}, name or None)


def GlobalMaxPool1D(parent: Layer, name: str = "") -> Layer:
    """Max over L: (C, L) -> (C, 1)."""
    return _global("GlobalMaxPool1D", parent, name)


def GlobalMaxPool2D(parent: Layer, name: str = "") -> Layer:
    """Max over H, W: (C, H, W) -> (C, 1, 1)."""
    return _global("GlobalMaxPool2D", parent, name)


def GlobalMaxPool3D(parent: Layer, name: str = "") -> Layer:
    """Max over D, H, W: (C, D, H, W) -> (C, 1, 1, 1)."""
    return _global("GlobalMaxPool3D", parent, name)


def GlobalAveragePool1D(parent: Layer, name: str = "") -> Layer:
    """Mean over L: (C, L) -> (C, 1)."""
    return _global("GlobalAveragePool1D", parent, name)


def GlobalAveragePool2D(parent: Layer, name: str = "") -> Layer:
    """Mean over H, W: (C, H, W) -> (C, 1, 1)."""
    return _global("GlobalAveragePool2D", parent, name)


def GlobalAveragePool3D(parent: Layer, name: str = "") -> Layer:
    """Mean over D, H, W: (C, D, H, W) -> (C, 1, 1, 1)."""
    return _global("GlobalAveragePool3D", parent, name)


# pyeddl's aliases
MaxPool = MaxPool2D
AveragePool = AveragePool2D
AvgPool = AveragePool2D
AvgPool1D = AveragePool1D
AvgPool2D = AveragePool2D
AvgPool3D = AveragePool3D
GlobalMaxPool = GlobalMaxPool2D
GlobalAveragePool = GlobalAveragePool2D
GlobalAvgPool = GlobalAveragePool2D
GlobalAvgPool1D = GlobalAveragePool1D
GlobalAvgPool2D = GlobalAveragePool2D
GlobalAvgPool3D = GlobalAveragePool3D
