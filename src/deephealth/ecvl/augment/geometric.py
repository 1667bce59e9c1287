"""Geometric augmentations: rotation, resizing, flips and transposition (image + ground truth).

All of them move pixels, so they transform the ground truth with the same random draw as the image,
using ``gt_interp`` (nearest by default) so label values never mix. Rotation and resizing run
:mod:`deephealth.ecvl.imgproc.geometry`'s ``Rotate2D`` / ``ResizeDim``; flips and transposition
are numpy views. Volumes (``(D, H, W, C)``) are
rotated in-plane slice by slice; resizing handles the third axis when ``dims``/``scale`` has three
entries; flips and transposition are views (no copy) until the batch is assembled.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from deephealth.ecvl.augment._arrays import INTERP, resize_axis0, via_imgproc_2d
from deephealth.ecvl.augment.base import Augmentation, Param
from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.imgproc import geometry as _geo


class AugRotate(Augmentation):
    """Rotate by a random angle (degrees, counter-clockwise) drawn in ``angle`` (pyecvl AugRotate).

    Args:
        angle: Range ``[min, max]`` of degrees.
        center: Rotation centre ``(x, y)`` in pixels; the image centre if None.
        scale: Scaling factor applied with the rotation.
        interp: Interpolation for the image.
        gt_interp: Interpolation for the ground truth.

    Example:
        >>> AugRotate([-15, 15]).to_text()
        'AugRotate angle=[-15,15] scale=1 interp="linear" gt_interp="nearest"'
    """

    spec = (
        Param("angle", "range"),
        Param("center", "vector", None),
        Param("scale", "number", 1.0),
        Param("interp", "interp", "linear"),
        Param("gt_interp", "interp", "nearest"),
    )

    def _check(self) -> None:
        c = self.get("center")
        if c is not None and len(c) != 2:
            raise EcvlError(f"AugRotate: center must be (x, y), got {c}")

    def _transform(self, x, gt, v, rng):
        args = (v["angle"], self.get("center"), self.get("scale"))
        x = via_imgproc_2d(_geo.Rotate2D, x, *args, INTERP[self.get("interp")])
        if gt is not None:
            gt = via_imgproc_2d(_geo.Rotate2D, gt, *args, INTERP[self.get("gt_interp")])
        return x, gt


def _resize(arr: np.ndarray, size: tuple[int, ...], interp: str) -> np.ndarray:
    """Resize a canonical array to ``size`` = (w, h[, d])."""
    w, h = size[0], size[1]
    if arr.shape[-3:-1] != (h, w):
        arr = via_imgproc_2d(_geo.ResizeDim, arr, [w, h], INTERP[interp])
    if len(size) > 2 and arr.ndim == 4:
        arr = resize_axis0(arr, size[2], nearest=interp == "nearest")
    return arr


class _ResizeBase(Augmentation):
    deterministic = True

    def _target(self, x: np.ndarray) -> tuple[int, ...]:
        raise NotImplementedError

    def _transform(self, x, gt, v, rng):
        size = self._target(x)
        x = _resize(x, size, self.get("interp"))
        if gt is not None:
            gt = _resize(gt, size, self.get("gt_interp"))
        return x, gt


class AugResizeDim(_ResizeBase):
    """Resize to fixed dimensions (pyecvl AugResizeDim).

    Args:
        dims: New size ``(width, height)``, or ``(width, height, depth)`` for volumes.
        interp: Interpolation for the image.
        gt_interp: Interpolation for the ground truth.
    """

    spec = (
        Param("dims", "ivector"),
        Param("interp", "interp", "linear"),
        Param("gt_interp", "interp", "nearest"),
    )

    def _check(self) -> None:
        if len(self.get("dims")) not in (2, 3):
            raise EcvlError(
                f"AugResizeDim: dims must be (w, h) or (w, h, d), got {self.get('dims')}"
            )

    def _target(self, x):
        return self.get("dims")


class AugResizeScale(_ResizeBase):
    """Resize by scale factors per axis (pyecvl AugResizeScale).

    Args:
        scale: Factors ``(sx, sy)`` or ``(sx, sy, sz)``.
        interp: Interpolation for the image.
        gt_interp: Interpolation for the ground truth.
    """

    spec = (
        Param("scale", "vector"),
        Param("interp", "interp", "linear"),
        Param("gt_interp", "interp", "nearest"),
    )

    def _check(self) -> None:
        s = self.get("scale")
        if len(s) not in (2, 3) or min(s) <= 0:
            raise EcvlError(f"AugResizeScale: scale must be 2 or 3 positive factors, got {s}")

    def _target(self, x):
        sizes = tuple(reversed(x.shape[:-1]))  # x, y[, z]
        return tuple(max(1, int(round(n * s))) for n, s in zip(sizes, self.get("scale")))


class _RandomAxisOp(Augmentation):
    """Apply a pixel-moving view operation with probability ``p`` to image and ground truth."""

    spec = (Param("p", "prob", 0.5),)
    op: ClassVar[str] = ""

    @staticmethod
    def _apply_op(op: str, a: np.ndarray) -> np.ndarray:
        sp = a.ndim - 1  # spatial axes: (..., H, W)
        if op == "flip":
            return a[..., ::-1, :, :] if sp == 2 else a[:, ::-1]
        if op == "mirror":
            return a[:, ::-1, :] if sp == 2 else a[:, :, ::-1]
        axes = list(range(a.ndim))
        axes[-3], axes[-2] = axes[-2], axes[-3]
        return a.transpose(axes)

    def _transform(self, x, gt, v, rng):
        if v["p"] <= self.get("p") and self.get("p") > 0:
            x = self._apply_op(self.op, x)
            if gt is not None:
                gt = self._apply_op(self.op, gt)
        return x, gt


class AugFlip(_RandomAxisOp):
    """Flip upside down (along y) with probability ``p`` (pyecvl AugFlip, ECVL ``Flip2D``).

    Args:
        p: Probability of flipping each image.
    """

    op = "flip"


class AugMirror(_RandomAxisOp):
    """Mirror left-right (along x) with probability ``p`` (pyecvl AugMirror, ECVL ``Mirror2D``).

    Args:
        p: Probability of mirroring each image.
    """

    op = "mirror"


class AugTranspose(_RandomAxisOp):
    """Swap the x and y axes with probability ``p`` (pyecvl AugTranspose).

    Args:
        p: Probability of transposing each image.
    """

    op = "transpose"
