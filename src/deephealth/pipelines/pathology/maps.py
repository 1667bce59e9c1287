"""Stitching patch predictions into slide-aligned maps, and writing them as pyramidal TIFFs.

A map has one pixel per ``downsample`` level-0 pixels and covers the whole slide, so map pixel
``(i, j)`` lies over slide pixels ``[j * ds, (j + 1) * ds) x [i * ds, (i + 1) * ds)``. Each tile's
prediction (a class-probability vector, or a probability map from a segmenter) is spread over
the tile's footprint and averaged where tiles overlap. Maps are written with the slide's
microns per pixel times ``downsample`` so that viewers (QuPath, OpenSlide) overlay them on the
slide at every level.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from deephealth.ecvl.pathology.tiler import Tile
from deephealth.ecvl.slide import write_pyramidal_tiff

NO_PREDICTION = 255
"""Label-map value of pixels no tile covered."""


def stitch(
    tiles: Sequence[Tile],
    outputs: np.ndarray,
    slide_size: tuple[int, int],
    downsample: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Average tile predictions over their footprints.

    Args:
        tiles: the tiles, in the order of ``outputs``.
        outputs: ``(N, C)`` probabilities or ``(N, C, h, w)`` probability maps.
        slide_size: level-0 ``(width, height)``.
        downsample: level-0 pixels per map pixel.

    Returns:
        ``(probabilities (C, H, W) float32, coverage (H, W) float32)``; probabilities are 0
        where coverage is 0.
    """
    import cv2

    w0, h0 = slide_size
    width, height = int(np.ceil(w0 / downsample)), int(np.ceil(h0 / downsample))
    n_classes = outputs.shape[1]
    acc = np.zeros((n_classes, height, width), dtype=np.float32)
    count = np.zeros((height, width), dtype=np.float32)
    for tile, out in zip(tiles, outputs):
        x0, y0 = int(round(tile.x / downsample)), int(round(tile.y / downsample))
        x1 = min(width, int(round((tile.x + tile.extent) / downsample)))
        y1 = min(height, int(round((tile.y + tile.extent) / downsample)))
        if x1 <= x0 or y1 <= y0:
            continue
        if out.ndim == 1:
            acc[:, y0:y1, x0:x1] += out[:, None, None]
        else:
            full = (int(round(tile.extent / downsample)),) * 2
            resized = cv2.resize(out.transpose(1, 2, 0), full, interpolation=cv2.INTER_LINEAR)
            resized = resized.reshape(full[1], full[0], n_classes).transpose(2, 0, 1)
            acc[:, y0:y1, x0:x1] += resized[:, : y1 - y0, : x1 - x0]
        count[y0:y1, x0:x1] += 1
    np.divide(acc, count, out=acc, where=count > 0)
    return acc, count


def label_map(probabilities: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """``(H, W)`` uint8 map of the most probable class, :data:`NO_PREDICTION` where uncovered."""
    labels = probabilities.argmax(axis=0).astype(np.uint8)
    labels[coverage == 0] = NO_PREDICTION
    return labels


def _map_mpp(
    slide_mpp: tuple[float, float] | None, downsample: float
) -> tuple[float, float] | None:
    return None if slide_mpp is None else (slide_mpp[0] * downsample, slide_mpp[1] * downsample)


def write_heatmap(
    path: str | os.PathLike[str],
    probability: np.ndarray,
    downsample: float,
    slide_mpp: tuple[float, float] | None,
    *,
    colormap: str | None = None,
    tile: int = 256,
    min_size: int = 256,
) -> list[tuple[int, int]]:
    """Write a ``(H, W)`` probability map in ``[0, 1]`` as a slide-aligned pyramidal TIFF.

    Args:
        path: output ``.tif``.
        probability: one class's probabilities (map pixels).
        downsample: level-0 slide pixels per map pixel.
        slide_mpp: the slide's level-0 microns per pixel (``None`` when unknown).
        colormap: matplotlib colormap name for an RGB map (e.g. ``"jet"``); ``None`` writes
            gray levels ``round(255 * p)``.
        tile: TIFF tile side.
        min_size: longer side of the smallest pyramid level.

    Returns:
        The sizes of the levels written.
    """
    p = np.clip(np.nan_to_num(probability), 0.0, 1.0)
    if colormap is None:
        image = np.round(p * 255).astype(np.uint8)
    else:
        from matplotlib import colormaps

        image = (colormaps[colormap](p)[..., :3] * 255).round().astype(np.uint8)
    return write_pyramidal_tiff(
        path, image, _map_mpp(slide_mpp, downsample), tile=tile, min_size=min_size
    )


def write_label_map(
    path: str | os.PathLike[str],
    labels: np.ndarray,
    downsample: float,
    slide_mpp: tuple[float, float] | None,
    *,
    tile: int = 256,
    min_size: int = 256,
) -> list[tuple[int, int]]:
    """Write a ``(H, W)`` uint8 label map as a slide-aligned pyramidal TIFF (nearest-neighbour
    pyramid, so every level holds class indices only)."""
    return write_pyramidal_tiff(
        path,
        labels.astype(np.uint8),
        _map_mpp(slide_mpp, downsample),
        tile=tile,
        min_size=min_size,
        interpolation="nearest",
    )
