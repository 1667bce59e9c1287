"""Errors raised when a whole-slide image cannot be opened or a region of it cannot be read.

Each error names the slide file and, where one is involved, the region (level and level-0
rectangle), so that a failure deep inside a long tiling or inference run says which tile of
which slide was at fault.
"""

from __future__ import annotations

from collections.abc import Sequence

from deephealth.ecvl.errors import EcvlError


class SlideError(EcvlError):
    """A whole-slide image could not be opened or read (an ECVL error, so a RuntimeError)."""


class SlideOpenError(SlideError):
    """OpenSlide cannot open the file (missing, unsupported format or corrupt header)."""


class SlideRegionError(SlideError, ValueError):
    """A requested region lies outside the slide or its level does not exist."""


class SlideReadError(SlideError):
    """Decoding a region failed (for example a corrupt tile)."""


def describe_region(level: int, dims: Sequence[int]) -> str:
    """Return ``"level L, region x=.., y=.., w=.., h=.."`` for error messages."""
    x, y, w, h = (int(v) for v in dims)
    return f"level {level}, region x={x}, y={y}, w={w}, h={h} (level-0 x, y)"
