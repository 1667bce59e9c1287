"""Whole-slide images: the ``OpenSlideImage`` reader and a pyramidal tiled TIFF writer.

OpenSlide (openslide-python + openslide-bin, the ``deephealth[slide]`` extra) is imported only
when a slide is opened, so importing this package costs nothing when it is not used.
"""

from deephealth.ecvl.slide.errors import (
    SlideError,
    SlideOpenError,
    SlideReadError,
    SlideRegionError,
)
from deephealth.ecvl.slide.functions import OpenSlideGetLevels, OpenSlideRead
from deephealth.ecvl.slide.reader import OpenSlideImage
from deephealth.ecvl.slide.writer import pyramid_levels, write_pyramidal_tiff

__all__ = [
    "OpenSlideGetLevels",
    "OpenSlideImage",
    "OpenSlideRead",
    "SlideError",
    "SlideOpenError",
    "SlideReadError",
    "SlideRegionError",
    "pyramid_levels",
    "write_pyramidal_tiff",
]
