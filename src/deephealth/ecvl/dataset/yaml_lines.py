"""YAML loading that remembers where each value sits (line and column) in the file.

The dataset parser and validator report problems at their YAML line; this module loads YAML into
ordinary dicts, lists, strings and numbers that also carry ``line``/``col`` attributes (and, for
mappings, the position of each key). Syntax errors become :class:`DatasetSyntaxError` with line,
column, what was expected and what was found.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import yaml

from deephealth.ecvl.dataset import yaml_limits
from deephealth.ecvl.dataset.errors import DatasetLimitError, DatasetSyntaxError
from deephealth.ecvl.dataset.yaml_fast import load_regular
from deephealth.ecvl.dataset.yaml_limits import LimitedComposer, YamlLimitError, check_size
from deephealth.ecvl.dataset.yaml_values import (
    _FALLBACK,
    _IMPLICIT_FIRST,
    _NO_DUPLICATES,
    _PLAIN_INT,
    KeyPos,
    LDict,
    LFloat,
    LInt,
    LList,
    LStr,
    _FastLoader,
    pos,
)

__all__ = ["LDict", "LInt", "LList", "LStr", "KeyPos", "load", "pos"]


def _mark(obj: Any, node: yaml.Node) -> Any:
    obj.line = node.start_mark.line + 1
    obj.col = node.start_mark.column + 1
    return obj


class _Loader(LimitedComposer, yaml.SafeLoader):
    """Pure-Python loader with the size, depth and alias budgets of `yaml_limits`; its syntax-error
    messages are the ones reported."""


_COLLECTION_TAGS = (None, "!", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")


def _scalar(loader: Any, ev: yaml.ScalarEvent, marked: bool) -> Any:
    """The value of one scalar event (the constructors of :class:`_Loader`; with ``marked``
    False, plain ``str``/``int`` without a position)."""
    value = ev.value
    if ev.tag is None or ev.tag == "!":
        if not ev.implicit[0]:
            return _mark_ev(LStr(value), ev) if marked else value
        if value and value[0] not in _IMPLICIT_FIRST:  # no implicit type starts so: a string
            return _mark_ev(LStr(value), ev) if marked else value
        tag = loader.resolve(yaml.ScalarNode, value, (True, False))
    else:
        tag = ev.tag
    if tag == "tag:yaml.org,2002:str":
        return _mark_ev(LStr(value), ev) if marked else value
    if tag == "tag:yaml.org,2002:int" and _PLAIN_INT.match(value):
        return _mark_ev(LInt(value), ev) if marked else int(value)
    if tag == "tag:yaml.org,2002:merge":
        return _FALLBACK
    node = yaml.ScalarNode(tag, value, ev.start_mark, ev.end_mark, ev.style)
    ctor = loader.yaml_constructors.get(tag) or loader.yaml_constructors[None]
    return ctor(loader, node)


def _mark_ev(obj: Any, ev: yaml.Event) -> Any:
    obj.line = ev.start_mark.line + 1
    obj.col = ev.start_mark.column + 1
    return obj


def _stream(text: str, marked: bool | None = None) -> Any:
    """Load a one-document YAML text from libyaml's events, with the depth and alias budgets of
    :class:`LimitedComposer` (same values and positions as :class:`_Loader`), holding no node tree:
    a 10 MB dataset file loads in a fraction of the time and memory of compose-then-construct.

    Above :data:`MARKED_SCALARS_BYTES` of text (or with ``marked`` False), strings and integers
    are plain ``str``/``int``
    (a positioned scalar costs about 440 bytes, five times a plain one): mappings and sequences
    keep their positions and mapping keys theirs (``key_pos``), so a problem with one value is
    reported at its key's or its entry's line.

    Raises:
        YamlLimitError: nested too deep or aliases expanding beyond the budget.
        yaml.YAMLError: invalid YAML (libyaml's wording), unhashable keys, undefined aliases.

    Returns:
        The document, or ``_FALLBACK`` for explicit collection tags or merge keys (the caller
        then uses :class:`_Loader`).
    """
    loader = _FastLoader(text)
    if marked is None:
        marked = len(text) <= MARKED_SCALARS_BYTES
    anchors: dict[str, tuple[Any, int]] = {}
    alias_nodes = 0
    # Open collections: [container, pending key (maps), key mark, node count at start, anchor].
    stack: list[list[Any]] = []
    nodes = 0
    root: Any = None
    documents = 0
    try:
        while loader.check_event():
            ev = loader.get_event()
            kind = type(ev)
            if kind is yaml.ScalarEvent:
                value = _scalar(loader, ev, not stack or (marked and not top_is_key(stack)))
                if value is _FALLBACK:
                    return _FALLBACK
                nodes += 1
                if ev.anchor is not None:
                    anchors[ev.anchor] = (value, 1)
            elif kind is yaml.AliasEvent:
                if ev.anchor not in anchors:
                    raise yaml.composer.ComposerError(
                        None, None, f"found undefined alias {ev.anchor!r}", ev.start_mark
                    )
                if any(entry[4] == ev.anchor for entry in stack):
                    raise yaml.constructor.ConstructorError(
                        None, None, "found unconstructable recursive node", ev.start_mark
                    )
                value, size = anchors[ev.anchor]
                alias_nodes += size
                nodes += size
                if alias_nodes > yaml_limits.MAX_ALIAS_NODES:
                    raise YamlLimitError(
                        f"aliases expand to more than {yaml_limits.MAX_ALIAS_NODES} nodes "
                        "(an alias bomb?)",
                        ev.start_mark,
                    )
            elif kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
                if ev.tag not in _COLLECTION_TAGS:
                    return _FALLBACK
                if len(stack) >= yaml_limits.MAX_DEPTH:
                    raise YamlLimitError(
                        f"nested deeper than {yaml_limits.MAX_DEPTH} levels", ev.start_mark
                    )
                if kind is yaml.SequenceStartEvent:
                    obj: Any = _mark_ev(LList(), ev)
                else:
                    obj = _mark_ev(LDict(), ev)
                    obj.key_pos, obj.duplicates = KeyPos(), _NO_DUPLICATES
                if ev.anchor is not None:
                    anchors[ev.anchor] = (obj, 1)
                stack.append([obj, _NO_KEY, None, nodes, ev.anchor])
                continue
            elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
                obj, _, _, start, anchor = stack.pop()
                nodes += 1
                if anchor is not None:
                    anchors[anchor] = (obj, nodes - start)
                value = obj
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise yaml.composer.ComposerError(
                        "expected a single document in the stream",
                        None,
                        "but found another document",
                        ev.start_mark,
                    )
                continue
            else:  # stream start/end, document end
                continue
            if not stack:
                root = value
                continue
            top = stack[-1]
            parent = top[0]
            if type(parent) is LList:
                parent.append(value)
            elif top[1] is _NO_KEY:
                try:
                    hash(value)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", parent_mark(parent),
                        "found unhashable key", ev.start_mark,
                    ) from None  # fmt: skip
                if type(value) is str:  # keys' positions live in key_pos
                    value = sys.intern(value)
                top[1], top[2] = value, (ev.start_mark.line + 1, ev.start_mark.column + 1)
            else:
                key, kpos = top[1], top[2]
                if key in parent:
                    if parent.duplicates is _NO_DUPLICATES:
                        parent.duplicates = []
                    parent.duplicates.append((key, *kpos))
                parent[key] = value
                parent.key_pos[key] = kpos
                top[1] = _NO_KEY
        return root
    finally:
        loader.dispose()


_NO_KEY = object()
MARKED_SCALARS_BYTES = 1 << 20  # larger texts: plain scalars (see _stream)


def top_is_key(stack: list[list[Any]]) -> bool:
    """Whether the next value completes a key of the innermost open mapping."""
    top = stack[-1]
    return type(top[0]) is LDict and top[1] is _NO_KEY


_REWORD_BYTES = 1 << 20  # syntax errors in texts up to 1 MiB are worded by the pure-Python parser


def parent_mark(obj: Any) -> Any:
    """A mark at a loaded container's position (for error messages)."""
    return yaml.Mark(
        "<yaml>", 0, getattr(obj, "line", 1) - 1, getattr(obj, "col", 1) - 1, None, None
    )


def _str(loader: _Loader, node: yaml.ScalarNode) -> Any:
    return _mark(LStr(loader.construct_scalar(node)), node)


def _int(loader: _Loader, node: yaml.ScalarNode) -> Any:
    return _mark(LInt(yaml.SafeLoader.construct_yaml_int(loader, node)), node)


def _float(loader: _Loader, node: yaml.ScalarNode) -> Any:
    return _mark(LFloat(yaml.SafeLoader.construct_yaml_float(loader, node)), node)


def _seq(loader: _Loader, node: yaml.SequenceNode) -> Any:
    out = _mark(LList(), node)
    out.extend(loader.construct_object(child, deep=True) for child in node.value)
    return out


def _map(loader: _Loader, node: yaml.MappingNode) -> Any:
    loader.flatten_mapping(node)
    out = _mark(LDict(), node)
    out.key_pos, out.duplicates = KeyPos(), []
    for knode, vnode in node.value:
        key = loader.construct_object(knode, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found unhashable key",
                knode.start_mark,
            ) from None  # fmt: skip
        kpos = (knode.start_mark.line + 1, knode.start_mark.column + 1)
        if key in out:
            out.duplicates.append((key, *kpos))
        out[key] = loader.construct_object(vnode, deep=True)
        out.key_pos[key] = kpos
    return out


for _cls in (_Loader, _FastLoader):
    _cls.add_constructor("tag:yaml.org,2002:str", _str)
    _cls.add_constructor("tag:yaml.org,2002:int", _int)
    _cls.add_constructor("tag:yaml.org,2002:float", _float)
    _cls.add_constructor("tag:yaml.org,2002:seq", _seq)
    _cls.add_constructor("tag:yaml.org,2002:map", _map)

_OPENCV_HEADER = re.compile(r"^%YAML:\d+\.\d+[ \t]*$", re.MULTILINE)


def _split_problem(problem: str) -> tuple[str, str]:
    m = re.match(r"expected (.*?),? but (?:found|got) (.*)", problem)
    if m:
        return m.group(1), m.group(2)
    m = re.match(r"could not find expected (.*)", problem)
    if m:
        return m.group(1), "something else"
    m = re.match(r"found (.*?)(?: that cannot start any token)?$", problem)
    if m:
        return "a YAML token", m.group(1)
    return "valid YAML", problem


def load(text: str, file: str) -> Any:
    """Load YAML text into position-carrying values.

    Args:
        text: The YAML document. An OpenCV-style ``%YAML:1.2`` header is accepted.
        file: Name used in error messages.

    Raises:
        DatasetSyntaxError: The text is not valid YAML (line, column, expected, found).
        DatasetLimitError: The text exceeds a bound of :mod:`.yaml_limits` (size, nesting
            depth, alias expansion).
    """
    try:
        check_size(text)
    except YamlLimitError as e:
        raise DatasetLimitError(file, 0, 0, e.cause) from None
    text = _OPENCV_HEADER.sub(lambda m: "#" + m.group()[1:], text, count=1)
    try:
        try:
            doc = load_regular(text, len(text) <= MARKED_SCALARS_BYTES, _stream)
            if doc is None:
                doc = _stream(text)
            if doc is not _FALLBACK:
                return doc
        except YamlLimitError:
            raise
        except yaml.YAMLError:
            if len(text) > _REWORD_BYTES:
                raise  # libyaml's wording: the pure-Python parser is slow on a large text
            # parsed again below: the pure-Python parser words the syntax error
        return yaml.load(text, Loader=_Loader)
    except YamlLimitError as e:
        mark = e.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise DatasetLimitError(file, line, col, e.cause) from None
    except RecursionError:
        raise DatasetLimitError(file, 0, 0, "the YAML nesting is too deep") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        expected, found = _split_problem(e.problem or str(e))
        raise DatasetSyntaxError(file, line, col, expected, found) from None
    except yaml.YAMLError as e:
        raise DatasetSyntaxError(file, 0, 0, "valid YAML", str(e)) from None
