"""Crop augmentations: centre crop and random crop, 2D and 3D, image + ground truth alike.

Crops are numpy views (no pixel is copied), which makes a random crop of a memory-mapped volume read
only the cropped part from disk. Sizes are given in ECVL's order ``(w, h[, d])``.
"""

from __future__ import annotations

import numpy as np

from deephealth.ecvl.augment._arrays import NP_PAD, spatial_shape
from deephealth.ecvl.augment.base import Augmentation, Param
from deephealth.ecvl.errors import EcvlError


def crop_view(arr: np.ndarray, start: tuple[int, ...], size: tuple[int, ...]) -> np.ndarray:
    """View of a canonical array cropped at ``start`` (x, y[, z]) with ``size`` (w, h[, d])."""
    n = arr.ndim - 1
    sl = [slice(None)] * arr.ndim
    for i in range(min(n, len(size))):
        axis = n - 1 - i  # x is the last spatial axis
        sl[axis] = slice(start[i], start[i] + size[i])
    return arr[tuple(sl)]


def _full_size(arr: np.ndarray, size: tuple[int, ...]) -> tuple[int, ...]:
    dims = spatial_shape(arr)
    return tuple(size[i] if i < len(size) else dims[i] for i in range(len(dims)))


class AugCenterCrop(Augmentation):
    """Crop the centre of the image (pyecvl AugCenterCrop).

    Args:
        size: Output size ``(w, h[, d])``; if None, a square (cube) of the smallest side.
    """

    spec = (Param("size", "ivector", None),)
    deterministic = True

    def _transform(self, x, gt, v, rng):
        dims = spatial_shape(x)
        size = self.get("size")
        size = (min(dims),) * len(dims) if size is None else _full_size(x, size)
        if any(s > d for s, d in zip(size, dims)):
            raise EcvlError(f"AugCenterCrop: crop size {size} larger than image {dims}")
        start = tuple((d - s) // 2 for d, s in zip(dims, size))
        return crop_view(x, start, size), None if gt is None else crop_view(gt, start, size)


def _pad_to(arr: np.ndarray, size: tuple[int, ...], border: str, value: float) -> np.ndarray:
    dims = spatial_shape(arr)
    if all(s <= d for s, d in zip(size, dims)):
        return arr
    pads = [(0, 0)] * arr.ndim
    n = arr.ndim - 1
    for i, (s, d) in enumerate(zip(size, dims)):
        extra = max(0, s - d)
        pads[n - 1 - i] = (extra // 2, extra - extra // 2)
    mode = NP_PAD[border]
    if mode == "constant":
        return np.pad(arr, pads, mode="constant", constant_values=value)
    return np.pad(arr, pads, mode=mode)


class AugRandomCrop(Augmentation):
    """Crop a random window; pads first when the window is larger (pyecvl AugRandomCrop).

    Args:
        size: Output size ``(w, h[, d])``.
        border_type: Padding when the image is smaller than ``size``.
        border_value: Padding value for ``border_type="constant"`` (ground truth pads with 0).
    """

    spec = (
        Param("size", "ivector"),
        Param("border_type", "border", "constant"),
        Param("border_value", "number", 0.0),
    )

    def _transform(self, x, gt, v, rng):
        size = _full_size(x, self.get("size"))
        border = self.get("border_type")
        x = _pad_to(x, size, border, self.get("border_value"))
        if gt is not None:
            gt = _pad_to(gt, size, border, 0)
        dims = spatial_shape(x)
        start = tuple(int(rng.integers(0, d - s + 1)) for d, s in zip(dims, size))
        return crop_view(x, start, size), None if gt is None else crop_view(gt, start, size)
