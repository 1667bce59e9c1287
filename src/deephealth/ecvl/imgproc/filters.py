"""Filtering with pyecvl names (Filter2D, SeparableFilter2D, GaussianBlur, Morphology, Inpaint,
IntegralImage, NonMaximaSuppression) and what ECVL lacked (MedianBlur, AverageBlur), on OpenCV.

Borders follow OpenCV's defaults (reflect-101) unless a function takes a border argument.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import DataType, Image
from deephealth.ecvl.imgproc._common import BorderType, cv_view, kernel_array, wrap

_CV_DEPTH = {
    DataType.uint8: cv2.CV_8U,
    DataType.int8: cv2.CV_8S,
    DataType.uint16: cv2.CV_16U,
    DataType.int16: cv2.CV_16S,
    DataType.int32: cv2.CV_32S,
    DataType.float32: cv2.CV_32F,
    DataType.float64: cv2.CV_64F,
}


class MorphType(enum.IntEnum):
    """Morphological operations (pyecvl ``MorphType``), valued as OpenCV's."""

    MORPH_ERODE = cv2.MORPH_ERODE
    MORPH_DILATE = cv2.MORPH_DILATE
    MORPH_OPEN = cv2.MORPH_OPEN
    MORPH_CLOSE = cv2.MORPH_CLOSE
    MORPH_GRADIENT = cv2.MORPH_GRADIENT
    MORPH_TOPHAT = cv2.MORPH_TOPHAT
    MORPH_BLACKHAT = cv2.MORPH_BLACKHAT
    MORPH_HITMISS = cv2.MORPH_HITMISS


class InpaintType(enum.IntEnum):
    """Inpainting methods (pyecvl ``InpaintType``)."""

    INPAINT_NS = cv2.INPAINT_NS
    INPAINT_TELEA = cv2.INPAINT_TELEA


def _depth(dtype: DataType) -> int:
    dtype = DataType(dtype)
    if dtype is DataType.none:
        return -1
    if dtype not in _CV_DEPTH:
        raise EcvlError(f"output type {dtype.name} is not supported by OpenCV filters")
    return _CV_DEPTH[dtype]


def _ksize(ksize: int | Sequence[int], name: str) -> tuple[int, int]:
    k = (int(ksize), int(ksize)) if np.isscalar(ksize) else tuple(int(v) for v in ksize)  # type: ignore[arg-type]
    if len(k) != 2 or min(k) <= 0:
        raise EcvlError(f"{name}: kernel size must be positive, got {ksize}")
    return k  # type: ignore[return-value]


def Filter2D(src: Image, dst: Image, ker: Any, type: DataType = DataType.none) -> None:  # noqa: A002 (pyeddl/pyecvl signature)
    """Correlate with the kernel ``ker`` (an Image, or an OpenCV-ordered ``(rows, cols)`` array)
    (``cv2.filter2D``); ``type`` picks the output type (``none`` keeps the source's)."""
    arr = cv_view(src, "Filter2D")
    k = kernel_array(ker, "Filter2D").astype(np.float64)
    dst._assign(wrap(src, cv2.filter2D(arr, _depth(type), k)))


def SeparableFilter2D(
    src: Image,
    dst: Image,
    kerX: Sequence[float],
    kerY: Sequence[float],
    type: DataType = DataType.none,  # noqa: A002 (pyeddl/pyecvl signature)
) -> None:
    """Filter rows with ``kerX`` then columns with ``kerY`` (``cv2.sepFilter2D``)."""
    arr = cv_view(src, "SeparableFilter2D")
    kx = np.asarray(kerX, dtype=np.float64).ravel()
    ky = np.asarray(kerY, dtype=np.float64).ravel()
    if kx.size == 0 or ky.size == 0:
        raise EcvlError("SeparableFilter2D: kernels must not be empty")
    dst._assign(wrap(src, cv2.sepFilter2D(arr, _depth(type), kx, ky)))


def GaussianBlur(
    src: Image,
    dst: Image,
    sizeX: float,  # noqa: N803 - pyecvl names
    sizeY: int | None = None,  # noqa: N803
    sigmaX: float | None = None,  # noqa: N803
    sigmaY: float = 0.0,  # noqa: N803
) -> None:
    """Gaussian blur (``cv2.GaussianBlur``), called as pyecvl does: ``GaussianBlur(src, dst,
    sizeX, sizeY, sigmaX, sigmaY=0)`` or ``GaussianBlur(src, dst, sigma)`` (size from sigma)."""
    if sizeY is None and sigmaX is None:
        args: tuple[float, ...] = (sizeX,)
    elif sizeY is None or sigmaX is None:
        raise EcvlError("GaussianBlur: use (sigma) or (sizeX, sizeY, sigmaX[, sigmaY])")
    else:
        args = (sizeX, sizeY, sigmaX, sigmaY)
    arr = cv_view(src, "GaussianBlur")
    if len(args) == 1:
        size, sx, sy = (0, 0), float(args[0]), 0.0
        if sx <= 0:
            raise EcvlError(f"GaussianBlur: sigma must be positive, got {sx}")
    elif len(args) in (3, 4):
        size = (int(args[0]), int(args[1]))
        sx, sy = float(args[2]), float(args[3]) if len(args) == 4 else 0.0
        if (
            min(size) < 0
            or (size[0] > 0 and size[0] % 2 == 0)
            or (size[1] > 0 and size[1] % 2 == 0)
        ):
            raise EcvlError(f"GaussianBlur: sizes must be odd and positive (or 0), got {size}")
    else:
        raise EcvlError("GaussianBlur: use (sigma) or (sizeX, sizeY, sigmaX[, sigmaY])")
    dst._assign(wrap(src, cv2.GaussianBlur(arr, size, sx, sigmaY=sy)))


