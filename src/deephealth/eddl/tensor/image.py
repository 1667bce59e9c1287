"""Image transforms of pyeddl's Tensor: scale, rotate, shift, flip, crop, crop_scale, cutout.

They act on the last two axes (rows, cols) of a tensor of 2 or more dimensions, usually N×C×H×W,
and return a new tensor; the `*_random` forms draw one transform per call from torch's global
generator (seeded by `set_seed`). Conventions are those of the augmentation layers
(`layers/augmentation.py`, whose sampler is reused): coordinates are (row, col), crop boxes include
both corners, axis 0 of a flip is the vertical axis, angles are degrees counter-clockwise, and
resampling is nearest-neighbour. Pixels coming from outside the image follow `WrappingMode`:
`Constant` (the `cval` value), `Nearest` (the edge pixel) or `Original` (the input pixel).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from deephealth.eddl.tensor._base import TensorError


class WrappingMode(enum.IntEnum):
    """What fills pixels that come from outside the image (pyeddl.utils.WrappingMode)."""

    Constant = 0
    Reflect = 1
    Nearest = 2
    Mirror = 3
    Wrap = 4
    Original = 5


class TransformationMode(enum.IntEnum):
    """How output coordinates map to input ones when scaling (pyeddl.utils.TransformationMode)."""

    HalfPixel = 0
    PytorchHalfPixel = 1
    AlignCorners = 2
    Asymmetric = 3
    TFCropAndResize = 4


_DA_MODES = {
    WrappingMode.Constant: "constant",
    WrappingMode.Nearest: "nearest",
    WrappingMode.Original: "original",
}


def _da_mode(mode: WrappingMode | int) -> str:
    try:
        return _DA_MODES[WrappingMode(int(mode))]
    except (KeyError, ValueError):
        raise TensorError(
            f"wrapping mode {mode!r} is not supported here; use WrappingMode.Constant, "
            "Nearest or Original"
        ) from None


def _as_images(t: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) view of a tensor of 2+ dimensions."""
    if t.dim() < 2:
        raise TensorError(f"an image transform needs at least 2 dimensions, got {list(t.shape)}")
    return t.reshape(-1, 1, t.shape[-2], t.shape[-1])


def _affine(t: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor, mode: Any, cval: float):
    from deephealth.eddl.affine import affine_sample

    x = _as_images(t)
    n = x.shape[0]
    out = affine_sample(x, matrix.expand(n, 2, 2), offset.expand(n, 2), _da_mode(mode), cval)
    return out.reshape(t.shape)


def _box(t: torch.Tensor, coords_from: Sequence[int], coords_to: Sequence[int]) -> tuple:
    (y0, x0), (y1, x1) = [int(v) for v in coords_from], [int(v) for v in coords_to]
    h, w = t.shape[-2], t.shape[-1]
    if not (0 <= y0 <= y1 < h and 0 <= x0 <= x1 < w):
        raise TensorError(f"box from ({y0}, {x0}) to ({y1}, {x1}) is not inside a {h}x{w} image")
    return slice(y0, y1 + 1), slice(x0, x1 + 1)


def _uniform(lo_hi: Sequence[float]) -> float:
    lo, hi = float(lo_hi[0]), float(lo_hi[1])
    return lo + (hi - lo) * float(torch.rand(()))


