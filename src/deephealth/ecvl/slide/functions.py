"""The function-style whole-slide API of older pyecvl releases: ``OpenSlideGetLevels`` and
``OpenSlideRead``, each opening the slide, answering and closing it again.

Scripts written against pyecvl 0.x keep working; new code should keep an
:class:`~deephealth.ecvl.slide.OpenSlideImage` open instead of reopening the file per region.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from deephealth.ecvl.slide.reader import OpenSlideImage


def OpenSlideGetLevels(filename: str | os.PathLike[str]) -> list[list[int]]:
    """Return ``[[width, height], ...]`` for every level of a whole-slide image."""
    with OpenSlideImage(filename) as slide:
        return slide.GetLevelsDimensions()


def OpenSlideRead(filename: str | os.PathLike[str], level: int, dims: Sequence[int]) -> Any:
    """Read the region ``dims = [x, y, w, h]`` (``x, y`` at level 0) of ``level`` as an RGB
    ``"xyc"`` Image.

    Raises:
        SlideOpenError: OpenSlide cannot open the file.
        SlideRegionError: the region leaves the slide.
        SlideReadError: the region cannot be decoded.
    """
    with OpenSlideImage(filename) as slide:
        return slide.ReadRegion(level, dims)  # pixels are copied out of OpenSlide
