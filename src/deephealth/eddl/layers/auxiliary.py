"""EDDL's auxiliary layers: sources (ConstOfTensor, GaussGenerator, UniformGenerator), Shape,
Where, Bypass and Transform.

Sources have no parents: the runtime calls their module with the model's first input, of which
they use only the batch size, device and dtype (`LayerSpec.source`). The generators draw new
values at every forward, in training and inference alike, as EDDL. `Transform` (EDDL's FPGA layout
change, CHW <-> GHWC) keeps the logical layout here and pads the channels with zeros to a multiple
of `cpi`, which is the shape EDDL gives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deephealth.eddl.layers.base import Layer, LayerSpec, ShapeError, register, single
from deephealth.eddl.layers.base import Shape as Dims
from deephealth.eddl.layers.merge import _broadcast


def _sizes(value: Sequence[int], what: str) -> list[int]:
    out = [int(d) for d in value]
    if not out or any(d <= 0 for d in out):
        raise ShapeError(f"{what} needs positive sizes, got {list(value)}")
    return out


class _SourceSpec(LayerSpec):
    min_parents = 0
    max_parents = 0
    source = True

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Dims]) -> Dims:
        return tuple(_sizes(params["shape"], self.kind))


class ConstModule(nn.Module):
    """The stored tensor repeated for every sample of the batch."""

    value: torch.Tensor

    def __init__(self, value: torch.Tensor):
        super().__init__()
        self.register_buffer("value", value)

    def forward(self, ref: torch.Tensor) -> torch.Tensor:
        return self.value.to(ref.dtype).expand(ref.shape[0], *self.value.shape)


@register
class ConstOfTensorSpec(_SourceSpec):
    """A constant tensor repeated for each sample (its values are the buffer `value`)."""

    kind = "ConstOfTensor"

    def build(self, params: dict[str, Any], in_shapes: list[Dims], out_shape: Dims) -> nn.Module:
        return ConstModule(torch.zeros(out_shape))


class GeneratorModule(nn.Module):
    """Fresh random values of a fixed per-sample shape, normal or uniform."""

    def __init__(self, shape: Dims, dist: str, a: float, b: float):
        super().__init__()
        self.shape, self.dist, self.a, self.b = tuple(shape), dist, a, b

    def forward(self, ref: torch.Tensor) -> torch.Tensor:
        out = torch.empty((ref.shape[0], *self.shape), dtype=ref.dtype, device=ref.device)
        if self.dist == "gauss":
            return out.normal_(self.a, self.b) if self.b > 0 else out.fill_(self.a)
        return out.uniform_(self.a, self.b) if self.b > self.a else out.fill_(self.a)

    def extra_repr(self) -> str:
        return f"{self.dist}({self.a}, {self.b}), shape={self.shape}"


@register
class GaussGeneratorSpec(_SourceSpec):
    """Normal random values N(mean, stdev^2) of a fixed shape, new at every forward."""

    kind = "GaussGenerator"

    def build(self, params: dict[str, Any], in_shapes: list[Dims], out_shape: Dims) -> nn.Module:
        if params["stdev"] < 0:
            raise ShapeError(f"GaussGenerator stdev must be >= 0, got {params['stdev']}")
        return GeneratorModule(out_shape, "gauss", params["mean"], params["stdev"])


@register
class UniformGeneratorSpec(_SourceSpec):
    """Uniform random values in [low, high) of a fixed shape, new at every forward."""

    kind = "UniformGenerator"

    def build(self, params: dict[str, Any], in_shapes: list[Dims], out_shape: Dims) -> nn.Module:
        if params["high"] < params["low"]:
            raise ShapeError(f"UniformGenerator needs low <= high, got {params}")
        return GeneratorModule(out_shape, "uniform", params["low"], params["high"])


class ShapeModule(nn.Module):
    """The parent's shape as a float row per sample."""

    def __init__(self, shape: Dims, include_batch: bool):
        super().__init__()
        self.shape, self.include_batch = tuple(shape), include_batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = (x.shape[0], *self.shape) if self.include_batch else self.shape
        row = torch.tensor(dims, dtype=x.dtype, device=x.device)
        return row.expand(x.shape[0], len(dims))


@register
class ShapeSpec(LayerSpec):
    """The parent's shape (with the batch size first when `include_batch`), one row per sample."""

    kind = "Shape"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Dims]) -> Dims:
        return (len(single(in_shapes)) + int(params["include_batch"]),)

    def build(self, params: dict[str, Any], in_shapes: list[Dims], out_shape: Dims) -> nn.Module:
        return ShapeModule(single(in_shapes), params["include_batch"])