class ImageMixin:
    """Geometric image transforms; the class sets `torch` and `wrap`."""

    __slots__ = ()  # Tensor instances hold only `torch`: no __dict__ (faster to make)

    torch: torch.Tensor

    def scale(
        self,
        new_shape: Sequence[int],
        mode: WrappingMode | int = WrappingMode.Constant,
        cval: float = 0.0,
        coordinate_transformation_mode: TransformationMode | int = TransformationMode.Asymmetric,
        keep_size: bool = False,
    ) -> Any:
        """Resize the last two axes to `new_shape` (h, w) with nearest-neighbour sampling.

        With `keep_size`, the image is zoomed by the same factors around its centre and keeps its
        size (zoom-out borders filled according to `mode`).
        """
        t = self.torch
        h, w = (int(v) for v in new_shape[-2:])
        if h <= 0 or w <= 0:
            raise TensorError(f"scale needs a positive new shape, got {list(new_shape)}")
        if keep_size:
            m = torch.tensor([[t.shape[-1] / w, 0.0], [0.0, t.shape[-2] / h]], device=t.device)
            return self.wrap(_affine(t, m, torch.zeros(2, device=t.device), mode, float(cval)))
        ctm = TransformationMode(int(coordinate_transformation_mode))
        how = "nearest" if ctm == TransformationMode.Asymmetric else "nearest-exact"
        out = F.interpolate(_as_images(t), size=(h, w), mode=how)
        return self.wrap(out.reshape(*t.shape[:-2], h, w))

    def scale_random(
        self,
        factor: Sequence[float],
        mode: WrappingMode | int = WrappingMode.Constant,
        cval: float = 0.0,
    ) -> Any:
        """Zoom by a random factor in [factor[0], factor[1]] around the centre, same size."""
        s = _uniform(factor)
        t = self.torch
        m = torch.eye(2, device=t.device) / s
        return self.wrap(_affine(t, m, torch.zeros(2, device=t.device), mode, float(cval)))

    def rotate(
        self,
        angle: float,
        offset_center: Sequence[int] = (0, 0),
        mode: WrappingMode | int = WrappingMode.Constant,
        cval: float = 0.0,
    ) -> Any:
        """Rotate by `angle` degrees counter-clockwise around the centre + `offset_center`."""
        from deephealth.eddl.affine import center_offset, rotation_matrix

        t = self.torch
        m = rotation_matrix(torch.tensor(float(angle), dtype=torch.float64)).float().to(t.device)
        off = center_offset(list(offset_center), 1, m)[0]
        return self.wrap(_affine(t, m, off, mode, float(cval)))

    def rotate_random(
        self,
        factor: Sequence[float],
        offset_center: Sequence[int] = (0, 0),
        mode: WrappingMode | int = WrappingMode.Constant,
        cval: float = 0.0,
    ) -> Any:
        """Rotate by a random angle in [factor[0], factor[1]] degrees."""
        return self.rotate(_uniform(factor), offset_center, mode, cval)

    def shift(
        self,
        shift: Sequence[int],
        mode: WrappingMode | int = WrappingMode.Constant,
        cval: float = 0.0,
    ) -> Any:
        """Translate by `shift` = (rows, cols) pixels (positive: down, right)."""
        t = self.torch
        dy, dx = (float(v) for v in shift)
        off = torch.tensor([-dx, -dy], device=t.device)
        return self.wrap(_affine(t, torch.eye(2, device=t.device), off, mode, float(cval)))

    def shift_random(
        self,
        factor_x: Sequence[float],
        factor_y: Sequence[float],
        mode: WrappingMode | int = WrappingMode.Constant,
        cval: float = 0.0,
    ) -> Any:
        """Translate by random fractions of the width (factor_x) and height (factor_y)."""
        h, w = self.torch.shape[-2], self.torch.shape[-1]
        return self.shift(
            [round(_uniform(factor_y) * h), round(_uniform(factor_x) * w)], mode, cval
        )

    def flip_(self, axis: int = 0) -> None:
        """Flip in place: axis 0 vertically (rows), 1 horizontally (cols)."""
        self.torch.copy_(self._flipped(axis))

    def flip(self, axis: int = 0) -> Any:
        """A copy flipped vertically (axis 0, rows) or horizontally (axis 1, cols)."""
        return self.wrap(self._flipped(axis))

    def _flipped(self, axis: int) -> torch.Tensor:
        if int(axis) not in (0, 1):
            raise TensorError(f"flip: axis must be 0 (vertical) or 1 (horizontal), got {axis}")
        _as_images(self.torch)
        return self.torch.flip(-2 if int(axis) == 0 else -1)

    def flip_random(self, axis: int = 0) -> Any:
        """A copy flipped along `axis` with probability 1/2."""
        return self.flip(axis) if float(torch.rand(())) < 0.5 else self.clone()

    def crop(
        self,
        coords_from: Sequence[int],
        coords_to: Sequence[int],
        cval: float = 0.0,
        keep_size: bool = False,
    ) -> Any:
        """The box from `coords_from` to `coords_to` (row, col; both included).

        With `keep_size` the output keeps the input size and everything outside the box is `cval`.
        """
        t = self.torch
        rows, cols = _box(t, coords_from, coords_to)
        if not keep_size:
            return self.wrap(t[..., rows, cols].clone())
        out = torch.full_like(t, float(cval))
        out[..., rows, cols] = t[..., rows, cols]
        return self.wrap(out)

    def crop_random(
        self, height: int, width: int, cval: float = 0.0, keep_size: bool = False
    ) -> Any:
        """A `height`×`width` box at a random position (see `crop`)."""
        h, w = self.torch.shape[-2], self.torch.shape[-1]
        if not (0 < int(height) <= h and 0 < int(width) <= w):
            raise TensorError(f"crop_random: a {height}x{width} crop does not fit a {h}x{w} image")
        y = int(torch.randint(0, h - int(height) + 1, ()))
        x = int(torch.randint(0, w - int(width) + 1, ()))
        return self.crop([y, x], [y + int(height) - 1, x + int(width) - 1], cval, keep_size)

    def crop_scale(
        self,
        coords_from: Sequence[int],
        coords_to: Sequence[int],
        mode: WrappingMode | int = WrappingMode.Constant,
        cval: float = 0.0,
    ) -> Any:
        """The box from `coords_from` to `coords_to`, resized back to the input size (nearest)."""
        t = self.torch
        rows, cols = _box(t, coords_from, coords_to)
        part = _as_images(t[..., rows, cols].contiguous())
        out = F.interpolate(part, size=(t.shape[-2], t.shape[-1]), mode="nearest")
        return self.wrap(out.reshape(t.shape))

    def crop_scale_random(
        self,
        factor: Sequence[float],
        mode: WrappingMode | int = WrappingMode.Constant,
        cval: float = 0.0,
    ) -> Any:
        """A random box of relative size in [factor[0], factor[1]], resized to the input size."""
        h, w = self.torch.shape[-2], self.torch.shape[-1]
        f = _uniform(factor)
        bh, bw = max(1, min(h, round(f * h))), max(1, min(w, round(f * w)))
        y = int(torch.randint(0, h - bh + 1, ()))
        x = int(torch.randint(0, w - bw + 1, ()))
        return self.crop_scale([y, x], [y + bh - 1, x + bw - 1], mode, cval)

    def cutout(
        self, coords_from: Sequence[int], coords_to: Sequence[int], cval: float = 0.0
    ) -> Any:
        """A copy with the box from `coords_from` to `coords_to` (both included) set to `cval`."""
        t = self.torch
        rows, cols = _box(t, coords_from, coords_to)
        out = t.clone()
        out[..., rows, cols] = float(cval)
        return self.wrap(out)

    def cutout_random(
        self, factor_x: Sequence[float], factor_y: Sequence[float], cval: float = 0.0
    ) -> Any:
        """Blank a random box whose size is a random fraction of the width and height."""
        h, w = self.torch.shape[-2], self.torch.shape[-1]
        bh = max(1, min(h, round(_uniform(factor_y) * h)))
        bw = max(1, min(w, round(_uniform(factor_x) * w)))
        y = int(torch.randint(0, h - bh + 1, ()))
        x = int(torch.randint(0, w - bw + 1, ()))
        return self.cutout([y, x], [y + bh - 1, x + bw - 1], cval)
