"""Layers that repeat data: Repeat, Tile, Expand and Broadcast (EDDL's core layers of that name).

Axes and repeat counts exclude the batch, as every pyeddl layer argument. `Expand` repeats every
size-1 axis `size` times; `Broadcast` repeats the smaller parent to the shape of the bigger one
(numpy's rule, else the smaller one's axes matched inside the bigger one's, as `Tensor.broadcast`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from deephealth.eddl.layers._util import norm_axis
from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, ShapeError, register, single


class RepeatModule(nn.Module):
    """`torch.repeat_interleave` along one sample axis."""

    counts: torch.Tensor

    def __init__(self, counts: list[int], axis: int):
        super().__init__()
        self.axis = axis + 1
        self.register_buffer("counts", torch.tensor(counts), persistent=False)
        self.single = counts[0] if len(set(counts)) == 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.single is not None:
            return torch.repeat_interleave(x, self.single, dim=self.axis)
        return torch.repeat_interleave(x, self.counts.to(x.device), dim=self.axis)


def repeat_counts(params: dict[str, Any], shape: Shape) -> tuple[int, list[int]]:
    """(axis, one count per element of that axis) of a Repeat layer."""
    axis = norm_axis(params["axis"], len(shape), "Repeat axis")
    counts = list(params["repeats"])
    if len(counts) == 1:
        counts = counts * shape[axis]
    if len(counts) != shape[axis] or any(c < 0 for c in counts):
        raise ShapeError(
            f"Repeat needs 1 or {shape[axis]} non-negative counts for axis {axis}, got "
            f"{params['repeats']}"
        )
    return axis, counts


@register
class RepeatSpec(LayerSpec):
    """Repeats each element along one axis (numpy's `repeat`)."""

    kind = "Repeat"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        axis, counts = repeat_counts(params, shape)
        return (*shape[:axis], sum(counts), *shape[axis + 1 :])

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        axis, counts = repeat_counts(params, single(in_shapes))
        return RepeatModule(counts, axis)


class TileModule(nn.Module):
    """Repeats a (per-sample reshaped) tensor as a whole along each sample axis."""

    def __init__(self, view: Shape, repeats: Sequence[int]):
        super().__init__()
        self.view = tuple(view)
        self.repeats = (1, *repeats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] != self.view:
            x = x.reshape(x.shape[0], *self.view)
        return x.repeat(self.repeats)


@register
class TileSpec(LayerSpec):
    """Repeats the whole sample `repeats[i]` times along axis i (numpy's `tile`)."""

    kind = "Tile"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        reps = list(params["repeats"])
        if len(reps) != len(shape) or any(r < 1 for r in reps):
            raise ShapeError(f"Tile needs {len(shape)} positive counts, got {reps}")
        return tuple(d * r for d, r in zip(shape, reps))

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return TileModule(single(in_shapes), params["repeats"])


def expand_repeats(params: dict[str, Any], shape: Shape) -> list[int]:
    """Tile counts of an Expand layer: `size` for each size-1 axis, else 1."""
    if params["size"] < 1:
        raise ShapeError(f"Expand size must be positive, got {params['size']}")
    return [params["size"] if d == 1 else 1 for d in shape]


@register
class ExpandSpec(LayerSpec):
    """Repeats every size-1 axis `size` times (EDDL's Expand)."""

    kind = "Expand"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        return tuple(d * r for d, r in zip(shape, expand_repeats(params, shape)))

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        shape = single(in_shapes)
        return TileModule(shape, expand_repeats(params, shape))


def broadcast_plan(in_shapes: list[Shape]) -> tuple[int, Shape, list[int]]:
    """(index of the parent broadcast, its shape with 1s inserted, tile counts to the target)."""
    a, b = in_shapes
    small = 0 if (math.prod(a), len(a)) <= (math.prod(b), len(b)) else 1
    shape, target = list(in_shapes[small]), list(in_shapes[1 - small])
    candidates = []
    if len(shape) <= len(target):  # numpy's rule: trailing axes
        candidates.append([1] * (len(target) - len(shape)) + shape)
    for start in range(len(target) - len(shape) + 1):  # EDDL: the axes found inside the target
        candidates.append([1] * start + shape + [1] * (len(target) - start - len(shape)))
    for view in candidates:
        if all(v in (1, t) for v, t in zip(view, target)):
            return small, tuple(view), [t // v for v, t in zip(view, target)]
    raise ShapeError(f"shape {shape} cannot be broadcast to {target}")


class BroadcastModule(nn.Module):
    """Tiles one parent (the smaller) to the shape of the other."""

    tile: TileModule

    def __init__(self, index: int, tile: TileModule):
        super().__init__()
        self.index, self.tile = index, tile

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.tile(b if self.index else a)
        return out


@register
class BroadcastSpec(LayerSpec):
    """The smaller parent repeated to the shape of the bigger one."""

    kind = "Broadcast"
    min_parents = 2
    max_parents = 2

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        small, _, _ = broadcast_plan(in_shapes)
        return in_shapes[1 - small]

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        small, view, reps = broadcast_plan(in_shapes)
        return BroadcastModule(small, TileModule(view, reps))


# ---- constructors ---------------------------------------------------------------------------


def Repeat(parent: Layer, repeats: int | Sequence[int], axis: int, name: str = "") -> Layer:
    """Repeat each element `repeats` times along `axis` (batch excluded); one count per element
    of that axis may be given as a list."""
    counts = [int(repeats)] if isinstance(repeats, int) else [int(r) for r in repeats]
    return Layer("Repeat", [parent], {"repeats": counts, "axis": int(axis)}, name or None)


def Tile(parent: Layer, repeats: Sequence[int], name: str = "") -> Layer:
    """Repeat the whole sample `repeats[i]` times along each axis (batch excluded; a leading
    batch count of 1 is accepted and dropped)."""
    reps = [int(r) for r in repeats]
    if len(reps) == len(parent.output_shape) + 1 and reps[0] == 1:
        reps = reps[1:]
    return Layer("Tile", [parent], {"repeats": reps}, name or None)


def Expand(l: Layer, size: int, name: str = "") -> Layer:
    """Repeat every size-1 axis `size` times (EDDL's singleton expansion)."""
    return Layer("Expand", [l], {"size": int(size)}, name or None)


def Broadcast(parent1: Layer, parent2: Layer, name: str = "") -> Layer:
    """The smaller of the two parents repeated to the shape of the bigger one (EDDL's Broadcast:
    `f(P1(3), P2(4, 2, 3, 5))` gives P1's values at P2's shape)."""
    return Layer("Broadcast", [parent1, parent2], {}, name or None)
