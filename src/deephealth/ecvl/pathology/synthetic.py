"""Synthetic whole-slide images with planted regions of known classes, for tests and demos.

:func:`synthetic_slide` paints rectangles of flat colours (glass, tissue, tumour, ...) with a
little pixel noise on a canvas and writes it as a multi-level pyramidal TIFF that OpenSlide
reads, with a chosen microns per pixel. Because every region's level-0 rectangle is known,
anything that maps slide coordinates (tiler, heat maps, label maps, GeoJSON export) can be
checked against where the region was put.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from deephealth.ecvl.slide.writer import write_pyramidal_tiff

COLORS: dict[str, tuple[int, int, int]] = {
    "glass": (242, 242, 240),
    "tissue": (226, 150, 196),
    "tumour": (92, 60, 168),
}
"""RGB of the synthetic classes: white glass, pink (eosin-rich) tissue, purple (hematoxylin-rich)
tumour."""


def synthetic_slide(
    path: str | os.PathLike[str],
    size: tuple[int, int] = (2048, 1536),
    regions: Sequence[tuple[str, tuple[int, int, int, int]]] = (),
    *,
    background: str = "glass",
    colors: Mapping[str, tuple[int, int, int]] = COLORS,
    noise: float = 6.0,
    mpp: float = 0.5,
    seed: int = 0,
    min_size: int = 128,
) -> np.ndarray:
    """Paint and write a synthetic slide; return its level-0 ``(H, W, 3)`` uint8 pixels.

    Args:
        path: output ``.tif``.
        size: level-0 ``(width, height)``.
        regions: ``(class, (x, y, w, h))`` rectangles in level-0 pixels, painted in order.
        background: class of the canvas.
        colors: RGB per class.
        noise: standard deviation of the Gaussian pixel noise.
        mpp: level-0 microns per pixel written in the file.
        seed: noise seed.
        min_size: the smallest pyramid level's longer side.
    """
    w, h = size
    image = np.empty((h, w, 3), dtype=np.float32)
    image[:] = colors[background]
    for name, (x, y, rw, rh) in regions:
        image[y : y + rh, x : x + rw] = colors[name]
    if noise > 0:
        image += np.random.default_rng(seed).normal(0.0, noise, size=image.shape).astype(np.float32)
    pixels = np.clip(image, 0, 255).round().astype(np.uint8)
    write_pyramidal_tiff(path, pixels, mpp, min_size=min_size)
    return pixels
