"""Bounds for every YAML file the toolkit reads: size, text encoding, nesting depth, aliases.

PyYAML's safe loader builds shared objects for aliases, but everything downstream (validation,
error messages, JSON responses) walks the expanded tree: a 474-byte file of nested anchors
(``aN: &aN [*aN-1, ... x10]``) expands to 10^8 nodes. :class:`LimitedComposer` counts the nodes
each alias adds when expanded and stops at :data:`MAX_ALIAS_NODES`; it also stops nesting deeper
than :data:`MAX_DEPTH` (20,000 ``[`` would otherwise end in ``RecursionError``). :func:`read_text`
refuses files above :data:`MAX_BYTES` before reading them and decodes UTF-8 or, with a byte order
mark, UTF-16/32; anything else is an error naming the byte offset. Every limit is a
:class:`YamlLimitError` (a ``yaml.YAMLError``, so callers that handle bad YAML handle it too). The
limits can be raised with the environment variables ``DEEPHEALTH_YAML_MAX_BYTES``,
``DEEPHEALTH_YAML_MAX_DEPTH`` and ``DEEPHEALTH_YAML_MAX_ALIAS_NODES``.
"""

from __future__ import annotations

import codecs
import os
from typing import Any

import yaml

from deephealth.ecvl.errors import EcvlError


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


MAX_BYTES = _env_int("DEEPHEALTH_YAML_MAX_BYTES", 32 * 1024 * 1024)
MAX_DEPTH = _env_int("DEEPHEALTH_YAML_MAX_DEPTH", 100)
MAX_ALIAS_NODES = _env_int("DEEPHEALTH_YAML_MAX_ALIAS_NODES", 100_000)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


class YamlLimitError(EcvlError, yaml.MarkedYAMLError):
    """A YAML input exceeds a bound or is not text; ``cause`` says which (and ``problem_mark``
    where, when known)."""

    def __init__(self, cause: str, mark: Any = None) -> None:
        yaml.MarkedYAMLError.__init__(self, problem=cause, problem_mark=mark)
        self.args = (cause,)
        self.cause = cause


def decode(data: bytes) -> str:
    """YAML bytes as text: UTF-8, or UTF-8/16/32 with a byte order mark.

    Raises:
        YamlLimitError: the bytes are not text in one of these encodings (names the offset).
    """
    encoding, start = "utf-8", 0
    for bom, enc in _BOMS:
        if data.startswith(bom):
            encoding, start = enc, len(bom)
            break
    nul = data.find(b"\x00", start) if encoding == "utf-8" else -1
    if nul >= 0:
        raise YamlLimitError(
            f"not UTF-8 text: NUL byte at offset {nul} (UTF-16/32 needs a byte order mark)"
        )
    try:
        return data[start:].decode(encoding)
    except UnicodeDecodeError as e:
        hint = " (UTF-16 needs a byte order mark)" if b"\x00" in data[:64] else ""
        raise YamlLimitError(
            f"not {encoding.upper()} text: byte 0x{data[start + e.start]:02x} at offset "
            f"{start + e.start}{hint}"
        ) from None


def read_text(path: str | os.PathLike, max_bytes: int | None = None) -> str:
    """Read a YAML file as text within the size bound.

    Raises:
        OSError: the file cannot be read.
        YamlLimitError: the file is larger than ``max_bytes`` (default :data:`MAX_BYTES`) or not
            text (see :func:`decode`).
    """
    limit = MAX_BYTES if max_bytes is None else max_bytes
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise YamlLimitError(
            f"file larger than {limit} bytes (raise DEEPHEALTH_YAML_MAX_BYTES to read it)"
        )
    return decode(data)


def check_size(text: str | bytes, max_bytes: int | None = None) -> None:
    """Refuse YAML text longer than the size bound (characters counted as bytes)."""
    limit = MAX_BYTES if max_bytes is None else max_bytes
    if len(text) > limit:
        raise YamlLimitError(
            f"text larger than {limit} bytes (raise DEEPHEALTH_YAML_MAX_BYTES to read it)"
        )


class LimitedComposer:
    """Composer mix-in (put it before the loader class) enforcing depth and alias bounds."""

    def compose_document(self) -> Any:
        self._dh_depth = 0
        self._dh_alias_nodes = 0
        self._dh_sizes: dict[str, int] = {}
        self._dh_nodes = 0
        return super().compose_document()  # type: ignore[misc]

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, yaml.AliasEvent):
            size = self._dh_sizes.get(event.anchor, 1)
            self._dh_alias_nodes += size
            self._dh_nodes += size
            if self._dh_alias_nodes > MAX_ALIAS_NODES:
                raise YamlLimitError(
                    f"aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?)",
                    event.start_mark,
                )
            return super().compose_node(parent, index)  # type: ignore[misc]
        self._dh_depth += 1
        if self._dh_depth > MAX_DEPTH:
            raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        before = self._dh_nodes
        try:
            node = super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._dh_depth -= 1
        self._dh_nodes += 1
        if event.anchor is not None:
            self._dh_sizes[event.anchor] = self._dh_nodes - before
        return node


class LimitedSafeLoader(LimitedComposer, yaml.SafeLoader):
    """``yaml.SafeLoader`` with the depth and alias bounds."""


def safe_load(text: str | bytes) -> Any:
    """``yaml.safe_load`` within the bounds (size, encoding for bytes, depth, aliases).

    Raises:
        yaml.YAMLError: invalid YAML; :class:`YamlLimitError` for a bound.
    """
    check_size(text)
    if isinstance(text, bytes):
        text = decode(text)
    return yaml.load(text, Loader=LimitedSafeLoader)
