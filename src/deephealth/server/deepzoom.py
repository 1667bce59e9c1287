"""Deep Zoom tiles of a whole slide, read with ECVL's `OpenSlideImage`, for OpenSeadragon.

A Deep Zoom pyramid has levels 0..L with L = ceil(log2(max(width, height))): level L is the
slide at full resolution, each level below halves it. Level ``l`` is cut into ``tile_size``
squares (plus ``overlap`` pixels shared with each neighbour); tile ``(col, row)`` of level ``l``
is read from the slide level whose downsample is the largest not above ``2 ** (L - l)`` and
resized only when that downsample differs. Tiles coarser than the slide's overview (its longest
side at most `OVERVIEW_SIZE`) are cut from that overview, read once. Encoded tiles are kept in a `TileCache` (an LRU
bounded in bytes), opened slides in a small LRU of handles.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np

from deephealth.ecvl.slide.errors import SlideRegionError
from deephealth.ecvl.slide.reader import OpenSlideImage

SLIDE_SUFFIXES = (".svs", ".ndpi", ".mrxs", ".scn", ".vms", ".vmu", ".bif", ".svslide", ".tif")
"""Extensions the viewer opens as whole slides (a ``.tif`` only when OpenSlide reads it)."""
OVERVIEW_SIZE = 2048
"""Longest side (pixels) at most of the overview the coarse Deep Zoom levels are cut from."""


class TileCache:
    """A thread-safe LRU of encoded tiles bounded by their total size in bytes.

    Args:
        max_bytes: Most bytes kept; the least recently used tiles are dropped beyond it.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        """The tile under `key` (marked most recently used), or None."""
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: bytes) -> None:
        """Store a tile, evicting the oldest ones beyond `max_bytes`."""
        if len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._items[key] = value
            self._size += len(value)
            while self._size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)

    @property
    def size_bytes(self) -> int:
        """Bytes held now."""
        return self._size

    def __len__(self) -> int:
        return len(self._items)