def GaussianBlur2(src: Image, dst: Image, sigma: float) -> None:
    """pyecvl ``GaussianBlur2``: Gaussian blur with the kernel size derived from ``sigma``."""
    GaussianBlur(src, dst, sigma)


def MedianBlur(src: Image, dst: Image, ksize: int) -> None:
    """Median filter with an odd square window (``cv2.medianBlur``; replicated borders). Sizes
    above 5 need uint8 in OpenCV; other types then use ``scipy.ndimage.median_filter``."""
    arr = cv_view(src, "MedianBlur")
    k = int(ksize)
    if k < 1 or k % 2 == 0:
        raise EcvlError(f"MedianBlur: ksize must be odd and positive, got {ksize}")
    if arr.dtype == np.uint8 or (k <= 5 and arr.dtype in (np.uint16, np.int16, np.float32)):
        out = cv2.medianBlur(np.ascontiguousarray(arr), k)
    else:
        import scipy.ndimage as ndi

        size = (k, k) if arr.ndim == 2 else (k, k, 1)
        out = ndi.median_filter(arr, size=size, mode="nearest")
    dst._assign(wrap(src, out))


def AverageBlur(src: Image, dst: Image, ksize: int | Sequence[int]) -> None:
    """Box (mean) filter of ``ksize`` (an int, or ``[kx, ky]``) (``cv2.blur``)."""
    dst._assign(wrap(src, cv2.blur(cv_view(src, "AverageBlur"), _ksize(ksize, "AverageBlur"))))


def Morphology(
    src: Image,
    dst: Image,
    op: MorphType,
    kernel: Any,
    anchor: Sequence[int] = (-1, -1),
    iterations: int = 1,
    border_type: BorderType = BorderType.BORDER_CONSTANT,
    border_value: float | None = None,
) -> None:
    """Morphological operation ``op`` with the structuring element ``kernel`` (Image or array of
    0/1) (``cv2.morphologyEx``). ``border_value=None`` uses OpenCV's neutral border (the image
    border neither erodes nor dilates)."""
    arr = cv_view(src, "Morphology")
    k = kernel_array(kernel, "Morphology").astype(np.uint8)
    kw: dict[str, Any] = {
        "anchor": tuple(int(a) for a in anchor),
        "iterations": int(iterations),
        "borderType": int(border_type),
    }
    if border_value is not None:
        kw["borderValue"] = float(border_value)
    dst._assign(wrap(src, cv2.morphologyEx(arr, int(MorphType(op)), k, **kw)))


def Inpaint(
    src: Image,
    dst: Image,
    inpaintMask: Image,
    inpaintRadius: float,
    flag: InpaintType = InpaintType.INPAINT_TELEA,
) -> None:
    """Fill the pixels where ``inpaintMask`` is non-zero from their surroundings (``cv2.inpaint``;
    8-bit 1- or 3-channel, 16-bit or float single-channel images)."""
    arr = cv_view(src, "Inpaint", frozenset({"uint8", "uint16", "float32"}))
    mask = cv_view(inpaintMask, "Inpaint (mask)", frozenset({"uint8"}))
    if mask.shape[:2] != arr.shape[:2] or mask.ndim != 2:
        raise EcvlError("Inpaint: the mask must be single-channel uint8 of the image's size")
    out = cv2.inpaint(
        np.ascontiguousarray(arr), np.ascontiguousarray(mask), float(inpaintRadius), int(flag)
    )
    dst._assign(wrap(src, out))


def IntegralImage(src: Image, dst: Image, dst_type: DataType = DataType.float64) -> None:
    """Summed-area table of size ``(W+1, H+1)`` (``cv2.integral``): ``out[x, y]`` is the sum of the
    pixels left of x and above y."""
    arr = cv_view(
        src, "IntegralImage", frozenset({"uint8", "uint16", "int16", "float32", "float64"})
    )
    depth = _depth(dst_type)
    if depth not in (cv2.CV_32S, cv2.CV_32F, cv2.CV_64F):
        raise EcvlError("IntegralImage: dst_type must be int32, float32 or float64")
    dst._assign(wrap(src, cv2.integral(arr, sdepth=depth)))


_NMS_TYPES = frozenset({"uint8", "int8", "uint16", "int16", "int32", "float32", "float64"})


def NonMaximaSuppression(src: Image, dst: Image) -> None:
    """Keep the pixels that are the maximum of their 3x3 neighbourhood, zero the others
    (single-channel images of any type, int32 included, as ECVL)."""
    arr = cv_view(src, "NonMaximaSuppression", _NMS_TYPES)
    if arr.ndim != 2:
        raise EcvlError("NonMaximaSuppression: needs a single-channel image")
    if arr.dtype.name in ("int8", "int32"):  # OpenCV's dilate has no such kernels: SciPy
        from scipy.ndimage import maximum_filter

        local_max = maximum_filter(arr, size=3, mode="nearest")
    else:
        local_max = cv2.dilate(arr, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    dst._assign(wrap(src, np.where(arr == local_max, arr, arr.dtype.type(0))))
