"""In-graph data augmentation on (C, H, W) images: deterministic transforms and random ones.

Deterministic layers (Flip, Crop, CenteredCrop, CropScale, Cutout, Rotate, Shift; Scale is a
Resize) always act. Random layers (RandomFlip, RandomHorizontalFlip, RandomVerticalFlip,
RandomCrop, RandomCropScale, RandomCutout, RandomRotation, RandomShift, RandomScale) draw one
transform per sample from torch's global generator (seed it with `torch.manual_seed`) in training
mode only (`module.training`); in eval mode they are the identity, except RandomCrop, whose output
is smaller than its input: it takes the centered crop.

Conventions (EDDL's): coordinates and pixel vectors are (row, col) = (y, x); crop boxes include
both corners; axis 0 of a flip is the vertical axis (rows), 1 the horizontal one; angles are degrees
counter-clockwise; `da_mode` says what fills pixels that come from outside the image: "constant"
(the `constant` value), "nearest" (the nearest edge pixel) or "original" (the input pixel
unchanged). Geometric transforms sample with nearest-neighbour interpolation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deephealth.eddl.affine import affine_sample, center_offset, rotation_matrix
from deephealth.eddl.layers._util import float_pair, int_list
from deephealth.eddl.layers.base import (
    Layer,
    LayerSpec,
    Shape,
    ShapeError,
    expect_rank,
    register,
    single,
)

DA_MODES = ("constant", "nearest", "original")


# ---- deterministic -------------------------------------------------------------------------


class FlipModule(nn.Module):
    """Flip one spatial axis; when `random`, each sample flips with probability 1/2 (train only)."""

    def __init__(self, dim: int, random: bool):
        super().__init__()
        self.dim, self.random = dim, random

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.random:
            return x.flip(self.dim)
        if not self.training:
            return x
        pick = torch.rand(x.shape[0], device=x.device) < 0.5
        return torch.where(pick.view(-1, 1, 1, 1), x.flip(self.dim), x)


class CropModule(nn.Module):
    """Keeps rows t..b and cols l..r; with `keep_size`, blanks the rest with a constant."""

    def __init__(self, box: Sequence[int], keep_size: bool, constant: float, shape: Shape):
        super().__init__()
        t, l, b, r = box
        self.rows, self.cols = slice(t, b + 1), slice(l, r + 1)
        self.keep_size, self.constant = keep_size, constant
        if keep_size:
            mask = torch.ones(1, 1, *shape[1:], dtype=torch.bool)
            mask[..., self.rows, self.cols] = False
            self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.keep_size:
            return x.masked_fill(self.mask, self.constant)
        return x[:, :, self.rows, self.cols]


class CutoutModule(nn.Module):
    """Sets rows t..b, cols l..r to a constant."""

    def __init__(self, box: Sequence[int], constant: float, shape: Shape):
        super().__init__()
        t, l, b, r = box
        mask = torch.zeros(1, 1, *shape[1:], dtype=torch.bool)
        mask[..., t : b + 1, l : r + 1] = True
        self.register_buffer("mask", mask, persistent=False)
        self.constant = constant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.masked_fill(self.mask, self.constant)


class CropScaleModule(nn.Module):
    """Crops rows t..b, cols l..r and resizes back to the input size (nearest)."""

    def __init__(self, box: Sequence[int], shape: Shape):
        super().__init__()
        t, l, b, r = box
        self.rows, self.cols, self.size = slice(t, b + 1), slice(l, r + 1), tuple(shape[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x[:, :, self.rows, self.cols], size=self.size, mode="nearest")


class AffineModule(nn.Module):
    """A fixed rotation or shift, resampled with `affine_sample`."""

    def __init__(
        self, matrix: list[list[float]], offset: list[float], da_mode: str, constant: float
    ):
        super().__init__()
        self.register_buffer("matrix", torch.tensor(matrix), persistent=False)
        self.register_buffer("offset", torch.tensor(offset), persistent=False)
        self.da_mode, self.constant = da_mode, constant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        m = self.matrix.expand(n, 2, 2)
        return affine_sample(x, m, self.offset.expand(n, 2), self.da_mode, self.constant)


def _box_in(box: Sequence[int], shape: Shape) -> None:
    t, l, b, r = box
    h, w = shape[1], shape[2]
    if not (0 <= t <= b < h and 0 <= l <= r < w):
        raise ShapeError(f"box from ({t}, {l}) to ({b}, {r}) is not inside a {h}x{w} image")


class _ImageSpec(LayerSpec):
    """Base: one (C, H, W) parent, output of the same shape."""

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        expect_rank(shape, [3], f"{self.kind} takes (C, H, W) images")
        return shape


@register
class FlipSpec(_ImageSpec):
    """Flip rows (axis 0) or columns (axis 1)."""

    kind = "Flip"

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return FlipModule(params["axis"] + 2, random=False)


@register
class CropSpec(_ImageSpec):
    """Crop the box [from, to] (both included); `reshape=False` keeps the size, blanking outside."""

    kind = "Crop"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = super().infer_shape(params, in_shapes)
        box = [*params["from_coords"], *params["to_coords"]]
        _box_in(box, shape)
        if not params["reshape"]:
            return shape
        return (shape[0], box[2] - box[0] + 1, box[3] - box[1] + 1)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        box = [*params["from_coords"], *params["to_coords"]]
        return CropModule(box, not params["reshape"], params["constant"], single(in_shapes))


@register
class CropScaleSpec(_ImageSpec):
    """Crop the box [from, to] and scale it back to the input size."""

    kind = "CropScale"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = super().infer_shape(params, in_shapes)
        _box_in([*params["from_coords"], *params["to_coords"]], shape)
        return shape

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return CropScaleModule([*params["from_coords"], *params["to_coords"]], single(in_shapes))


@register
class CutoutSpec(_ImageSpec):
    """Set the box [from, to] to a constant."""

    kind = "Cutout"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = super().infer_shape(params, in_shapes)
        _box_in([*params["from_coords"], *params["to_coords"]], shape)
        return shape

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        box = [*params["from_coords"], *params["to_coords"]]
        return CutoutModule(box, params["constant"], single(in_shapes))


@register
class RotateSpec(_ImageSpec):
    """Rotate by `angle` degrees counter-clockwise around the centre (+ offset_center)."""

    kind = "Rotate"

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        m = rotation_matrix(torch.tensor(float(params["angle"]), dtype=torch.float64))
        off = center_offset(params["offset_center"], 1, m)[0]
        return AffineModule(m.tolist(), off.tolist(), params["da_mode"], params["constant"])


@register
class ShiftSpec(_ImageSpec):
    """Translate by `shift` = (rows, cols) pixels (positive: down, right)."""

    kind = "Shift"

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        dy, dx = params["shift"]
        return AffineModule(
            [[1.0, 0.0], [0.0, 1.0]],
            [-float(dx), -float(dy)],
            params["da_mode"],
            params["constant"],
        )


# ---- random ----------------------------------------------------------------------------------


def _uniform(n: int, lo: float, hi: float, device: torch.device) -> torch.Tensor:
    return torch.rand(n, device=device, dtype=torch.float32) * (hi - lo) + lo


class RandomCropModule(nn.Module):
    """A random (h, w) crop per sample in training; the centered crop in eval."""

    def __init__(self, size: Sequence[int], shape: Shape):
        super().__init__()
        self.h, self.w = size
        self.H, self.W = shape[1], shape[2]
        t, l = (self.H - self.h) // 2, (self.W - self.w) // 2
        self.center = (slice(t, t + self.h), slice(l, l + self.w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x[:, :, self.center[0], self.center[1]]
        n, dev = x.shape[0], x.device
        top = torch.randint(0, self.H - self.h + 1, (n,), device=dev)
        left = torch.randint(0, self.W - self.w + 1, (n,), device=dev)
        rows = top[:, None] + torch.arange(self.h, device=dev)
        cols = left[:, None] + torch.arange(self.w, device=dev)
        b = torch.arange(n, device=dev)[:, None, None]
        return x[b, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


class RandomAffineModule(nn.Module):
    """Random rotation, shift, zoom or crop-and-scale per sample in training; identity in eval."""

    def __init__(self, op: str, params: dict[str, Any]):
        super().__init__()
        self.op, self.p = op, dict(params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        n, dev, p = x.shape[0], x.device, self.p
        h, w = x.shape[2], x.shape[3]
        eye = torch.eye(2, device=dev).expand(n, 2, 2)
        zero = torch.zeros(n, 2, device=dev)
        mode, const = p.get("da_mode", "constant"), p.get("constant", 0.0)
        if self.op == "rotation":
            m = rotation_matrix(_uniform(n, *p["factor"], dev))
            return affine_sample(x, m, center_offset(p["offset_center"], n, m), mode, const)
        if self.op == "shift":
            off = torch.stack(
                (-_uniform(n, *p["factor_x"], dev) * w, -_uniform(n, *p["factor_y"], dev) * h), -1
            )
            return affine_sample(x, eye, off, mode, const)
        if self.op == "scale":
            s = _uniform(n, *p["factor"], dev)
            return affine_sample(x, eye / s.view(n, 1, 1), zero, mode, const)
        # crop_scale: a random box of a random relative size f, scaled to the whole image
        f = _uniform(n, *p["factor"], dev)
        room = (1.0 - f).clamp(min=0.0)
        off = torch.stack(
            (
                (torch.rand(n, device=dev) - 0.5) * room * w,
                (torch.rand(n, device=dev) - 0.5) * room * h,
            ),
            -1,
        )
        return affine_sample(x, eye * f.view(n, 1, 1), off, "nearest", 0.0)

    def extra_repr(self) -> str:
        return f"{self.op}, {self.p}"


class RandomCutoutModule(nn.Module):
    """Blanks a random box per sample (relative sizes in factor_x, factor_y) in training."""

    def __init__(self, factor_x: Sequence[float], factor_y: Sequence[float], constant: float):
        super().__init__()
        self.fx, self.fy, self.constant = tuple(factor_x), tuple(factor_y), constant

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        n, dev = x.shape[0], x.device
        h, w = x.shape[2], x.shape[3]
        bh = (_uniform(n, *self.fy, dev) * h).long().clamp(0, h)
        bw = (_uniform(n, *self.fx, dev) * w).long().clamp(0, w)
        top = (torch.rand(n, device=dev) * (h - bh + 1)).long()
        left = (torch.rand(n, device=dev) * (w - bw + 1)).long()
        r = torch.arange(h, device=dev)[None, :]
        c = torch.arange(w, device=dev)[None, :]
        in_r = (r >= top[:, None]) & (r < (top + bh)[:, None])
        in_c = (c >= left[:, None]) & (c < (left + bw)[:, None])
        mask = (in_r[:, :, None] & in_c[:, None, :]).unsqueeze(1)
        return x.masked_fill(mask, self.constant)


@register
class RandomFlipSpec(_ImageSpec):
    """Flip rows (axis 0) or columns (axis 1) of each sample with probability 1/2."""

    kind = "RandomFlip"

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return FlipModule(params["axis"] + 2, random=True)


@register
class RandomCropSpec(_ImageSpec):
    """A random crop of size new_shape = (h, w); the centered crop in eval mode."""

    kind = "RandomCrop"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = super().infer_shape(params, in_shapes)
        h, w = params["new_shape"]
        if not (0 < h <= shape[1] and 0 < w <= shape[2]):
            raise ShapeError(f"RandomCrop size {[h, w]} does not fit a {shape[1]}x{shape[2]} image")
        return (shape[0], h, w)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return RandomCropModule(params["new_shape"], single(in_shapes))


class _RandomAffineSpec(_ImageSpec):
    op: str = ""

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return RandomAffineModule(self.op, params)


for _kind, _op in (
    ("RandomRotation", "rotation"),
    ("RandomShift", "shift"),
    ("RandomScale", "scale"),
    ("RandomCropScale", "crop_scale"),
):
    register(
        type(
            f"{_kind}Spec",
            (_RandomAffineSpec,),
            {"kind": _kind, "op": _op, "__doc__": f"Random {_op.replace('_', ' ')} (train only)."},
        )
    )


@register
class RandomCutoutSpec(_ImageSpec):
    """Blank a random box per sample (train only)."""

    kind = "RandomCutout"

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return RandomCutoutModule(params["factor_x"], params["factor_y"], params["constant"])


# ---- constructors ----------------------------------------------------------------------------


def _da_mode(value: str) -> str:
    if value not in DA_MODES:
        raise ValueError(f"da_mode must be one of {DA_MODES}, got {value!r}")
    return value


def _coords(value: Sequence[int], what: str) -> list[int]:
    return int_list(value, 2, what)


def Flip(parent: Layer, axis: int = 0, name: str = "") -> Layer:
    """Flip the rows (axis 0, vertical flip) or the columns (axis 1, horizontal flip)."""
    if axis not in (0, 1):
        raise ValueError(f"Flip axis must be 0 (rows) or 1 (columns), got {axis}")
    return Layer("Flip", [parent], {"axis": int(axis)}, name or None)


def HorizontalFlip(parent: Layer, name: str = "") -> Layer:
    """Mirror left-right."""
    return Flip(parent, 1, name)


def VerticalFlip(parent: Layer, name: str = "") -> Layer:
    """Mirror top-bottom."""
    return Flip(parent, 0, name)


def Crop(
    parent: Layer,
    from_coords: Sequence[int],
    to_coords: Sequence[int],
    reshape: bool = True,
    constant: float = 0.0,
    name: str = "",
) -> Layer:
    """Crop from (top, left) to (bottom, right), both included.

    `reshape=False` keeps the input size and sets the pixels outside the box to `constant`.
    """
    params = {
        "from_coords": _coords(from_coords, "from_coords"),
        "to_coords": _coords(to_coords, "to_coords"),
        "reshape": bool(reshape),
        "constant": float(constant),
    }
    return Layer("Crop", [parent], params, name or None)


def CenteredCrop(
    parent: Layer, size: Sequence[int], reshape: bool = True, constant: float = 0.0, name: str = ""
) -> Layer:
    """Crop a centered (height, width) box (a Crop layer with the box computed here)."""
    h, w = _coords(size, "size")
    shape = parent.output_shape
    if len(shape) != 3:
        raise ShapeError(f"CenteredCrop takes (C, H, W) images; '{parent.name}' gives {shape}")
    t, l = (shape[1] - h) // 2, (shape[2] - w) // 2
    return Crop(parent, [t, l], [t + h - 1, l + w - 1], reshape, constant, name)


def CropScale(
    parent: Layer,
    from_coords: Sequence[int],
    to_coords: Sequence[int],
    da_mode: str = "constant",
    constant: float = 0.0,
    name: str = "",
) -> Layer:
    """Crop from (top, left) to (bottom, right) and scale back to the input size."""
    params = {
        "from_coords": _coords(from_coords, "from_coords"),
        "to_coords": _coords(to_coords, "to_coords"),
        "da_mode": _da_mode(da_mode),
        "constant": float(constant),
    }
    return Layer("CropScale", [parent], params, name or None)


def Cutout(
    parent: Layer,
    from_coords: Sequence[int],
    to_coords: Sequence[int],
    constant: float = 0.0,
    name: str = "",
) -> Layer:
    """Set the box from (top, left) to (bottom, right) to `constant`."""
    params = {
        "from_coords": _coords(from_coords, "from_coords"),
        "to_coords": _coords(to_coords, "to_coords"),
        "constant": float(constant),
    }
    return Layer("Cutout", [parent], params, name or None)


def Rotate(
    parent: Layer,
    angle: float,
    offset_center: Sequence[int] = (0, 0),
    da_mode: str = "original",
    constant: float = 0.0,
    name: str = "",
) -> Layer:
    """Rotate by `angle` degrees counter-clockwise around the centre + (row, col) offset_center."""
    params = {
        "angle": float(angle),
        "offset_center": _coords(offset_center, "offset_center"),
        "da_mode": _da_mode(da_mode),
        "constant": float(constant),
    }
    return Layer("Rotate", [parent], params, name or None)


def Shift(
    parent: Layer,
    shift: Sequence[int],
    da_mode: str = "nearest",
    constant: float = 0.0,
    name: str = "",
) -> Layer:
    """Translate by (rows, cols) pixels; positive moves the content down and right."""
    params = {
        "shift": _coords(shift, "shift"),
        "da_mode": _da_mode(da_mode),
        "constant": float(constant),
    }
    return Layer("Shift", [parent], params, name or None)


def Scale(
    parent: Layer,
    new_shape: Sequence[int],
    reshape: bool = True,
    da_mode: str = "constant",
    constant: float = 0.0,
    coordinate_transformation_mode: str = "asymmetric",
    name: str = "",
) -> Layer:
    """Resize to (height, width) (a Resize layer; `reshape=False` keeps the input size)."""
    from deephealth.eddl.layers.shape import Resize

    return Resize(
        parent, new_shape, reshape, da_mode, constant, coordinate_transformation_mode, name
    )


def RandomFlip(parent: Layer, axis: int, name: str = "") -> Layer:
    """Flip each sample along axis 0 (rows) or 1 (columns) with probability 1/2 (train only)."""
    if axis not in (0, 1):
        raise ValueError(f"RandomFlip axis must be 0 (rows) or 1 (columns), got {axis}")
    return Layer("RandomFlip", [parent], {"axis": int(axis)}, name or None)


def RandomHorizontalFlip(parent: Layer, name: str = "") -> Layer:
    """Mirror each sample left-right with probability 1/2 (train only)."""
    return RandomFlip(parent, 1, name)


def RandomVerticalFlip(parent: Layer, name: str = "") -> Layer:
    """Mirror each sample top-bottom with probability 1/2 (train only)."""
    return RandomFlip(parent, 0, name)


def RandomCrop(parent: Layer, new_shape: Sequence[int], name: str = "") -> Layer:
    """A random (height, width) crop per sample in training; the centered crop in eval."""
    return Layer(
        "RandomCrop", [parent], {"new_shape": _coords(new_shape, "new_shape")}, name or None
    )


def RandomCropScale(
    parent: Layer, factor: Sequence[float], da_mode: str = "nearest", name: str = ""
) -> Layer:
    """Crop a random box of relative size in `factor` = [a, b] and scale it to the input size."""
    params = {"factor": float_pair(factor, "factor"), "da_mode": _da_mode(da_mode)}
    if not 0.0 < params["factor"][0] <= params["factor"][1] <= 1.0:
        raise ValueError(f"RandomCropScale factor must lie in (0, 1], got {list(factor)}")
    return Layer("RandomCropScale", [parent], params, name or None)


def RandomCutout(
    parent: Layer,
    factor_x: Sequence[float],
    factor_y: Sequence[float],
    constant: float = 0.0,
    name: str = "",
) -> Layer:
    """Blank a random box whose relative width/height lie in factor_x/factor_y (train only)."""
    params = {
        "factor_x": float_pair(factor_x, "factor_x"),
        "factor_y": float_pair(factor_y, "factor_y"),
        "constant": float(constant),
    }
    for key in ("factor_x", "factor_y"):
        if not 0.0 <= params[key][0] <= params[key][1] <= 1.0:
            raise ValueError(f"RandomCutout {key} must lie in [0, 1], got {params[key]}")
    return Layer("RandomCutout", [parent], params, name or None)


def RandomRotation(
    parent: Layer,
    factor: Sequence[float],
    offset_center: Sequence[int] = (0, 0),
    da_mode: str = "original",
    constant: float = 0.0,
    name: str = "",
) -> Layer:
    """Rotate each sample by a random angle in `factor` = [a, b] degrees (train only)."""
    params = {
        "factor": float_pair(factor, "factor"),
        "offset_center": _coords(offset_center, "offset_center"),
        "da_mode": _da_mode(da_mode),
        "constant": float(constant),
    }
    return Layer("RandomRotation", [parent], params, name or None)


def RandomScale(
    parent: Layer,
    factor: Sequence[float],
    da_mode: str = "nearest",
    constant: float = 0.0,
    coordinate_transformation_mode: str = "asymmetric",
    name: str = "",
) -> Layer:
    """Zoom each sample by a random factor in [a, b] around its centre, keeping its size."""
    params = {
        "factor": float_pair(factor, "factor"),
        "da_mode": _da_mode(da_mode),
        "constant": float(constant),
    }
    if params["factor"][0] <= 0:
        raise ValueError(f"RandomScale factors must be positive, got {list(factor)}")
    return Layer("RandomScale", [parent], params, name or None)


def RandomShift(
    parent: Layer,
    factor_x: Sequence[float],
    factor_y: Sequence[float],
    da_mode: str = "nearest",
    constant: float = 0.0,
    name: str = "",
) -> Layer:
    """Shift each sample by random fractions of its width/height in factor_x/factor_y."""
    params = {
        "factor_x": float_pair(factor_x, "factor_x"),
        "factor_y": float_pair(factor_y, "factor_y"),
        "da_mode": _da_mode(da_mode),
        "constant": float(constant),
    }
    return Layer("RandomShift", [parent], params, name or None)