class WhereModule(nn.Module):
    """`a` where `condition` is non-zero, else `b`."""

    def forward(self, a: torch.Tensor, b: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return torch.where(condition != 0, a, b)


@register
class WhereSpec(LayerSpec):
    """Element-wise choice between two parents by a third (1.0 takes the first, 0.0 the second)."""

    kind = "Where"
    min_parents = 3
    max_parents = 3

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Dims]) -> Dims:
        return _broadcast(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Dims], out_shape: Dims) -> nn.Module:
        return WhereModule()


@register
class BypassSpec(LayerSpec):
    """The parent's output unchanged (EDDL uses it for ONNX ops it skips)."""

    kind = "Bypass"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Dims]) -> Dims:
        return single(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Dims], out_shape: Dims) -> nn.Module:
        return nn.Identity()


class ChannelPad(nn.Module):
    """Zero channels appended after the existing ones (axis 1)."""

    def __init__(self, extra: int, rank: int):
        super().__init__()
        self.pad = [0, 0] * (rank - 1) + [0, extra]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pad) if self.pad[-1] else x


def transform_extra(params: dict[str, Any], shape: Dims) -> int:
    """Channels Transform appends: up to the next multiple of `cpi`."""
    if len(shape) != 3:
        raise ShapeError(f"Transform needs a (C, H, W) input, got {shape}")
    if params["cpi"] < 1:
        raise ShapeError(f"Transform cpi must be positive, got {params['cpi']}")
    return -shape[0] % int(params["cpi"])


@register
class TransformSpec(LayerSpec):
    """EDDL's FPGA layout transform: channels zero-padded to a multiple of `cpi`."""

    kind = "Transform"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Dims]) -> Dims:
        shape = single(in_shapes)
        return (shape[0] + transform_extra(params, shape), *shape[1:])

    def build(self, params: dict[str, Any], in_shapes: list[Dims], out_shape: Dims) -> nn.Module:
        shape = single(in_shapes)
        return ChannelPad(transform_extra(params, shape), len(shape))


# ---- constructors ---------------------------------------------------------------------------


def ConstOfTensor(t: Any, name: str = "") -> Layer:
    """A constant layer: tensor `t` (an `eddl.Tensor`, numpy array or torch tensor, without the
    batch axis) repeated for each sample of the batch."""
    inner = getattr(t, "torch", t)
    value = torch.as_tensor(inner if isinstance(inner, torch.Tensor) else np.asarray(inner))
    value = value.detach().to(torch.float32).cpu()
    if value.dim() == 0:
        value = value.reshape(1)
    layer = Layer("ConstOfTensor", [], {"shape": list(value.shape)}, name or None)
    assert isinstance(layer.module, ConstModule)
    layer.module.value.copy_(value)
    return layer


def GaussGenerator(mean: float, stdev: float, size: Sequence[int]) -> Layer:
    """Random normal values N(mean, stdev^2) of shape `size` per sample, new at every forward."""
    params = {"mean": float(mean), "stdev": float(stdev), "shape": [int(d) for d in size]}
    return Layer("GaussGenerator", [], params)


def UniformGenerator(low: float, high: float, size: Sequence[int]) -> Layer:
    """Random uniform values in [low, high) of shape `size` per sample, new at every forward."""
    params = {"low": float(low), "high": float(high), "shape": [int(d) for d in size]}
    return Layer("UniformGenerator", [], params)


def Shape(parent: Layer, include_batch: bool = True, name: str = "") -> Layer:
    """The parent's shape as values: `(batch, d1, ...)` (or `(d1, ...)`) for every sample."""
    return Layer("Shape", [parent], {"include_batch": bool(include_batch)}, name or None)


def Where(parent1: Layer, parent2: Layer, condition: Layer, name: str = "") -> Layer:
    """`parent1` where `condition` is 1.0 (non-zero), `parent2` where it is 0.0."""
    return Layer("Where", [parent1, parent2, condition], {}, name or None)


def Bypass(parent: Layer, bypass_name: str = "", name: str = "") -> Layer:
    """The parent's output unchanged; `bypass_name` records the skipped layer (EDDL's ONNX use)."""
    return Layer("Bypass", [parent], {"bypass_name": str(bypass_name)}, name or None)


def Transform(
    parent: Layer,
    copy_cpu_to_fpga: int,
    copy_fpga_to_cpu: int,
    transform: int,
    mode: int,
    name: str = "",
    cpi: int = 4,
) -> Layer:
    """EDDL's FPGA data transform. Without an FPGA the values keep their CHW layout; the channels
    are zero-padded to a multiple of `cpi` (channels per FPGA word, an addition), as EDDL's shape.
    The copy/transform flags and `mode` are recorded."""
    params = {
        "copy_cpu_to_fpga": int(copy_cpu_to_fpga),
        "copy_fpga_to_cpu": int(copy_fpga_to_cpu),
        "transform": int(transform),
        "mode": int(mode),
        "cpi": int(cpi),
    }
    return Layer("Transform", [parent], params, name or None)
