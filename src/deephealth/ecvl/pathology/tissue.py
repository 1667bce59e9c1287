"""Tissue detection on a low-resolution view of a slide (Otsu on saturation, with morphology).

Stained tissue is coloured and glass is grey-white, so the HSV saturation separates the two;
Otsu picks the threshold per slide, a closing and an opening clean the mask, holes are filled
and specks smaller than ``min_area`` are dropped. :class:`TissueMask` keeps the mask with its
scale and answers "what fraction of this level-0 rectangle is tissue?" in constant time
through an integral image, which is what the tiler needs for millions of tiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from deephealth.ecvl.pathology._integral import rect_fraction, summed_area

if TYPE_CHECKING:
    from deephealth.ecvl.slide import OpenSlideImage


def tissue_mask_from_rgb(
    rgb: np.ndarray,
    *,
    threshold: float | None = None,
    min_saturation: int = 20,
    kernel: int = 5,
    min_area: int = 64,
    fill_holes: bool = True,
) -> np.ndarray:
    """Return a boolean tissue mask of an ``(H, W, 3)`` uint8 RGB image.

    Args:
        rgb: low-resolution RGB view of the slide (OpenCV axis order).
        threshold: fixed saturation threshold (0-255); ``None`` uses Otsu.
        min_saturation: lower bound on the Otsu threshold, so a slide that is all glass does
            not come back as all tissue.
        kernel: side of the elliptic structuring element of the closing and opening (0: none).
        min_area: connected components smaller than this many pixels are removed.
        fill_holes: fill background holes enclosed by tissue.

    Returns:
        ``(H, W)`` boolean mask, True on tissue.
    """
    import cv2

    rgb = np.ascontiguousarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(
            f"tissue detection needs an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}"
        )
    saturation = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[:, :, 1]
    saturation = cv2.GaussianBlur(saturation, (5, 5), 0)
    if threshold is None:
        otsu, _ = cv2.threshold(saturation, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        threshold = max(float(otsu), float(min_saturation))
    mask = (saturation > threshold).astype(np.uint8)
    if kernel > 0:
        se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, se)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, se)
    if fill_holes:
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        mask = cv2.drawContours(np.zeros_like(mask), contours, -1, 1, thickness=cv2.FILLED)
    if min_area > 1:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        keep = np.zeros(n, dtype=bool)
        keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
        mask = keep[labels].astype(np.uint8)
    return mask.astype(bool)


@dataclass
class TissueMask:
    """A tissue mask with its scale: mask pixel ``(i, j)`` covers level-0 pixels
    ``[j * downsample_x, (j + 1) * downsample_x) x [i * downsample_y, (i + 1) * downsample_y)``.

    Attributes:
        mask: ``(h, w)`` boolean, True on tissue.
        downsample: level-0 pixels per mask pixel ``(x, y)``.
    """

    mask: np.ndarray
    downsample: tuple[float, float]
    _integral: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._integral = summed_area(self.mask)

    @property
    def fraction(self) -> float:
        """Fraction of the whole slide that is tissue."""
        return float(self.mask.mean())

    def fraction_in(self, x: float, y: float, w: float, h: float) -> float:
        """Fraction of tissue in the level-0 rectangle ``(x, y, w, h)`` (0 where off the mask)."""
        return float(rect_fraction(self._integral, (x, y, w, h), self.downsample))


def detect_tissue(
    slide: OpenSlideImage, *, max_size: int = 2048, level: int | None = None, **options: Any
) -> TissueMask:
    """Detect tissue on a low-resolution level of an :class:`OpenSlideImage`.

    Args:
        slide: an opened ``OpenSlideImage``.
        max_size: read the coarsest view whose longer side is about this size (thumbnail).
        level: read this pyramid level instead of a thumbnail.
        **options: passed to :func:`tissue_mask_from_rgb` (``threshold``, ``kernel``, ...).

    Returns:
        The :class:`TissueMask` with its level-0 downsample.
    """
    w0, h0 = slide.dimensions
    if level is None:
        rgb, _ = slide.thumbnail(max_size)
    else:
        rgb = slide.read_level(level)
    mask = tissue_mask_from_rgb(rgb, **options)
    return TissueMask(mask, (w0 / mask.shape[1], h0 / mask.shape[0]))
