"""Writer of pyramidal tiled TIFFs that OpenSlide (generic-tiff) and tiffslide read back.

Each pyramid level is its own top-level tiled page (OpenSlide ignores SubIFD pyramids), level 0
with ``subfiletype=0`` and the reduced levels with ``subfiletype=1``, each carrying its
resolution in pixels per centimetre so that readers report the microns per pixel written. Used
for slide-aligned heat maps and label maps and for building test pyramids from real slides.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

_INTERPOLATIONS = ("area", "nearest", "linear")


def _as_hwc(image: Any) -> np.ndarray:
    """Accept an ECVL Image (via ``to_cv``) or an ``(H, W)`` / ``(H, W, C)`` array."""
    to_cv = getattr(image, "to_cv", None)
    array = np.asarray(to_cv() if callable(to_cv) else image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) image, got {array.shape}"
        )
    return array


def pyramid_levels(
    image: Any, min_size: int = 256, max_levels: int | None = None, interpolation: str = "area"
) -> list[np.ndarray]:
    """Return ``[level0, level1, ...]``, each half the previous size, down to ``min_size``.

    Args:
        image: ``(H, W[, C])`` array or ECVL Image.
        min_size: stop once the longer side of a level is at most this.
        max_levels: optional cap on the number of levels.
        interpolation: ``"area"`` for intensities, ``"nearest"`` for label maps.
    """
    import cv2

    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {_INTERPOLATIONS}, got '{interpolation}'")
    flag = {"area": cv2.INTER_AREA, "nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR}
    levels = [_as_hwc(image)]
    while max(levels[-1].shape[:2]) > min_size and (max_levels is None or len(levels) < max_levels):
        prev = levels[-1]
        size = (max(1, prev.shape[1] // 2), max(1, prev.shape[0] // 2))
        nxt = cv2.resize(prev, size, interpolation=flag[interpolation])
        levels.append(nxt[:, :, None] if nxt.ndim == 2 else nxt)
    return levels


def write_pyramidal_tiff(
    path: str | os.PathLike[str],
    image: Any,
    mpp: float | tuple[float, float] | None = None,
    *,
    tile: int = 256,
    min_size: int = 256,
    max_levels: int | None = None,
    interpolation: str = "area",
    compression: str | None = "zlib",
    compression_level: int = 1,
) -> list[tuple[int, int]]:
    """Write ``image`` as a pyramidal tiled TIFF that OpenSlide opens as ``generic-tiff``.

    Args:
        path: output ``.tif`` file.
        image: ``(H, W)`` gray, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA uint8 array (or an ECVL
            Image, taken through ``to_cv``).
        mpp: level-0 microns per pixel (``x`` or ``(x, y)``); written as TIFF resolution so
            that OpenSlide reports ``openslide.mpp-x/y``.
        tile: tile side in pixels (multiple of 16).
        min_size: smallest level's longer side.
        max_levels: optional cap on the number of levels.
        interpolation: ``"area"`` (images, heat maps) or ``"nearest"`` (label maps).
        compression: tifffile compression name (``"zlib"``, ``None``; ``"jpeg"`` needs
            imagecodecs).
        compression_level: zlib level (1 = fast).

    Returns:
        The ``(width, height)`` of every level written.
    """
    import tifffile

    if tile % 16:
        raise ValueError(f"tile must be a multiple of 16, got {tile}")
    levels = pyramid_levels(image, min_size, max_levels, interpolation)
    if levels[0].dtype != np.uint8:
        raise ValueError(f"write_pyramidal_tiff writes uint8 images, got {levels[0].dtype}")
    mx, my = (mpp, mpp) if isinstance(mpp, (int, float)) else (mpp or (None, None))
    kwargs: dict[str, Any] = {"tile": (tile, tile)}
    if compression is not None:
        kwargs["compression"] = compression
        if compression == "zlib":
            kwargs["compressionargs"] = {"level": compression_level}
    with tifffile.TiffWriter(os.fspath(path), bigtiff=levels[0].nbytes > 2**31) as tif:
        for i, level in enumerate(levels):
            channels = level.shape[2]
            data = level[:, :, 0] if channels == 1 else level
            extra: dict[str, Any] = {}
            if mx is not None:
                scale = 2**i
                extra["resolution"] = (1e4 / (mx * scale), 1e4 / (my * scale))
                extra["resolutionunit"] = "CENTIMETER"
            tif.write(
                np.ascontiguousarray(data),
                photometric="minisblack" if channels == 1 else "rgb",
                extrasamples=("unassalpha",) if channels == 4 else None,
                subfiletype=0 if i == 0 else 1,
                metadata=None,
                **kwargs,
                **extra,
            )
    return [(lv.shape[1], lv.shape[0]) for lv in levels]
