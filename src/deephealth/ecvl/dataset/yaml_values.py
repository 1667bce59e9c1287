"""The values that the dataset YAML loaders build: Python scalars and containers that carry their
position (line, column) in the file, and the shared pieces of the two loaders
(:mod:`.yaml_lines`'s event path and :mod:`.yaml_fast`'s line path).
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class _Pos:
    __slots__ = ()
    line: int  # 1-based, set by the loaders (slots in the containers, __dict__ in the scalars)
    col: int


class LStr(str, _Pos):
    """A string with its position."""


class LInt(int, _Pos):
    """An integer with its position."""


class LFloat(float, _Pos):
    """A float with its position."""


class LList(list[Any], _Pos):
    """A list with its position."""

    __slots__ = ("line", "col")


class KeyPos(dict):  # type: ignore[type-arg]
    """Key -> ``(line, column)``, stored packed in one int per key (a tuple costs 112 bytes)."""

    __slots__ = ()

    def __setitem__(self, key: Any, value: tuple[int, int]) -> None:
        super().__setitem__(key, value[0] << 20 | min(value[1], 0xFFFFF))

    def __getitem__(self, key: Any) -> tuple[int, int]:
        v = super().__getitem__(key)
        return (v >> 20, v & 0xFFFFF)

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def values(self) -> Any:
        return [self[k] for k in self]

    def items(self) -> Any:
        return [(k, self[k]) for k in self]


class LDict(dict[Any, Any], _Pos):
    """A mapping with its position and the position of each key (``key_pos``)."""

    __slots__ = ("line", "col", "key_pos", "duplicates")
    key_pos: KeyPos
    duplicates: list[tuple[Any, int, int]]


def pos(value: Any, default: tuple[int, int] = (0, 0)) -> tuple[int, int]:
    """``(line, column)`` of a loaded value, or ``default`` for values without one (null, bool)."""
    line = getattr(value, "line", 0)
    return (line, getattr(value, "col", 0)) if line else default


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser; :func:`_stream` builds the values from its events (no node tree)."""


# first characters of the implicit types (bool, int, float, null, timestamp, ...): a plain scalar
# starting otherwise resolves to a string (holds only when no resolver takes any character)
_IMPLICIT_FIRST: frozenset[Any] = frozenset(_FastLoader.yaml_implicit_resolvers)
assert None not in _IMPLICIT_FIRST

_FALLBACK: Any = object()  # what _stream returns for constructs it leaves to _Loader


_PLAIN_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_NO_DUPLICATES: Any = ()  # shared by the mappings without duplicate keys
