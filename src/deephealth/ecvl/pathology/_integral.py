"""Constant-time area sums over rasters (summed-area tables) for tissue and label coverage.

The tiler asks, for every tile, what fraction of it is tissue or belongs to an annotated class;
a summed-area table of the low-resolution raster answers in four lookups, whatever the tile
size. Rasters are indexed ``[..., row, col]`` and scaled by level-0 pixels per raster pixel.
"""

from __future__ import annotations

import numpy as np


def summed_area(raster: np.ndarray) -> np.ndarray:
    """Summed-area table of ``(..., H, W)`` counts, zero-padded to ``(..., H + 1, W + 1)``."""
    table = raster.astype(np.int64).cumsum(-2).cumsum(-1)
    pad = [(0, 0)] * (raster.ndim - 2) + [(1, 0), (1, 0)]
    return np.pad(table, pad)


def rect_fraction(
    table: np.ndarray, rect: tuple[float, float, float, float], downsample: tuple[float, float]
) -> np.ndarray | float:
    """Mean of the raster over the level-0 rectangle ``(x, y, w, h)`` (clipped to the raster).

    Returns 0 where the rectangle misses the raster; one value per leading channel of ``table``.
    """
    x, y, w, h = rect
    dx, dy = downsample
    rows, cols = table.shape[-2] - 1, table.shape[-1] - 1
    c0 = int(np.clip(np.floor(x / dx), 0, cols))
    c1 = int(np.clip(np.ceil((x + w) / dx), 0, cols))
    r0 = int(np.clip(np.floor(y / dy), 0, rows))
    r1 = int(np.clip(np.ceil((y + h) / dy), 0, rows))
    area = (r1 - r0) * (c1 - c0)
    total = table[..., r1, c1] - table[..., r0, c1] - table[..., r1, c0] + table[..., r0, c0]
    return total / area if area > 0 else total * 0.0
