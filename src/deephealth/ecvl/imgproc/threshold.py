"""Thresholding with pyecvl names: Threshold, MultiThreshold, OtsuThreshold, OtsuMultiThreshold.

Threshold and Otsu are OpenCV's; multi-level Otsu is scikit-image's ``threshold_multiotsu``.
Threshold and MultiThreshold work on any layout; the Otsu functions take single-channel images.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import cv2
import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import Image, saturate_cast
from deephealth.ecvl.imgproc._common import cv_view, like


class ThresholdingType(enum.IntEnum):
    """Threshold kinds (pyecvl ``ThresholdingType``)."""

    BINARY = cv2.THRESH_BINARY
    BINARY_INV = cv2.THRESH_BINARY_INV


def Threshold(
    src: Image,
    dst: Image,
    thresh: float,
    maxval: float,
    thresh_type: ThresholdingType = ThresholdingType.BINARY,
) -> None:
    """``maxval`` where ``src > thresh`` and 0 elsewhere (swapped for ``BINARY_INV``), same type."""
    if src.IsEmpty():
        raise EcvlError("Threshold: the image is empty")
    above = src.data > thresh
    if ThresholdingType(thresh_type) is ThresholdingType.BINARY_INV:
        above = ~above
    out = np.where(
        above, saturate_cast(np.asarray(float(maxval)), src.data.dtype), src.data.dtype.type(0)
    )
    dst._assign(like(src, out.astype(src.data.dtype, copy=False)))


def MultiThreshold(
    src: Image, dst: Image, thresholds: Sequence[float], minval: float = 0, maxval: float = 255
) -> None:
    """Quantize into ``len(thresholds) + 1`` levels spread evenly from ``minval`` to ``maxval``:
    a pixel ``v`` gets level ``i`` = the number of thresholds strictly below ``v``.

    Raises:
        EcvlError: No thresholds, or thresholds that decrease (equal ones, as
            ``OtsuMultiThreshold`` gives for a blank image, leave their levels empty).
    """
    t = np.asarray(thresholds, dtype=np.float64)
    if t.size == 0 or np.any(np.diff(t) < 0):
        raise EcvlError(f"MultiThreshold: thresholds must not decrease, got {list(thresholds)}")
    levels = np.linspace(float(minval), float(maxval), t.size + 1)
    idx = np.searchsorted(t, src.data, side="left")
    dst._assign(like(src, saturate_cast(levels[idx], src.data.dtype)))


def _gray_u8(src: Image, name: str) -> np.ndarray:
    arr = cv_view(src, name, frozenset({"uint8"}))
    if arr.ndim != 2:
        raise EcvlError(f"{name}: needs a single-channel image")
    return np.ascontiguousarray(arr)


def OtsuThreshold(src: Image) -> int:
    """Otsu's threshold of a uint8 gray image (``cv2.threshold`` with ``THRESH_OTSU``): pixels
    ``> t`` are foreground."""
    t, _ = cv2.threshold(
        _gray_u8(src, "OtsuThreshold"), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU
    )
    return int(t)


def OtsuMultiThreshold(src: Image, n_thresholds: int = 2) -> list[int]:
    """``n_thresholds`` multi-level Otsu thresholds of a uint8 gray image (scikit-image)."""
    from skimage.filters import threshold_multiotsu

    arr = _gray_u8(src, "OtsuMultiThreshold")
    if n_thresholds < 1:
        raise EcvlError("OtsuMultiThreshold: n_thresholds must be >= 1")
    levels = np.unique(arr)
    if levels.size <= n_thresholds:
        # fewer grey levels than classes (a blank image): ECVL still answers, with the levels
        # present, repeated; scikit-image would raise
        return [int(levels[min(i, levels.size - 1)]) for i in range(n_thresholds)]
    return [int(v) for v in threshold_multiotsu(arr, classes=n_thresholds + 1, nbins=256)]
