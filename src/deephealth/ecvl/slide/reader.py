"""Whole-slide image reader with pyecvl's ``OpenSlideImage`` names, over openslide-python.

``OpenSlideImage(path)`` opens any format OpenSlide reads (Aperio SVS, Hamamatsu, MIRAX, generic
tiled TIFF, ...), reports levels, downsamples, properties, microns per pixel and objective
power, and reads regions as RGB: :meth:`OpenSlideImage.ReadRegion` returns an ECVL ``Image``
(layout ``"xyc"``) as pyecvl does, :meth:`OpenSlideImage.read_region` the same pixels as an
OpenCV-ordered ``(H, W, 3)`` uint8 array for the tiler and the patch loaders. Errors name the
slide and the region. Reads are thread-safe (OpenSlide handles may be shared between threads,
and openslide-python releases the GIL while decoding).
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from deephealth.ecvl.slide._backend import openslide_module
from deephealth.ecvl.slide.errors import (
    SlideOpenError,
    SlideReadError,
    SlideRegionError,
    describe_region,
)

_UINT32_P = ctypes.POINTER(ctypes.c_uint32)


class OpenSlideImage:
    """A whole-slide image opened with OpenSlide (pyecvl ``ecvl.OpenSlideImage``).

    Args:
        filename: slide file in any format that OpenSlide reads (pyecvl's parameter name).

    Raises:
        SlideOpenError: the file is missing or OpenSlide cannot open it.
        ImportError: openslide-python / openslide-bin are not installed (``deephealth[slide]``).

    Example:
        >>> with OpenSlideImage(".data/cmu_small_region.svs") as slide:  # doctest: +SKIP
        ...     rgb = slide.read_region(0, 0, 0, 256, 256)
    """

    def __init__(self, filename: str | os.PathLike[str]) -> None:
        self.path = os.fspath(filename)
        self._lowlevel = openslide_module().lowlevel
        self._lock = threading.Lock()
        self._retired: list[Any] = []  # handles that failed; closed with the slide
        self._osr: Any = self._open()
        slide = self._osr
        self.level_dimensions: tuple[tuple[int, int], ...] = tuple(
            (int(w), int(h)) for w, h in slide.level_dimensions
        )
        self.level_downsamples: tuple[float, ...] = tuple(float(d) for d in slide.level_downsamples)
        self.properties: dict[str, str] = dict(slide.properties)

    # -- opening and closing -------------------------------------------------------------------
    def _open(self) -> Any:
        openslide = openslide_module()
        if not os.path.isfile(self.path):
            raise SlideOpenError(f"cannot open slide '{self.path}': no such file")
        try:
            return openslide.OpenSlide(self.path)
        except (openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError) as exc:
            kind = type(exc).__name__
            raise SlideOpenError(f"cannot open slide '{self.path}': {kind}: {exc}") from exc

    def Close(self) -> None:
        """Close the OpenSlide handle (pyecvl name); further reads raise :class:`SlideError`."""
        for handle in [self._osr, *self._retired]:
            if handle is not None:
                handle.close()
        self._osr = None
        self._retired = []

    close = Close

    def __enter__(self) -> OpenSlideImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.Close()

    def __repr__(self) -> str:
        w, h = self.level_dimensions[0]
        return f"OpenSlideImage('{self.path}', {w}x{h}, levels={len(self.level_dimensions)})"

    # -- pyecvl names ----------------------------------------------------------------------------
    def GetLevelCount(self) -> int:
        """Return the number of pyramid levels (level 0 is the full resolution)."""
        return len(self.level_dimensions)

    def GetLevelsDimensions(self) -> list[list[int]]:
        """Return ``[[width, height], ...]`` for every level, as pyecvl."""
        return [[w, h] for w, h in self.level_dimensions]

    def GetLevelDownsamples(self) -> list[float]:
        """Return the downsample factor of every level relative to level 0."""
        return list(self.level_downsamples)

    def GetBestLevelForDownsample(self, downsample: float) -> int:
        """Return the level to read for ``downsample``: the largest level not coarser than it."""
        best = 0
        for level, ds in enumerate(self.level_downsamples):
            if ds <= downsample * (1 + 1e-6):
                best = level
        return best

    def GetProperties(self, dst: Any = None) -> dict[str, str]:
        """Return the slide's properties (vendor metadata, ``openslide.mpp-x``, ...).

        Args:
            dst: optional ECVL ``Image``; as in pyecvl, the properties are also stored in its
                metadata (``dst.meta`` when the Image has a metadata mapping).

        Returns:
            A new dict mapping property names to string values.
        """
        props = dict(self.properties)
        meta = getattr(dst, "meta", None)
        if isinstance(meta, dict):
            meta.update(props)
        return props

    def ReadRegion(self, level: int, dims: Sequence[int]) -> Any:
        """Read a region as an RGB ECVL ``Image`` with layout ``"xyc"`` (pyecvl semantics).

        Args:
            level: pyramid level to read.
            dims: ``[x, y, w, h]``; ``x, y`` top-left in level-0 coordinates, ``w, h`` the size
                at ``level``.

        Returns:
            An ``Image`` of shape ``(w, h, 3)`` wrapping the ``(h, w, 3)`` pixels without a copy,
            with spacings in mm when the slide knows its microns per pixel.

        Raises:
            SlideRegionError: the level does not exist or the region leaves the slide.
            SlideReadError: decoding failed (corrupt tile).
        """
        from deephealth.ecvl.image import ColorType, Image

        if len(dims) != 4:
            raise SlideRegionError(f"slide '{self.path}': dims must be [x, y, w, h], got {dims}")
        x, y, w, h = (int(v) for v in dims)
        rgb = self.read_region(level, x, y, w, h)
        spacings = None
        if self.mpp is not None:
            ds = self.level_downsamples[level]
            spacings = [self.mpp[0] * ds / 1000.0, self.mpp[1] * ds / 1000.0, 1.0]
        return Image.fromarray(rgb.transpose(1, 0, 2), "xyc", ColorType.RGB, spacings)

    # -- snake_case API ----------------------------------------------------------------------------
    @property
    def dimensions(self) -> tuple[int, int]:
        """Level-0 ``(width, height)``."""
        return self.level_dimensions[0]

    @property
    def vendor(self) -> str:
        """OpenSlide's vendor name (``aperio``, ``generic-tiff``, ...)."""
        return self.properties.get("openslide.vendor", "unknown")

    @property
    def mpp(self) -> tuple[float, float] | None:
        """Level-0 microns per pixel ``(x, y)``, or ``None`` when the slide does not say."""
        return _mpp_from_properties(self.properties)

    @property
    def objective_power(self) -> float | None:
        """Scanner objective magnification of level 0 (e.g. 20 or 40), or ``None``."""
        value = self.properties.get("openslide.objective-power")
        try:
            return float(value) if value else None
        except ValueError:
            return None

    def check_region(self, level: int, x: int, y: int, w: int, h: int) -> None:
        """Raise :class:`SlideRegionError` unless the region lies inside ``level``."""
        if 0 <= level < len(self.level_dimensions) and w > 0 and h > 0:
            lw, lh = self.level_dimensions[level]
            ds = self.level_downsamples[level]
            if x >= 0 and y >= 0 and int(x / ds) + w <= lw and int(y / ds) + h <= lh:
                return  # the common case, without building the message
        where = f"slide '{self.path}', {describe_region(level, (x, y, w, h))}"
        if not 0 <= level < len(self.level_dimensions):
            raise SlideRegionError(
                f"{where}: level does not exist (the slide has {len(self.level_dimensions)})"
            )
        if w <= 0 or h <= 0:
            raise SlideRegionError(f"{where}: width and height must be positive")
        lw, lh = self.level_dimensions[level]
        ds = self.level_downsamples[level]
        if x < 0 or y < 0 or int(x / ds) + w > lw or int(y / ds) + h > lh:
            raise SlideRegionError(f"{where}: outside the slide (level size {lw}x{lh})")

    def read_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        """Read a region as an ``(h, w, 3)`` uint8 RGB array (OpenCV axis order).

        Transparent pixels (areas the scanner did not image) come back white.

        Args:
            level: pyramid level.
            x: left edge in level-0 pixels.
            y: top edge in level-0 pixels.
            w: width at ``level``.
            h: height at ``level``.

        Raises:
            SlideRegionError: the level does not exist or the region leaves the slide.
            SlideReadError: the slide is closed or decoding failed (the message names the
                slide and the region; the handle is reopened so later reads still work).
        """
        self.check_region(level, x, y, w, h)
        rgba = self._read_checked(self._read_rgba, level, x, y, w, h)
        rgb = rgba[..., :3]
        alpha = rgba[..., 3]
        if alpha.min() < 255:
            rgb = rgb.copy()
            rgb[alpha == 0] = 255
        return rgb

    def read_region_bgra(
        self, level: int, x: int, y: int, w: int, h: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Read a region as an ``(h, w, 4)`` uint8 BGRA array, straight from OpenSlide's buffer.

        The same colours as :meth:`read_region` (transparent pixels white, partly transparent
        ones un-premultiplied), in OpenCV's BGR order with an opaque alpha channel, without the
        conversions and copies of the RGB path: OpenSlide's premultiplied ARGB words are already
        BGRA bytes on a little-endian machine. For encoders that take BGRA (``cv2.imencode``).

        Args:
            level, x, y, w, h: as :meth:`read_region`.
            out: a C-contiguous ``(h, w, 4)`` uint8 array to read into (reused between reads).

        Raises:
            SlideRegionError: the level does not exist or the region leaves the slide.
            SlideReadError: the slide is closed or decoding failed.
        """
        self.check_region(level, x, y, w, h)
        raw = getattr(self._lowlevel, "_read_region", None)
        if raw is None or np.little_endian is False:  # no raw entry point: convert the RGB read
            import cv2

            rgb = self.read_region(level, x, y, w, h)
            return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA, dst=out)
        if out is None or out.shape != (h, w, 4) or not out.flags.c_contiguous:
            out = np.empty((h, w, 4), np.uint8)
        words = out.view(np.uint32).reshape(h, w)

        def read(handle: Any, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
            raw(handle._osr, words.ctypes.data_as(_UINT32_P), x, y, level, w, h)
            return words

        self._read_checked(read, level, x, y, w, h)
        opaque_bgra(out)
        return out

    def _read_checked(self, reader: Any, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        """`reader(handle, level, x, y, w, h)` on the shared handle; on failure once more on a
        private handle, then :class:`SlideReadError` naming the slide and the region."""
        osr = self._osr
        if osr is None:
            raise SlideReadError(f"slide '{self.path}' is closed")
        try:
            return reader(osr, level, x, y, w, h)  # type: ignore[no-any-return]
        except Exception:  # openslide.OpenSlideError, or a ctypes-level failure
            # OpenSlide errors are sticky per handle, so with several reader threads the failure
            # may come from another thread's region: retry on a private handle to be sure.
            self._reopen_after_error(osr)
            private = self._open()
            try:
                return reader(private, level, x, y, w, h)  # type: ignore[no-any-return]
            except Exception as exc:
                region = describe_region(level, (x, y, w, h))
                raise SlideReadError(
                    f"cannot read slide '{self.path}', {region}: {type(exc).__name__}: {exc}"
                ) from exc
            finally:
                private.close()

    def _read_rgba(self, handle: Any, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        return np.asarray(self._lowlevel.read_region(handle._osr, x, y, level, w, h))

    def _reopen_after_error(self, failed: Any) -> None:
        # A handle that hit a decoding error stays in the error state: swap in a fresh one.
        # The failed one may still be in use by other threads, so it is closed only by Close().
        with self._lock:
            if self._osr is failed:
                self._osr = self._open()
                self._retired.append(failed)

    def read_level(self, level: int) -> np.ndarray:
        """Read a whole level as an ``(h, w, 3)`` uint8 array (for low-resolution levels)."""
        w, h = self.level_dimensions[level]
        return self.read_region(level, 0, 0, w, h)

    def thumbnail(self, max_size: int = 1024) -> tuple[np.ndarray, float]:
        """Return an RGB thumbnail whose longer side is at most ``max_size`` and its downsample.

        Returns:
            ``(pixels, downsample)``: ``(h, w, 3)`` uint8 and the level-0 pixels per thumbnail
            pixel along x.
        """
        import cv2

        w0, h0 = self.dimensions
        target = max(w0, h0) / max_size
        level = self.GetBestLevelForDownsample(max(target, 1.0))
        pixels = self.read_level(level)
        lw, lh = self.level_dimensions[level]
        scale = min(1.0, max_size / max(lw, lh))
        if scale < 1.0:
            size = (max(1, round(lw * scale)), max(1, round(lh * scale)))
            pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        return pixels, w0 / pixels.shape[1]


def opaque_bgra(out: np.ndarray) -> None:
    """Turn OpenSlide's premultiplied ARGB words, seen as ``(h, w, 4)`` BGRA bytes, into opaque
    BGRA in place, the colours `read_region` gives: transparent pixels white, partly transparent
    ones un-premultiplied as openslide-python's ``argb2rgba`` does (``255 * c // a``); alpha 255."""
    words = out.view(np.uint32)
    if words.min() >= 0xFF000000:  # all opaque: nothing to do (the common case)
        return
    alpha = out[..., 3]
    partial = (alpha > 0) & (alpha < 255)
    if partial.any():
        a = alpha[partial].astype(np.uint32)[:, None]
        out[partial, :3] = (out[partial, :3].astype(np.uint32) * 255 // a).astype(np.uint8)
    out[alpha == 0] = 255
    alpha[...] = 255


def _mpp_from_properties(props: Mapping[str, str]) -> tuple[float, float] | None:
    try:
        mx = float(props["openslide.mpp-x"])
        my = float(props.get("openslide.mpp-y", mx))
    except (KeyError, ValueError):
        return None
    return (mx, my) if mx > 0 and my > 0 else None
