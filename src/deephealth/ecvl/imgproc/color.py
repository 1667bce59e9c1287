"""Colour and contrast: ChangeColorSpace, GammaContrast, HistogramEqualization, CLAHE (OpenCV).

ECVL's YCbCr keeps the channels in Y, Cb, Cr order (OpenCV's YCrCb is reordered); HSV follows
OpenCV (hue in [0, 180) for 8-bit images). Colour images are equalized on their luma channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import ColorType, Image, saturate_cast
from deephealth.ecvl.imgproc._common import cv_view, like, type_max, wrap

_TO_BGR = {
    ColorType.GRAY: cv2.COLOR_GRAY2BGR,
    ColorType.RGB: cv2.COLOR_RGB2BGR,
    ColorType.RGBA: cv2.COLOR_RGBA2BGR,
    ColorType.HSV: cv2.COLOR_HSV2BGR,
    ColorType.YCbCr: cv2.COLOR_YCrCb2BGR,
}
_FROM_BGR = {
    ColorType.GRAY: cv2.COLOR_BGR2GRAY,
    ColorType.RGB: cv2.COLOR_BGR2RGB,
    ColorType.RGBA: cv2.COLOR_BGR2RGBA,
    ColorType.HSV: cv2.COLOR_BGR2HSV,
    ColorType.YCbCr: cv2.COLOR_BGR2YCrCb,
}
_CHANNELS = {
    ColorType.GRAY: 1,
    ColorType.RGB: 3,
    ColorType.BGR: 3,
    ColorType.HSV: 3,
    ColorType.YCbCr: 3,
    ColorType.RGBA: 4,
}


def _swap_ycc(arr: np.ndarray) -> np.ndarray:
    return arr[:, :, [0, 2, 1]]


def ChangeColorSpace(src: Image, dst: Image, new_type: ColorType) -> None:
    """Convert between GRAY, RGB, RGBA, BGR, HSV and YCbCr (``cv2.cvtColor``, through BGR).

    Raises:
        EcvlError: The source has no colour type, or its channel count does not match it.
    """
    new_type = ColorType(new_type)
    arr = cv_view(src, "ChangeColorSpace")
    old = src.colortype
    if old is ColorType.none or new_type is ColorType.none:
        raise EcvlError("ChangeColorSpace: source and target colour types must not be 'none'")
    nch = arr.shape[2] if arr.ndim == 3 else 1
    if _CHANNELS[old] != nch:
        raise EcvlError(
            f"ChangeColorSpace: a {old.name} image has {_CHANNELS[old]} channels, not {nch}"
        )
    if old is new_type:
        dst._assign(wrap(src, arr.copy()))
        return
    if old is ColorType.YCbCr:
        arr = _swap_ycc(arr)
    bgr = arr if old is ColorType.BGR else cv2.cvtColor(np.ascontiguousarray(arr), _TO_BGR[old])
    out = bgr if new_type is ColorType.BGR else cv2.cvtColor(bgr, _FROM_BGR[new_type])
    if new_type is ColorType.YCbCr:
        out = np.ascontiguousarray(_swap_ycc(out))
    dst._assign(wrap(src, out, colortype=new_type))


def GammaContrast(src: Image, dst: Image, gamma: float) -> None:
    """``out = max * (in / max) ** gamma`` with ``max`` the type's maximum (1.0 for floats), on
    any layout (volumes too, as ECVL); unsigned images go through a rounding lookup table, signed
    integers are computed in float64 (negative values give 0) and saturated."""
    if not isinstance(src, Image) or src.IsEmpty():
        raise EcvlError("GammaContrast: the image is empty")
    arr = src.data
    m = type_max(arr.dtype)
    if arr.dtype.kind == "u" and arr.dtype.itemsize <= 2:
        lut = saturate_cast(m * (np.arange(int(m) + 1, dtype=np.float64) / m) ** gamma, arr.dtype)
        out = lut[arr]
    elif arr.dtype.kind in "ui":
        out = saturate_cast(m * (np.clip(arr, 0, None) / m) ** float(gamma), arr.dtype)
    else:
        out = np.power(arr, gamma, dtype=np.float64).astype(arr.dtype)
    dst._assign(like(src, out))


def _on_luma(src: Image, name: str, fn: Callable[[np.ndarray], np.ndarray]) -> Image:
    arr = cv_view(
        src, name, frozenset({"uint8", "uint16"}) if name == "CLAHE" else frozenset({"uint8"})
    )
    if arr.ndim == 2:
        out = fn(np.ascontiguousarray(arr))
    elif src.colortype in (ColorType.BGR, ColorType.RGB):
        to, back = (
            (cv2.COLOR_BGR2YCrCb, cv2.COLOR_YCrCb2BGR)
            if src.colortype is ColorType.BGR
            else (cv2.COLOR_RGB2YCrCb, cv2.COLOR_YCrCb2RGB)
        )
        ycc = cv2.cvtColor(np.ascontiguousarray(arr), to)
        ycc[:, :, 0] = fn(np.ascontiguousarray(ycc[:, :, 0]))
        out = cv2.cvtColor(ycc, back)
    else:
        raise EcvlError(f"{name}: needs a single-channel, BGR or RGB image")
    return wrap(src, out)


def HistogramEqualization(src: Image, dst: Image) -> None:
    """Equalize the histogram (``cv2.equalizeHist``; on the luma of BGR/RGB images). uint8 only."""
    dst._assign(_on_luma(src, "HistogramEqualization", cv2.equalizeHist))


def CLAHE(
    src: Image, dst: Image, clip_limit: float = 2.0, tile_grid_size: Sequence[int] = (8, 8)
) -> None:
    """Contrast Limited Adaptive Histogram Equalization (``cv2.createCLAHE``; uint8/uint16 gray,
    or the luma of 8-bit BGR/RGB images)."""
    clahe = cv2.createCLAHE(
        clipLimit=float(clip_limit), tileGridSize=tuple(int(t) for t in tile_grid_size)
    )
    dst._assign(_on_luma(src, "CLAHE", clahe.apply))
