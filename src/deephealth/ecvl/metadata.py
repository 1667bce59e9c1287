"""ECVL's ``MetaData``: the value type ``Image.GetMeta`` returns, with ``Get()`` and ``GetStr()``.

An Image keeps its metadata as a plain dict of Python values (``img.meta``: DICOM tags, a NIfTI
affine, slide properties); pyecvl scripts see each value wrapped in a :class:`MetaData`, as ECVL's
``GetMeta`` and ``meta_`` give them.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class MetaData:
    """One metadata value (pyecvl ``MetaData``): an integer, a float, a string or any other value.

    Example:
        >>> MetaData(12).Get(), MetaData(12).GetStr(), MetaData("CT").Get()
        (12, '12', 'CT')
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        """Wrap ``value`` (a MetaData is unwrapped, so wrapping twice keeps one level)."""
        self.value = value.value if isinstance(value, MetaData) else value

    def Get(self) -> Any:
        """The value itself."""
        return self.value

    def GetStr(self) -> str:
        """The value as text: numbers as ECVL prints them, arrays and lists as flat lists."""
        v = self.value
        if isinstance(v, str):
            return v
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        if isinstance(v, np.ndarray):
            return " ".join(str(x) for x in v.ravel().tolist())
        if isinstance(v, np.generic):
            return str(v.item())
        return str(v)

    def __eq__(self, other: object) -> bool:
        other_value = other.value if isinstance(other, MetaData) else other
        try:
            return bool(np.all(self.value == other_value))
        except (TypeError, ValueError):
            return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MetaData({self.value!r})"


def unwrap(value: Any) -> Any:
    """The plain value of a :class:`MetaData`, or ``value`` itself."""
    return value.value if isinstance(value, MetaData) else value
