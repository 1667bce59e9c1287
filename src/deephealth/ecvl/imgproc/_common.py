"""Shared plumbing of the processing functions: enums, the OpenCV view, result wrapping, RNGs.

Every 2D function works on the OpenCV view of its source (:meth:`Image.to_cv`) and wraps the OpenCV
result back as an ``"xyc"`` Image that keeps the source's colour type, spacings and metadata; the
result replaces the content of the pyecvl ``dst`` argument (which may be the source itself).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import ColorType, Image

_CV_DTYPES = frozenset({"uint8", "uint16", "int16", "float32", "float64"})


class InterpolationType(enum.IntEnum):
    """Interpolation methods (pyecvl ``InterpolationType``), valued as OpenCV's flags."""

    nearest = cv2.INTER_NEAREST
    linear = cv2.INTER_LINEAR
    cubic = cv2.INTER_CUBIC
    area = cv2.INTER_AREA
    lanczos4 = cv2.INTER_LANCZOS4


class BorderType(enum.IntEnum):
    """Border handling (pyecvl ``BorderType``), valued as OpenCV's flags."""

    BORDER_CONSTANT = cv2.BORDER_CONSTANT
    BORDER_REPLICATE = cv2.BORDER_REPLICATE
    BORDER_REFLECT = cv2.BORDER_REFLECT
    BORDER_WRAP = cv2.BORDER_WRAP
    BORDER_REFLECT_101 = cv2.BORDER_REFLECT_101
    BORDER_TRANSPARENT = cv2.BORDER_TRANSPARENT


# scipy.ndimage spline order per interpolation (area and lanczos fall back to linear / cubic).
SPLINE_ORDER = {
    InterpolationType.nearest: 0,
    InterpolationType.linear: 1,
    InterpolationType.area: 1,
    InterpolationType.cubic: 3,
    InterpolationType.lanczos4: 3,
}


def cv_view(src: Image, name: str, dtypes: frozenset[str] = _CV_DTYPES) -> np.ndarray:
    """The OpenCV ``(H, W[, C])`` view of a 2D image, checked for emptiness and pixel type.

    Raises:
        EcvlError: Empty image, not 2D, or a pixel type ``name`` cannot process.
    """
    if not isinstance(src, Image):
        raise EcvlError(f"{name}: expected an Image, got {type(src).__name__}")
    if src.IsEmpty():
        raise EcvlError(f"{name}: the image is empty")
    try:
        arr = src.to_cv()
    except EcvlError as e:
        raise EcvlError(f"{name}: {e}") from None
    if arr.dtype.name not in dtypes:
        raise EcvlError(f"{name}: pixel type {arr.dtype.name} is not supported; ConvertTo first")
    return arr


def single_channel(src: Image, arr: np.ndarray) -> np.ndarray:
    """A one-channel OpenCV array from ``arr``, as lenient as ECVL.

    Gray arrays pass; a BGR/RGB(A) image becomes its luminance (``cv2.cvtColor``, or the same
    weights in float64 for types OpenCV does not convert); a GRAY or untyped image with several
    channels gives its first channel (the first plane, which ECVL reads).
    """
    if arr.ndim == 2:
        return arr
    rgb_order = {ColorType.RGB: (0, 1, 2), ColorType.RGBA: (0, 1, 2), ColorType.BGR: (2, 1, 0)}
    order = rgb_order.get(src.colortype)
    if order is None or arr.shape[2] < 3:
        return arr[:, :, 0]
    r, g, b = (arr[:, :, i].astype(np.float64) for i in order)
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    return luma.astype(arr.dtype) if arr.dtype.kind == "f" else np.rint(luma).astype(arr.dtype)


def wrap(
    src: Image,
    arr: np.ndarray,
    colortype: ColorType | None = None,
    spacings: Sequence[float] | None = None,
) -> Image:
    """An ``"xyc"`` Image around the OpenCV result ``arr``, with ``src``'s other attributes."""
    out = Image.from_cv(arr, src.colortype if colortype is None else colortype)
    if spacings is not None:
        out.spacings = [float(s) for s in spacings]
    else:
        sx = src.spacings[src.channels.index("x")] if "x" in src.channels else 1.0
        sy = src.spacings[src.channels.index("y")] if "y" in src.channels else 1.0
        out.spacings = [sx, sy, 1.0]
    out.meta = dict(src.meta)
    return out


def like(src: Image, data: np.ndarray, **kw: Any) -> Image:
    """An Image with ``data`` in ``src``'s layout and attributes (any dimensionality)."""
    return src._like(data, **kw)


def rng_of(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed, an existing Generator, or fresh entropy (None)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def kernel_array(kernel: Any, name: str) -> np.ndarray:
    """A kernel as an OpenCV array: an Image is taken through its OpenCV view, arrays as given."""
    if isinstance(kernel, Image):
        arr = kernel.to_cv()
    else:
        arr = np.asarray(kernel)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.size == 0:
        raise EcvlError(f"{name}: kernel must be a non-empty 2D array, got shape {arr.shape}")
    return arr


def type_max(dtype: np.dtype) -> float:
    """The largest value of an integer type, or 1.0 for floats (images in [0, 1])."""
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0
