"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization.

BatchNormalization normalizes each channel (axis 0 of the batch-excluded shape) over the batch and
the spatial axes, with torch's `nn.BatchNorm1d/2d/3d`. EDDL's momentum weighs the *old* running
statistic (running = momentum * running + (1 - momentum) * batch), so torch's momentum is
1 - eddl's. LayerNormalization normalizes each sample over all its axes (`nn.LayerNorm` over the
whole batch-excluded shape, elementwise affine); GroupNormalization uses `nn.GroupNorm`.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, ShapeError, register, single

_BN = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d, 4: nn.BatchNorm3d}


@register
class BatchNormalizationSpec(LayerSpec):
    """Per-channel batch normalization with running statistics."""

    kind = "BatchNormalization"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        if len(shape) not in _BN:
            raise ShapeError(f"BatchNormalization takes a 1-D to 4-D input, got {shape}")
        return shape

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        shape = single(in_shapes)
        return _BN[len(shape)](
            shape[0],
            eps=params["epsilon"],
            momentum=1.0 - params["momentum"],
            affine=params["affine"],
        )


@register
class LayerNormalizationSpec(LayerSpec):
    """Per-sample normalization over every axis of the sample, or (`axis=-1`) over the last
    axis only (per position of a sequence, as Transformers do)."""

    kind = "LayerNormalization"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        if params.get("axis", 1) not in (1, -1):
            raise ShapeError(f"LayerNormalization axis must be 1 or -1, got {params['axis']}")
        return single(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return nn.LayerNorm(
            list(normalized_shape(params, single(in_shapes))),
            eps=params["epsilon"],
            elementwise_affine=params["affine"],
        )


def normalized_shape(params: dict[str, Any], shape: Shape) -> Shape:
    """The axes a LayerNormalization normalizes (and its weights' shape)."""
    return shape[-1:] if params.get("axis", 1) == -1 else shape


@register
class GroupNormalizationSpec(LayerSpec):
    """Per-sample normalization within groups of channels."""

    kind = "GroupNormalization"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        if len(shape) < 2:
            raise ShapeError(f"GroupNormalization takes (C, spatial...) input, got {shape}")
        if params["groups"] <= 0 or shape[0] % params["groups"]:
            raise ShapeError(f"groups={params['groups']} does not divide {shape[0]} channels")
        return shape

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return nn.GroupNorm(
            params["groups"], single(in_shapes)[0], eps=params["epsilon"], affine=params["affine"]
        )


def _check(momentum: float, epsilon: float) -> None:
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    if epsilon <= 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")


def BatchNormalization(
    parent: Layer,
    affine: bool = True,
    momentum: float = 0.9,
    epsilon: float = 1e-5,
    name: str = "",
) -> Layer:
    """Batch normalization (pyeddl's order: `affine` first).

    EDDL's older overload `BatchNormalization(parent, momentum, epsilon, affine)` is recognized
    when a float comes where `affine` is expected.
    """
    if isinstance(affine, float):  # old overload: (parent, momentum, epsilon, affine, name)
        old_eps = momentum if momentum != 0.9 else 1e-3
        old_affine = epsilon if isinstance(epsilon, bool) else True
        affine, momentum, epsilon = old_affine, affine, old_eps
    _check(float(momentum), float(epsilon))
    params = {"affine": bool(affine), "momentum": float(momentum), "epsilon": float(epsilon)}
    return Layer("BatchNormalization", [parent], params, name or None)


def LayerNormalization(
    parent: Layer, affine: bool = True, epsilon: float = 1e-5, name: str = "", axis: int = 1
) -> Layer:
    """Layer normalization over the whole sample (`affine` first, as pyeddl); `axis=-1`: over
    the last axis only (per position of a (T, E) sequence)."""
    if isinstance(affine, float):  # (parent, epsilon, affine) overload
        affine, epsilon = (epsilon if isinstance(epsilon, bool) else True), affine
    _check(0.0, float(epsilon))
    params: dict[str, Any] = {"affine": bool(affine), "epsilon": float(epsilon)}
    if int(axis) != 1:
        params["axis"] = int(axis)
    return Layer("LayerNormalization", [parent], params, name or None)


def GroupNormalization(
    parent: Layer, groups: int, epsilon: float = 1e-3, affine: bool = True, name: str = ""
) -> Layer:
    """Group normalization with `groups` groups of channels."""
    _check(0.0, float(epsilon))
    params = {"groups": int(groups), "epsilon": float(epsilon), "affine": bool(affine)}
    return Layer("GroupNormalization", [parent], params, name or None)
