"""Tiling a whole-slide image at a chosen resolution, with overlap and a tissue criterion.

A :class:`Tiler` turns "tiles of 256 px at 0.5 µm/px (or 20x), 32 px overlap, at least half
tissue" into a list of :class:`Tile` records for one slide: where each tile lies in level-0
pixels, which pyramid level to read it from and at what size (the best level not coarser than
the target, resized when the target falls between levels). :func:`iter_tile_pixels` reads the
tiles in order, in parallel threads when asked, with a bounded read-ahead window.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from deephealth.ecvl.pathology.tissue import TissueMask, detect_tissue

if TYPE_CHECKING:
    from deephealth.ecvl.slide import OpenSlideImage

_MPP_AT_1X = 10.0
_LEVEL_TOLERANCE = 0.01
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Tile:
    """One tile of a slide.

    Attributes:
        index: position in the tiler's list for this slide (stable across runs).
        row: grid row.
        col: grid column.
        x: left edge in level-0 pixels.
        y: top edge in level-0 pixels.
        level: pyramid level it is read from.
        read_size: side read at ``level`` (before resizing to ``size``).
        size: output side in pixels.
        downsample: level-0 pixels per output pixel.
        tissue: fraction of the tile that is tissue (1.0 when no tissue mask was used).
    """

    index: int
    row: int
    col: int
    x: int
    y: int
    level: int
    read_size: int
    size: int
    downsample: float
    tissue: float = 1.0

    @property
    def extent(self) -> float:
        """Side of the tile in level-0 pixels."""
        return self.size * self.downsample

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(x, y, width, height)`` of the tile in level-0 pixels."""
        return (self.x, self.y, self.extent, self.extent)


class Tiler:
    """Lists and reads fixed-size tiles of a slide at a chosen resolution.

    Exactly one of ``mpp``, ``magnification`` or ``level`` chooses the resolution (none: level
    0). The grid starts at the slide's top-left corner with stride ``size - overlap`` output
    pixels; tiles that would leave the slide are not listed.

    Args:
        size: tile side in output pixels.
        mpp: target microns per pixel (needs the slide's ``openslide.mpp-x``).
        magnification: target objective magnification, e.g. 10 for "10x", relative to
            ``openslide.objective-power``; without it, 10x is taken as 1 µm/px.
        level: read this pyramid level as is.
        overlap: overlap between neighbouring tiles in output pixels.
        min_tissue: minimum tissue fraction of a tile (0 keeps every tile and skips detection).
        tissue_size: longer side of the thumbnail used for tissue detection.
    """

    def __init__(
        self,
        size: int = 256,
        *,
        mpp: float | None = None,
        magnification: float | None = None,
        level: int | None = None,
        overlap: int = 0,
        min_tissue: float = 0.0,
        tissue_size: int = 2048,
    ) -> None:
        if sum(v is not None for v in (mpp, magnification, level)) > 1:
            raise ValueError("choose at most one of mpp, magnification and level")
        if size <= 0 or not 0 <= overlap < size:
            raise ValueError(
                f"need size > 0 and 0 <= overlap < size, got size={size}, overlap={overlap}"
            )
        if not 0.0 <= min_tissue <= 1.0:
            raise ValueError(f"min_tissue must be in [0, 1], got {min_tissue}")
        self.size = size
        self.mpp = mpp
        self.magnification = magnification
        self.level = level
        self.overlap = overlap
        self.min_tissue = min_tissue
        self.tissue_size = tissue_size

    def __repr__(self) -> str:
        res = {"mpp": self.mpp, "magnification": self.magnification, "level": self.level}
        chosen = ", ".join(f"{k}={v}" for k, v in res.items() if v is not None)
        return (
            f"Tiler(size={self.size}{', ' + chosen if chosen else ''}, overlap={self.overlap}, "
            f"min_tissue={self.min_tissue})"
        )

    @property
    def stride(self) -> int:
        """Distance between neighbouring tiles in output pixels."""
        return self.size - self.overlap

    def downsample_for(self, slide: OpenSlideImage) -> float:
        """Level-0 pixels per output pixel for ``slide``."""
        path = getattr(slide, "path", "?")
        if self.mpp is not None:
            mpp = slide.mpp
            if mpp is None:
                raise ValueError(f"slide '{path}' has no microns-per-pixel property; tile by level")
            return self.mpp / mpp[0]
        if self.magnification is not None:
            power = slide.objective_power
            if power is not None:
                return power / self.magnification
            mpp = slide.mpp
            if mpp is None:
                raise ValueError(
                    f"slide '{path}' has neither objective-power nor microns-per-pixel; tile by level"
                )
            # Convention when the scanner's objective is unknown: 10x = 1 µm/px (20x = 0.5, 40x = 0.25).
            return (_MPP_AT_1X / self.magnification) / mpp[0]
        if self.level is not None:
            return slide.level_downsamples[self.level]
        return 1.0

    def tiles(self, slide: OpenSlideImage, tissue: TissueMask | None = None) -> list[Tile]:
        """List the tiles of ``slide`` (an opened ``OpenSlideImage``).

        Args:
            slide: the slide.
            tissue: a precomputed tissue mask; detected here when ``min_tissue > 0`` and none
                is given.

        Returns:
            Tiles in row-major order with ``index`` 0, 1, 2, ...
        """
        ds = self.downsample_for(slide)
        if ds < 1.0 - 1e-6:
            path = getattr(slide, "path", "?")
            raise ValueError(f"slide '{path}': resolution finer than level 0 (downsample {ds:.3f})")
        if self.level is not None:
            level = self.level
        else:  # a level within 1% of the target (odd-sized pyramids) is read as is
            level = slide.GetBestLevelForDownsample(ds * (1 + _LEVEL_TOLERANCE))
        level_ds = slide.level_downsamples[level]
        lw, lh = slide.level_dimensions[level]
        w0, h0 = slide.dimensions
        read_size = max(1, round(self.size * ds / level_ds))
        stride0 = self.stride * ds
        if self.min_tissue > 0 and tissue is None:
            tissue = detect_tissue(slide, max_size=self.tissue_size)
        xs = np.arange(0.0, w0, stride0)
        ys = np.arange(0.0, h0, stride0)
        tiles: list[Tile] = []
        for row, yf in enumerate(ys):
            y = int(round(yf))
            if int(y / level_ds) + read_size > lh:
                break
            for col, xf in enumerate(xs):
                x = int(round(xf))
                if int(x / level_ds) + read_size > lw:
                    break
                frac = 1.0
                if tissue is not None:
                    frac = tissue.fraction_in(x, y, self.size * ds, self.size * ds)
                    if frac < self.min_tissue:
                        continue
                tiles.append(
                    Tile(len(tiles), row, col, x, y, level, read_size, self.size, ds, frac)
                )
        return tiles

    def grid_shape(self, slide: OpenSlideImage) -> tuple[int, int]:
        """``(rows, cols)`` of the full grid (before the tissue criterion)."""
        ds = self.downsample_for(slide)
        w0, h0 = slide.dimensions
        extent = self.size * ds
        stride0 = self.stride * ds
        cols = int(np.floor((w0 - extent) / stride0)) + 1 if w0 >= extent else 0
        rows = int(np.floor((h0 - extent) / stride0)) + 1 if h0 >= extent else 0
        return rows, cols