class DeepZoom:
    """The Deep Zoom pyramid of one slide.

    Args:
        slide: The open slide.
        tile_size: Tile edge in pixels (without overlap).
        overlap: Pixels each tile shares with its neighbours.
        quality: JPEG quality of the tiles.
    """

    def __init__(
        self, slide: OpenSlideImage, tile_size: int = 254, overlap: int = 1, quality: int = 80
    ) -> None:
        self.slide = slide
        self.tile_size, self.overlap, self.quality = tile_size, overlap, quality
        w, h = slide.dimensions
        self.max_level = max(0, math.ceil(math.log2(max(w, h, 1))))
        self.level_dimensions = [
            (max(1, math.ceil(w / 2 ** (self.max_level - lv))), max(1, math.ceil(h / 2 ** (self.max_level - lv))))
            for lv in range(self.max_level + 1)
        ]  # fmt: skip
        self.overview_downsample = 2.0 ** max(0, math.ceil(math.log2(max(w, h, 1) / OVERVIEW_SIZE)))
        self._overview: np.ndarray | None = None
        self._overview_lock = threading.Lock()
        self._buffers = threading.local()  # per-thread read buffers of tile_jpeg

    @property
    def level_count(self) -> int:
        """Number of Deep Zoom levels."""
        return self.max_level + 1

    def tile_grid(self, level: int) -> tuple[int, int]:
        """Columns and rows of tiles at `level`."""
        w, h = self.level_dimensions[level]
        return math.ceil(w / self.tile_size), math.ceil(h / self.tile_size)

    def dzi(self) -> str:
        """The ``.dzi`` XML descriptor."""
        w, h = self.slide.dimensions
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="jpeg" '
            f'Overlap="{self.overlap}" TileSize="{self.tile_size}">'
            f'<Size Width="{w}" Height="{h}"/></Image>'
        )

    def tile_region(self, level: int, col: int, row: int) -> tuple[int, int, int, int]:
        """The tile's ``(x0, y0, x1, y1)`` in pixels of Deep Zoom level `level`.

        Raises:
            SlideRegionError: The level or tile does not exist.
        """
        if not 0 <= level < self.level_count:
            raise SlideRegionError(
                f"slide '{self.slide.path}': Deep Zoom level {level} does not exist "
                f"(0..{self.max_level})"
            )
        cols, rows = self.tile_grid(level)
        if not (0 <= col < cols and 0 <= row < rows):
            raise SlideRegionError(
                f"slide '{self.slide.path}': no tile ({col}, {row}) at Deep Zoom level {level} "
                f"({cols}x{rows} tiles)"
            )
        w, h = self.level_dimensions[level]
        ts, ov = self.tile_size, self.overlap
        x0, y0 = col * ts - (ov if col else 0), row * ts - (ov if row else 0)
        return x0, y0, min(w, (col + 1) * ts + ov), min(h, (row + 1) * ts + ov)

    def _source(self, level: int, col: int, row: int) -> tuple[int, int, int, int, int] | None:
        """Where a tile is read: ``(slide level, x, y, w, h)`` (x, y in level-0 pixels, w, h at
        that level), or None for a coarse tile cut from the overview."""
        x0, y0, x1, y1 = self.tile_region(level, col, row)
        scale = 2.0 ** (self.max_level - level)  # level-0 pixels per Deep Zoom pixel
        slide = self.slide
        sl = slide.GetBestLevelForDownsample(scale)
        ds = slide.level_downsamples[sl]
        if scale >= self.overview_downsample > ds:
            return None
        lw, lh = slide.level_dimensions[sl]
        X, Y = int(x0 * scale), int(y0 * scale)
        sx, sy = int(X / ds), int(Y / ds)
        w = max(1, min(lw - sx, math.ceil((x1 - x0) * scale / ds)))
        h = max(1, min(lh - sy, math.ceil((y1 - y0) * scale / ds)))
        return sl, X, Y, w, h

    def tile_pixels(self, level: int, col: int, row: int) -> np.ndarray:
        """The RGB pixels ``(h, w, 3)`` of one tile."""
        import cv2

        x0, y0, x1, y1 = self.tile_region(level, col, row)
        src = self._source(level, col, row)
        if src is None:  # coarse tile: cut it from the overview
            return self._from_overview(x0, y0, x1, y1, 2.0 ** (self.max_level - level))
        pixels = self.slide.read_region(*src)
        if (src[3], src[4]) != (x1 - x0, y1 - y0):
            pixels = cv2.resize(pixels, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        return pixels

    def tile_jpeg(self, level: int, col: int, row: int) -> bytes:
        """One tile encoded as JPEG (the same pixels as `tile_pixels`).

        Tiles read from the slide skip the RGB path: OpenSlide's buffer is read as BGRA into a
        per-thread buffer and handed to the encoder as it is (OpenCV drops the alpha channel
        while encoding), so no RGBA-to-RGB copy and no RGB-to-BGR conversion is made.
        """
        import cv2

        src = self._source(level, col, row)
        if src is None:
            return encode_jpeg(self.tile_pixels(level, col, row), self.quality)
        _, _, w, h = src[1:]
        buffers: dict[tuple[int, int], np.ndarray] = self._buffers.__dict__.setdefault(
            "by_size", {}
        )
        out = buffers.get((w, h))
        if out is None:
            if len(buffers) > 8:  # edge tiles come in a few sizes only
                buffers.clear()
            out = buffers[(w, h)] = np.empty((h, w, 4), np.uint8)
        pixels = self.slide.read_region_bgra(*src, out=out)
        x0, y0, x1, y1 = self.tile_region(level, col, row)
        if (w, h) != (x1 - x0, y1 - y0):
            pixels = cv2.resize(pixels, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        return _imencode(pixels, self.quality)

    def overview(self) -> np.ndarray:
        """The slide at `overview_downsample` (read once), for the coarse levels: a slide whose
        coarsest level is still large would otherwise be read whole for each of their tiles."""
        with self._overview_lock:
            if self._overview is None:
                import cv2

                slide, d = self.slide, self.overview_downsample
                sl = slide.GetBestLevelForDownsample(d)
                pixels = slide.read_level(sl)
                w, h = slide.dimensions
                size = (max(1, math.ceil(w / d)), max(1, math.ceil(h / d)))
                self._overview = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
            return self._overview

    def _from_overview(self, x0: int, y0: int, x1: int, y1: int, scale: float) -> np.ndarray:
        import cv2

        f = scale / self.overview_downsample  # overview pixels per Deep Zoom pixel
        ov = self.overview()
        oh, ow = ov.shape[:2]
        ox0, oy0 = min(ow - 1, int(x0 * f)), min(oh - 1, int(y0 * f))
        ox1, oy1 = (
            max(ox0 + 1, min(ow, math.ceil(x1 * f))),
            max(oy0 + 1, min(oh, math.ceil(y1 * f))),
        )
        part = ov[oy0:oy1, ox0:ox1]
        if part.shape[:2] == (y1 - y0, x1 - x0):
            return np.ascontiguousarray(part)
        return cv2.resize(part, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)


def encode_jpeg(rgb: np.ndarray, quality: int = 80) -> bytes:
    """JPEG bytes of an RGB ``(h, w, 3)`` uint8 array."""
    import cv2

    return _imencode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), quality)


def _imencode(bgr: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG (libjpeg-turbo through OpenCV: 4:2:0 chroma, no Huffman optimisation, as
    openslide's Deep Zoom server saves its tiles with PIL) of a BGR or BGRA array."""
    import cv2

    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


class SlideTiles:
    """Deep Zoom pyramids of the slides the server shows, with their tile cache.

    Args:
        cache: The tile cache shared by all slides.
        max_open: Most slides kept open (least recently used ones are closed).
    """

    def __init__(self, cache: TileCache | None = None, max_open: int = 8) -> None:
        self.cache = cache if cache is not None else TileCache()
        self.max_open = max_open
        self._open: OrderedDict[tuple[str, float], DeepZoom] = OrderedDict()
        self._lock = threading.Lock()

    def pyramid(self, path: str | os.PathLike[str]) -> DeepZoom:
        """The Deep Zoom pyramid of the slide at `path` (opened once, reopened when it changes).

        Raises:
            SlideOpenError: OpenSlide cannot open the file.
        """
        path = os.fspath(path)
        key = (path, os.stat(path).st_mtime)
        with self._lock:
            dz = self._open.get(key)
            if dz is not None:
                self._open.move_to_end(key)
                return dz
        dz = DeepZoom(OpenSlideImage(path))
        with self._lock:
            self._open[key] = dz
            while len(self._open) > self.max_open:
                _, old = self._open.popitem(last=False)
                old.slide.Close()
        return dz

    def tile(self, path: str | os.PathLike[str], level: int, col: int, row: int) -> bytes:
        """One JPEG tile, from the cache when it is there."""
        path = os.fspath(path)
        dz = self.pyramid(path)
        key: tuple[Any, ...] = (path, os.stat(path).st_mtime, level, col, row)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        data = dz.tile_jpeg(level, col, row)
        self.cache.put(key, data)
        return data
