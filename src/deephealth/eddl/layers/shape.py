"""Core layers that move, select or resample data: Dropout, Flatten, Reshape, Permute, Squeeze,
Unsqueeze, Select/Slice, Split, Transpose, Embedding, Pad, UpSampling2D/3D, Resize, GaussianNoise.

Axes exclude the batch (EDDL's convention). Dropout and GaussianNoise act in training mode only
(`module.training`); in eval mode they are the identity.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deephealth.eddl.layers._util import int_list, norm_axis
from deephealth.eddl.layers.base import (
    Layer,
    LayerSpec,
    Shape,
    ShapeError,
    expect_rank,
    register,
    single,
)


class _Spec(LayerSpec):
    """Spec base for the simple one-parent layers of this module."""


# ---- Dropout / GaussianNoise ------------------------------------------------------------------


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
class DropoutSpec(_Spec):
    """Randomly zeroes a fraction `rate` of the units in training mode."""

    kind = "Dropout"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return single(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        if params["iw"]:
            return nn.Dropout(params["rate"])
        return DropoutNoScale(params["rate"])


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
class GaussianNoiseSpec(_Spec):
    """Additive zero-mean Gaussian noise in training mode."""

    kind = "GaussianNoise"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return single(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return GaussianNoiseModule(params["stddev"])


# ---- Reshape family -------------------------------------------------------------------------


class ReshapeModule(nn.Module):
    """Reshape each sample to a fixed shape (`Flatten`, `Reshape`, `Squeeze`, `Unsqueeze`)."""

    def __init__(self, shape: Shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"{self.shape}"


@register
class FlattenSpec(_Spec):
    """Flattens each sample to one axis."""

    kind = "Flatten"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return (math.prod(single(in_shapes)),)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return nn.Flatten()


@register
class ReshapeSpec(_Spec):
    """Reshape each sample; one size may be -1."""

    kind = "Reshape"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        target = list(params["shape"])
        n = math.prod(shape)
        if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
            raise ShapeError(f"Reshape target {target} may hold one -1 and positive sizes only")
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if n % known:
                raise ShapeError(f"cannot reshape {list(shape)} ({n} values) to {target}")
            target[target.index(-1)] = n // known
        elif known != n:
            raise ShapeError(f"cannot reshape {list(shape)} ({n} values) to {target}")
        return tuple(target)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return ReshapeModule(out_shape)


@register
class SqueezeSpec(_Spec):
    """Removes the size-1 axis `axis`, or every size-1 axis when axis is -1 (EDDL)."""

    kind = "Squeeze"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        axis = params["axis"]
        if axis == -1:
            out = tuple(d for d in shape if d != 1)
            return out or (1,)
        axis = norm_axis(axis, len(shape), "Squeeze axis")
        if shape[axis] != 1:
            raise ShapeError(f"Squeeze axis {axis} has size {shape[axis]}, not 1")
        return shape[:axis] + shape[axis + 1 :]

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return ReshapeModule(out_shape)


@register
class UnsqueezeSpec(_Spec):
    """Inserts a size-1 axis at `axis`."""

    kind = "Unsqueeze"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        axis = norm_axis(params["axis"], len(shape) + 1, "Unsqueeze axis")
        return shape[:axis] + (1,) + shape[axis:]

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return ReshapeModule(out_shape)


class PermuteModule(nn.Module):
    """Permutes the sample axes (the batch stays first)."""

    def __init__(self, dims: Sequence[int]):
        super().__init__()
        self.dims = (0, *(d + 1 for d in dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


def _check_perm(dims: list[int], rank: int) -> list[int]:
    if sorted(d % rank if -rank <= d < rank else -99 for d in dims) != list(range(rank)):
        raise ShapeError(f"dims {dims} is not a permutation of the {rank} sample axes")
    return [d % rank for d in dims]


@register
class PermuteSpec(_Spec):
    """Reorders the sample axes (batch excluded)."""

    kind = "Permute"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        dims = _check_perm(list(params["dims"]), len(shape))
        return tuple(shape[d] for d in dims)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return PermuteModule(_check_perm(list(params["dims"]), len(single(in_shapes))))


@register
class TransposeSpec(_Spec):
    """Swaps the last two sample axes."""

    kind = "Transpose"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        if len(shape) < 2:
            raise ShapeError(f"Transpose needs at least 2 sample axes, got {shape}")
        return (*shape[:-2], shape[-1], shape[-2])

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        n = len(single(in_shapes))
        return PermuteModule([*range(n - 2), n - 1, n - 2])


# ---- Select / Slice / Split -----------------------------------------------------------------


_INDEX = re.compile(r"-?\d+|(-?\d+)?\s*:\s*(-?\d+)?")


def parse_index(spec: str | int, size: int) -> tuple[int, int]:
    """One EDDL index string ("3", "1:4", ":", "-2:") -> (start, stop).

    A single index keeps its axis with size 1, as EDDL's Select does.
    """
    text = str(spec).strip()
    if ":" not in text:
        i = int(text)
        if not -size <= i < size:
            raise ShapeError(f"index {i} is outside an axis of size {size}")
        i %= size
        return i, i + 1
    lo_s, hi_s = text.split(":", 1)
    lo = int(lo_s) if lo_s.strip() else 0
    hi = int(hi_s) if hi_s.strip() else size
    lo = max(0, lo + size if lo < 0 else lo)
    hi = min(size, hi + size if hi < 0 else hi)
    if hi <= lo:
        raise ShapeError(f"slice {text!r} selects nothing from an axis of size {size}")
    return lo, hi


class SelectModule(nn.Module):
    """Basic slicing of the sample axes."""

    def __init__(self, bounds: Sequence[tuple[int, int]]):
        super().__init__()
        self.index = (slice(None), *(slice(a, b) for a, b in bounds))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[self.index]


def _bounds(params: dict[str, Any], shape: Shape) -> list[tuple[int, int]]:
    indices = list(params["indices"])
    if len(indices) > len(shape):
        raise ShapeError(f"{len(indices)} indices for a {len(shape)}-D input")
    out = []
    for i, size in enumerate(shape):
        if i < len(indices):
            lo, hi = parse_index(indices[i], size)
            out.append((lo, hi))
        else:
            out.append((0, size))
    return out


@register
class SelectSpec(_Spec):
    """Slices the sample axes with EDDL index strings ("0", "1:3", ":")."""

    kind = "Select"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return tuple(b - a for a, b in _bounds(params, single(in_shapes)))

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return SelectModule(_bounds(params, single(in_shapes)))


# ---- Embedding ------------------------------------------------------------------------------


class EmbeddingModule(nn.Embedding):
    """`nn.Embedding` over float-coded indices; a trailing axis of size 1 is dropped."""

    squeeze_last: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.squeeze_last:
            x = x.squeeze(-1)
        return super().forward(x.long())


@register
class EmbeddingSpec(_Spec):
    """Turns integer indices (given as numbers) into dense vectors of size `output_dim`."""

    kind = "Embedding"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        if len(shape) >= 1 and shape[-1] == 1:
            shape = shape[:-1]
        return (*shape, params["output_dim"])

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        shape = single(in_shapes)
        module = EmbeddingModule(
            params["vocsize"], params["output_dim"], padding_idx=0 if params["mask_zeros"] else None
        )
        module.squeeze_last = len(shape) >= 1 and shape[-1] == 1
        return module


# ---- Pad ------------------------------------------------------------------------------------


class PadModule(nn.Module):
    """Constant padding of the last two axes."""

    def __init__(self, pad: list[int], value: float):
        super().__init__()
        self.pad, self.value = pad, value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pad, value=self.value)


def _pad_lrtb(padding: Sequence[int]) -> list[int]:
    """EDDL padding [top-bottom, left-right] or [top, right, bottom, left] -> F.pad order."""
    if len(padding) == 2:
        tb, lr = padding
        return [lr, lr, tb, tb]
    top, right, bottom, left = padding
    return [left, right, top, bottom]


@register
class PadSpec(_Spec):
    """Pads the two last (spatial) axes with a constant."""

    kind = "Pad"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        if len(shape) < 2:
            raise ShapeError(f"Pad needs at least 2 axes (H, W), got {shape}")
        left, right, top, bottom = _pad_lrtb(params["padding"])
        return (*shape[:-2], shape[-2] + top + bottom, shape[-1] + left + right)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return PadModule(_pad_lrtb(params["padding"]), params["constant"])


# ---- UpSampling / Resize --------------------------------------------------------------------

_INTERP = {"nearest", "bilinear", "linear", "trilinear"}


def _torch_mode(interpolation: str, nd: int, ctm: str = "asymmetric") -> str:
    if interpolation == "nearest":
        return "nearest" if ctm == "asymmetric" else "nearest-exact"
    return {1: "linear", 2: "bilinear", 3: "trilinear"}[nd]


class UpsampleModule(nn.Module):
    """`F.interpolate` to a fixed spatial size, then an optional centered crop/pad back."""

    def __init__(self, size: Sequence[int], mode: str, keep: Sequence[int] | None, value: float):
        super().__init__()
        self.size, self.mode = tuple(size), mode
        self.align = False if mode in ("linear", "bilinear", "trilinear") else None
        self.keep, self.value = (tuple(keep) if keep else None), value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.interpolate(x, size=self.size, mode=self.mode, align_corners=self.align)
        if self.keep is None:
            return y
        return center_fit(y, self.keep, self.value)

    def extra_repr(self) -> str:
        return f"size={self.size}, mode={self.mode}"


def center_fit(y: torch.Tensor, size: Sequence[int], value: float) -> torch.Tensor:
    """Center-crop or constant-pad the trailing spatial axes of `y` to `size`."""
    pad: list[int] = []
    for cur, want in zip(reversed(y.shape[2:]), reversed(size)):
        diff = want - cur
        pad += [diff // 2, diff - diff // 2]  # negative values crop
    return F.pad(y, pad, value=value)


@register
class UpSamplingSpec(_Spec):
    """Upsampling of the spatial axes by integer factors (nearest or (bi/tri)linear)."""

    kind = "UpSampling"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        nd = len(params["size"])
        expect_rank(shape, [nd + 1], f"UpSampling by {params['size']} needs channels + {nd} axes")
        return (shape[0], *(d * f for d, f in zip(shape[1:], params["size"])))

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        nd = len(params["size"])
        return UpsampleModule(out_shape[1:], _torch_mode(params["interpolation"], nd), None, 0.0)


@register
class ResizeSpec(_Spec):
    """Resizes the spatial axes to `new_shape` (EDDL's Resize, Scale and UpSampling3D)."""

    kind = "Resize"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        nd = len(params["new_shape"])
        expect_rank(shape, [nd + 1], f"Resize to {params['new_shape']} needs channels + {nd} axes")
        if params["reshape"]:
            return (shape[0], *params["new_shape"])
        return shape

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        shape = single(in_shapes)
        nd = len(params["new_shape"])
        mode = _torch_mode(params["interpolation"], nd, params["coordinate_transformation_mode"])
        keep = None if params["reshape"] else shape[1:]
        return UpsampleModule(params["new_shape"], mode, keep, params["constant"])


# ---- constructors ---------------------------------------------------------------------------


def Dropout(parent: Layer, rate: float, iw: bool = True, name: str = "") -> Layer:  # noqa: N802
    """Zero a fraction `rate` of the units in training mode.

    `iw=True` (EDDL's default, "weighting in inference") keeps the expected activation equal in
    training and inference; it is computed as torch's inverted dropout (scaled in training).
    `iw=False` drops without any scaling.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"Dropout rate must be in [0, 1), got {rate}")
    return Layer("Dropout", [parent], {"rate": float(rate), "iw": bool(iw)}, name or None)


def GaussianNoise(parent: Layer, stddev: float, name: str = "") -> Layer:  # noqa: N802
    """Add zero-centered Gaussian noise of standard deviation `stddev` in training mode."""
    if stddev < 0:
        raise ValueError(f"GaussianNoise stddev must be >= 0, got {stddev}")
    return Layer("GaussianNoise", [parent], {"stddev": float(stddev)}, name or None)


def Flatten(parent: Layer, name: str = "") -> Layer:  # noqa: N802
    """Flatten each sample to one axis."""
    return Layer("Flatten", [parent], {}, name or None)


def Reshape(parent: Layer, shape: Sequence[int], name: str = "") -> Layer:  # noqa: N802
    """Reshape each sample to `shape` (batch excluded; one -1 allowed)."""
    return Layer("Reshape", [parent], {"shape": [int(d) for d in shape]}, name or None)


def Squeeze(parent: Layer, axis: int = -1, name: str = "") -> Layer:  # noqa: N802
    """Remove the size-1 axis `axis`, or every size-1 axis when axis is -1 (EDDL)."""
    return Layer("Squeeze", [parent], {"axis": int(axis)}, name or None)


def Unsqueeze(parent: Layer, axis: int = 0, name: str = "") -> Layer:  # noqa: N802
    """Insert a size-1 axis at `axis` (batch excluded)."""
    return Layer("Unsqueeze", [parent], {"axis": int(axis)}, name or None)


def Permute(l: Layer, dims: Sequence[int], name: str = "") -> Layer:  # noqa: N802
    """Reorder the sample axes, e.g. [2, 0, 1] (batch excluded)."""
    return Layer("Permute", [l], {"dims": [int(d) for d in dims]}, name or None)


def Transpose(parent: Layer, name: str = "") -> Layer:  # noqa: N802
    """Swap the last two sample axes."""
    return Layer("Transpose", [parent], {}, name or None)


def Select(l: Layer, indices: Sequence[str | int], name: str = "") -> Layer:  # noqa: N802
    """Slice the sample axes with EDDL index strings, e.g. `[":", "0:2", "5"]`.

    A single index ("5") keeps its axis with size 1; missing trailing axes are taken whole.
    """
    texts = [str(i).strip() for i in indices]
    bad = [t for t in texts if not _INDEX.fullmatch(t)]
    if bad:
        raise ValueError(f"Select indices must look like '3', '1:4', ':' or '-2:', got {bad}")
    return Layer("Select", [l], {"indices": texts}, name or None)


Slice = Select


def Split(  # noqa: N802
    l: Layer,
    indexes: Sequence[int],
    axis: int = -1,
    merge_sublayers: bool = False,
    name: str = "",
) -> list[Layer]:
    """Split along `axis` at `indexes` ({20, 60} -> [0:20], [20:60], [60:]); returns a list."""
    shape = l.output_shape
    ax = norm_axis(int(axis), len(shape), "Split axis")
    cuts = [0, *(int(i) for i in indexes), shape[ax]]
    if any(b <= a for a, b in zip(cuts, cuts[1:])):
        raise ValueError(f"Split indexes {list(indexes)} must increase within (0, {shape[ax]})")
    base = name or None
    out = []
    for k, (a, b) in enumerate(zip(cuts, cuts[1:])):
        idx = [":"] * ax + [f"{a}:{b}"]
        out.append(Select(l, idx, f"{base}_{k}" if base else ""))
    return out


def Embedding(  # noqa: N802
    parent: Layer,
    vocsize: int,
    length: int,
    output_dim: int,
    mask_zeros: bool = False,
    name: str = "",
) -> Layer:
    """Dense vectors for integer indices in [0, vocsize): (L,) -> (L, output_dim).

    `length` is EDDL's sequence length (kept for compatibility; the input shape decides). With
    `mask_zeros`, index 0 maps to a zero vector that is not trained.
    """
    if vocsize <= 0 or output_dim <= 0:
        raise ValueError(
            f"Embedding needs positive vocsize and output_dim, got {vocsize}, {output_dim}"
        )
    params = {
        "vocsize": int(vocsize),
        "length": int(length),
        "output_dim": int(output_dim),
        "mask_zeros": bool(mask_zeros),
    }
    return Layer("Embedding", [parent], params, name or None)


def Pad(parent: Layer, padding: Sequence[int], constant: float = 0.0, name: str = "") -> Layer:  # noqa: N802
    """Pad (H, W) with `constant`: [top-bottom, left-right] or [top, right, bottom, left]."""
    pads = [int(p) for p in padding]
    if len(pads) not in (2, 4) or any(p < 0 for p in pads):
        raise ValueError(f"Pad takes 2 or 4 non-negative sizes, got {list(padding)}")
    return Layer("Pad", [parent], {"padding": pads, "constant": float(constant)}, name or None)


def _interp(value: str) -> str:
    v = value.lower()
    if v not in _INTERP:
        raise ValueError(f"interpolation must be one of {sorted(_INTERP)}, got {value!r}")
    return "nearest" if v == "nearest" else "linear"


def UpSampling2D(  # noqa: N802
    parent: Layer, size: Sequence[int], interpolation: str = "nearest", name: str = ""
) -> Layer:
    """Upsample (C, H, W) by integer factors `size` = [fh, fw]; "nearest" or "bilinear"."""
    params = {
        "size": int_list(size, 2, "UpSampling2D size"),
        "interpolation": _interp(interpolation),
    }
    if any(f <= 0 for f in params["size"]):
        raise ValueError(f"UpSampling2D factors must be positive, got {params['size']}")
    return Layer("UpSampling", [parent], params, name or None)


UpSampling = UpSampling2D


def _resize(
    parent: Layer,
    new_shape: Sequence[int],
    reshape: bool,
    constant: float,
    ctm: str,
    interpolation: str,
    name: str,
) -> Layer:
    shape = [int(d) for d in new_shape]
    if any(d <= 0 for d in shape):
        raise ValueError(f"new_shape must be positive sizes, got {list(new_shape)}")
    if ctm not in ("asymmetric", "half_pixel"):
        raise ValueError(
            f"coordinate_transformation_mode must be 'asymmetric' or 'half_pixel', got {ctm!r}"
        )
    params = {
        "new_shape": shape,
        "reshape": bool(reshape),
        "constant": float(constant),
        "coordinate_transformation_mode": ctm,
        "interpolation": _interp(interpolation),
    }
    return Layer("Resize", [parent], params, name or None)


def UpSampling3D(  # noqa: N802
    parent: Layer,
    new_shape: Sequence[int],
    reshape: bool = True,
    da_mode: str = "constant",
    constant: float = 0.0,
    coordinate_transformation_mode: str = "asymmetric",
    name: str = "",
    interpolation: str = "nearest",
) -> Layer:
    """Resize (C, D, H, W) to `new_shape` = [D', H', W'] (EDDL takes the new shape, not factors).

    `interpolation` ("nearest" or "trilinear") is an addition to pyeddl's arguments.
    """
    return _resize(
        parent, new_shape, reshape, constant, coordinate_transformation_mode, interpolation, name
    )


def Resize(  # noqa: N802
    parent: Layer,
    new_shape: Sequence[int],
    reshape: bool = True,
    da_mode: str = "constant",
    constant: float = 0.0,
    coordinate_transformation_mode: str = "asymmetric",
    name: str = "",
    interpolation: str = "nearest",
) -> Layer:
    """Resize the spatial axes to `new_shape` ([H, W] or [D, H, W]).

    With `reshape=False` the output keeps the input size: the resized image is center-cropped or
    padded with `constant`. `interpolation` ("nearest" or "bilinear") is an addition to pyeddl.
    """
    return _resize(
        parent, new_shape, reshape, constant, coordinate_transformation_mode, interpolation, name
    )