def read_tile(slide: OpenSlideImage, tile: Tile) -> np.ndarray:
    """Read ``tile`` from ``slide`` as an ``(size, size, 3)`` uint8 RGB array."""
    pixels = slide.read_region(tile.level, tile.x, tile.y, tile.read_size, tile.read_size)
    if tile.read_size != tile.size:
        import cv2

        interp = cv2.INTER_AREA if tile.read_size > tile.size else cv2.INTER_LINEAR
        pixels = cv2.resize(
            np.ascontiguousarray(pixels), (tile.size, tile.size), interpolation=interp
        )
    return pixels


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int = 1, prefetch: int = 4
) -> Iterator[tuple[T, R]]:
    """Yield ``(item, fn(item))`` in the order of ``items``, computing with ``workers`` threads.

    At most ``workers * prefetch`` results are pending at a time, so memory stays bounded on
    slides with millions of tiles. With one worker everything runs in the calling thread.
    """
    if workers <= 1:
        for item in items:
            yield item, fn(item)
        return
    window: deque = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tile-reader") as pool:
        try:
            for item in items:
                window.append((item, pool.submit(fn, item)))
                if len(window) >= workers * prefetch:
                    done, future = window.popleft()
                    yield done, future.result()
            while window:
                done, future = window.popleft()
                yield done, future.result()
        finally:
            for _, future in window:
                future.cancel()


def iter_tile_pixels(
    slide: OpenSlideImage, tiles: Iterable[Tile], workers: int = 1, prefetch: int = 4
) -> Iterator[tuple[Tile, np.ndarray]]:
    """Yield ``(tile, pixels)`` in the order of ``tiles``, reading with ``workers`` threads.

    Args:
        slide: an opened ``OpenSlideImage`` (shared by the threads; OpenSlide is thread-safe).
        tiles: the tiles to read.
        workers: reader threads (1 reads in the calling thread).
        prefetch: tiles read ahead per worker.
    """
    return ordered_map(lambda tile: read_tile(slide, tile), tiles, workers, prefetch)
