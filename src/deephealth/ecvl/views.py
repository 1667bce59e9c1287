"""ECVL's typed views ``View_uint8``, ``View_int16``, ``View_float32`` ...: indexable, non-owning.

``View_int16(img)`` is an Image sharing ``img``'s pixels (``IsOwner()`` is False) whose elements
are read and written with ``view[x, y, c]`` in layout order, as pyecvl's ``View_*`` classes. The
pixel type must match the view's type, as in ECVL.
"""

from __future__ import annotations

from typing import Any

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import DataType, Image


class _View(Image):
    """An Image sharing another's pixels, indexable in layout order."""

    __slots__ = ()
    elemtype: DataType = DataType.none

    def __init__(self, img: Image) -> None:
        if not isinstance(img, Image):
            raise EcvlError(f"{type(self).__name__} needs an Image, got {type(img).__name__}")
        if img.elemtype_ is not self.elemtype:
            raise EcvlError(
                f"{type(self).__name__} of an image of type {img.elemtype_.name}: "
                f"use View_{img.elemtype_.name} or ConvertTo first"
            )
        self._assign(img)
        self.meta = img.meta
        self.owner_ = False

    def __getitem__(self, index: Any) -> Any:
        return self.data[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        self.data[index] = value


def _view_class(dt: DataType) -> type[_View]:
    doc = f"A non-owning view of a ``{dt.name}`` Image, indexed in layout order (pyecvl)."
    return type(f"View_{dt.name}", (_View,), {"__slots__": (), "elemtype": dt, "__doc__": doc})


View_uint8 = _view_class(DataType.uint8)
View_uint16 = _view_class(DataType.uint16)
View_int8 = _view_class(DataType.int8)
View_int16 = _view_class(DataType.int16)
View_int32 = _view_class(DataType.int32)
View_int64 = _view_class(DataType.int64)
View_float32 = _view_class(DataType.float32)
View_float64 = _view_class(DataType.float64)

__all__ = [
    "View_float32",
    "View_float64",
    "View_int16",
    "View_int32",
    "View_int64",
    "View_int8",
    "View_uint16",
    "View_uint8",
]
