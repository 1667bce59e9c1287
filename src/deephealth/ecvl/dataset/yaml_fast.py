"""A line-oriented fast path for the regular layout of large dataset YAMLs.

`deephealth dataset generate` and ``Dataset.Dump`` write one image per line (``- {location: a.png,
label: benign}``) and the splits as flow lists of indices (``training: [0, 1, ...]``); a 100,000-image
file is ~700,000 libyaml events, and turning events into values in Python is most of its load
time. :func:`load_regular` reads the ``images:`` entries and the ``split:`` lists with regular
expressions and gives the rest of the document (those lines blanked, so every line number stays)
to the general event path, which keeps all of its guarantees (depth and alias budgets, syntax
errors with their line). It returns exactly what the general path returns (the same values, types
and positions) or ``None`` where anything is unusual (comments, anchors, tags, multi-line entries,
nested collections, plain scalars with ``:`` or ``#``, non-decimal numbers, duplicate keys,
line breaks other than ``\\n``, unprintable characters): the caller then parses the whole text the
general way. ``tests/ecvl/test_yaml_fast.py`` checks the equivalence on generated YAMLs.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import yaml

from deephealth.ecvl.dataset import yaml_limits
from deephealth.ecvl.dataset.yaml_values import (
    _FALLBACK,
    _IMPLICIT_FIRST,
    _NO_DUPLICATES,
    _PLAIN_INT,
    KeyPos,
    LDict,
    LInt,
    LList,
    LStr,
    _FastLoader,
)
from deephealth.ecvl.errors import EcvlError

MIN_BYTES = 64 * 1024  # smaller texts go the general way: the fast path would not pay for itself

# Anything that makes line numbers or characters differ from a plain "\n" split, or that YAML
# rejects (non-printable characters): the general path reads such texts.
_UNUSUAL = re.compile(
    "[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
# A plain scalar of the flow context that cannot contain an indicator: no leading indicator,
# no ':' or '#', no flow punctuation, inner single spaces only.
_PLAIN = r"[^\s\-?:,\[\]{}#&*!|>'\"%@`][^\s,\[\]{}:#]*(?: +[^\s,\[\]{}:#]+)*"
_DQ = r'"(?:[^"\\]|\\.)*"'
_SQ = r"'(?:[^']|'')*'"
_SCALAR = f"(?:{_PLAIN}|{_DQ}|{_SQ})"
_ENTRY = re.compile(r"( *)- \{ *")
_PAIR = re.compile(rf"({_KEY}): +(?:({_SCALAR})|\[ *((?:{_SCALAR}(?: *, *{_SCALAR})*)?) *\])")
_ITEM = re.compile(_SCALAR)
_SEP = re.compile(r" *, *")
_END = re.compile(r" *\}[ \t]*\Z")
_SPLIT_KEY = re.compile(rf"( +)({_KEY}): +\[")
_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b",
    "f": "\x0c", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "\\": "\\", "N": "\x85",
    "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX = {"x": 2, "u": 4, "U": 8}
_RESOLVERS = _FastLoader.yaml_implicit_resolvers
_STR_TAG = "tag:yaml.org,2002:str"


class _NotRegularError(EcvlError):
    """Raised inside the fast path when the text leaves the regular layout (never escapes it:
    :func:`load_regular` then returns None)."""


def _plain_value(text: str) -> Any:
    """A plain scalar's value: ``str`` or ``int`` (anything else leaves the fast path)."""
    if text[0] in _IMPLICIT_FIRST:
        for tag, regexp in _RESOLVERS.get(text[0], ()):
            if regexp.match(text):
                if tag == "tag:yaml.org,2002:int" and _PLAIN_INT.match(text):
                    return int(text)
                raise _NotRegularError  # bool, float, null, timestamp, merge, non-decimal int
    return text


def _unescape(body: str) -> str:
    """The value of a one-line double-quoted scalar's inner text."""
    if "\\" not in body:
        return body
    out, i = [], 0
    while True:
        j = body.find("\\", i)
        if j < 0:
            out.append(body[i:])
            return "".join(out)
        out.append(body[i:j])
        ch = body[j + 1]
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
            i = j + 2
        elif ch in _HEX:
            digits = body[j + 2 : j + 2 + _HEX[ch]]
            if len(digits) != _HEX[ch] or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise _NotRegularError
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise _NotRegularError
            out.append(chr(code))
            i = j + 2 + _HEX[ch]
        else:
            raise _NotRegularError


def _scalar(text: str, line: int, col: int, marked: bool, key: bool = False) -> Any:
    """The value of one scalar token at ``line``/``col`` (as the general path builds it)."""
    first = text[0]
    if first == '"':
        value: Any = _unescape(text[1:-1])
    elif first == "'":
        value = text[1:-1].replace("''", "'")
    else:
        value = _plain_value(text)
    if key:
        if type(value) is not str:
            raise _NotRegularError
        return sys.intern(value)
    if not marked:
        return value
    out = LStr(value) if type(value) is str else LInt(value)
    out.line, out.col = line, col
    return out


def _items(text: str, at: int, end: int) -> list[tuple[str, int]]:
    """The scalar tokens (text, offset) of a flow list's inside ``text[at:end]``."""
    out: list[tuple[str, int]] = []
    while at < end:
        t = _ITEM.match(text, at, end)
        if t is None:
            raise _NotRegularError
        out.append((t.group(), t.start()))
        at = t.end()
        if at < end:
            s = _SEP.match(text, at, end)
            if s is None or s.end() == end:
                raise _NotRegularError
            at = s.end()
    return out


def _entries(lines: list[str], start: int, marked: bool) -> tuple[LList, int]:
    """The image entries from line index ``start`` on, and the index after the last one."""
    seq = LList()
    first = _ENTRY.match(lines[start]) if start < len(lines) else None
    if first is None:
        raise _NotRegularError
    indent = first.group(1)
    seq.line, seq.col = start + 1, len(indent) + 1
    col = len(indent) + 3
    end = len(lines)
    line_re = None if marked else _line_re(indent)
    keys: dict[str, str] = {}
    dset = dict.__setitem__
    append = seq.append
    for i in range(start, len(lines)):
        text = lines[i]
        m = line_re.match(text) if line_re is not None else None
        if m is None:  # the general form of an entry line (or the end of the entries)
            e = _ENTRY.match(text)
            if e is None:
                end = i
                break
            if e.group(1) != indent:
                raise _NotRegularError
            append(_entry(text, i + 1, col, e.end(), marked))
            continue
        # the common form, `- {key: scalar[, key: scalar]}`, unmarked: one match per line
        k1, v1, k2, v2 = m.groups()
        item = LDict()
        item.line, item.col = i + 1, col
        item.duplicates = _NO_DUPLICATES
        item.key_pos = kp = KeyPos()
        k1 = keys.get(k1) or keys.setdefault(k1, _scalar(k1, 0, 0, False, key=True))
        c = v1[0]
        if c in _SPECIAL_FIRST and (c not in _TYPED or _TYPED[c].match(v1)):
            v1 = _value(v1)
        item[k1] = v1
        dset(kp, k1, (i + 1) << 20 | col + 1)
        if k2 is not None:
            k2 = keys.get(k2) or keys.setdefault(k2, _scalar(k2, 0, 0, False, key=True))
            if k2 is k1:
                raise _NotRegularError
            c = v2[0]
            if c in _SPECIAL_FIRST and (c not in _TYPED or _TYPED[c].match(v2)):
                v2 = _value(v2)
            item[k2] = v2
            dset(kp, k2, (i + 1) << 20 | m.start(3) + 1)
        append(item)
    return seq, end


def _line_re(indent: str) -> re.Pattern[str]:
    """One entry line of the common form (one or two keys with scalar values) at ``indent``."""
    return re.compile(rf"{indent}- \{{({_KEY}): ({_SCALAR})(?:, ({_KEY}): ({_SCALAR}))?\}}\Z")


def _value(text: str) -> Any:
    """An unmarked scalar's value."""
    first = text[0]
    if first == '"' or first == "'":
        return _scalar(text, 0, 0, False)
    for _, regexp in _RESOLVERS.get(first, ()):
        if regexp.match(text):
            return _plain_value(text)
    return text


# first characters of the scalars that are not plain strings as they stand (quoted, or maybe typed)
_SPECIAL_FIRST = frozenset(_IMPLICIT_FIRST | {'"', "'"})
# per first character, one pattern matching what any implicit type (bool, int, ...) would take
_TYPED = {
    c: re.compile("|".join(f"(?{'x' if r.flags & re.X else '-x'}:{r.pattern})" for _, r in rs))
    for c, rs in _RESOLVERS.items()
    if c
}


def _entry(text: str, line: int, col: int, at: int, marked: bool) -> LDict:
    """One ``- {key: value, ...}`` line as the general path loads it."""
    item = LDict()
    item.line, item.col = line, col
    item.key_pos, item.duplicates = KeyPos(), _NO_DUPLICATES
    while True:
        p = _PAIR.match(text, at)
        if p is None:
            raise _NotRegularError
        key = _scalar(p.group(1), line, 0, marked, key=True)
        if key in item:
            raise _NotRegularError
        if p.group(2) is not None:
            value = _scalar(p.group(2), line, p.start(2) + 1, marked)
        else:
            value = LList()
            value.line, value.col = line, text.rindex("[", 0, p.start(3)) + 1
            for tok, off in _items(text, p.start(3), p.end(3)):
                value.append(_scalar(tok, line, off + 1, marked))
        item[key] = value
        item.key_pos[key] = (line, p.start(1) + 1)
        at = p.end()
        s = _SEP.match(text, at)
        if s is None or s.end() == at or text.startswith("}", s.end()):
            break
        at = s.end()
    if _END.match(text, at) is None:
        raise _NotRegularError
    return item


def _splits(lines: list[str], start: int, marked: bool) -> tuple[LDict, int]:
    """The ``name: [indices]`` lists from line index ``start`` on, and the index after them."""
    out = LDict()
    out.key_pos, out.duplicates = KeyPos(), _NO_DUPLICATES
    indent = None
    i = start
    while i < len(lines):
        m = _SPLIT_KEY.match(lines[i])
        if m is None:
            break
        if indent is None:
            indent = m.group(1)
            out.line, out.col = i + 1, len(indent) + 1
        elif m.group(1) != indent:
            raise _NotRegularError
        key = _scalar(m.group(2), i + 1, 0, marked, key=True)
        if key in out:
            raise _NotRegularError
        seq = LList()
        seq.line, seq.col = i + 1, m.end()
        out.key_pos[key] = (i + 1, len(indent) + 1)
        # the body's lines: (line index, offset of the body on it, its text up to "]")
        parts: list[tuple[int, int, str]] = []
        text, at = lines[i], m.end()
        while True:
            close = text.find("]", at)
            parts.append((i, at, text[at:] if close < 0 else text[at:close]))
            if close >= 0:
                if text[close + 1 :].strip(" "):
                    raise _NotRegularError
                break
            i += 1
            if i >= len(lines) or not lines[i].startswith(indent + " "):
                raise _NotRegularError
            text, at = lines[i], 0
        if not _INDEX_LIST.match("\n".join(p[2] for p in parts)):
            raise _NotRegularError
        for k, off, body in parts:
            if marked:
                seq.extend(_scalar(t.group(), k + 1, off + t.start() + 1, marked)
                           for t in _DIGITS.finditer(body))  # fmt: skip
            else:
                seq.extend(map(int, _DIGITS.findall(body)))
        out[key] = seq
        i += 1
    if indent is None:
        raise _NotRegularError
    return out, i


_DIGITS = re.compile(r"[0-9]+")
_INDEX_LIST = re.compile(r"[ \n]*(?:(?:0|[1-9][0-9]*)(?:[ \n]*,[ \n]*(?:0|[1-9][0-9]*))*)?[ \n]*\Z")
_BLOCKS: dict[str, Callable[[list[str], int, bool], tuple[Any, int]]] = {
    "images": _entries,
    "split": _splits,
}


def _heads(text: str, key: str) -> list[int]:
    """Offsets of the lines that are ``key:`` alone (trailing spaces allowed)."""
    out = []
    probe = key + ":"
    at = 0 if text.startswith(probe) else text.find("\n" + probe)
    while at >= 0:
        start = at if at == 0 and text.startswith(probe) else at + 1
        eol = text.find("\n", start)
        if not text[start + len(probe) : eol if eol >= 0 else len(text)].strip(" "):
            out.append(start)
        at = text.find("\n" + probe, start)
    return out


def _block_root(text: str) -> bool:
    """Whether the document's root is a block mapping (its top-level keys are lines' starts)."""
    loader = _FastLoader(text)
    try:
        while loader.check_event():
            ev = loader.get_event()
            if isinstance(ev, (yaml.StreamStartEvent, yaml.DocumentStartEvent)):
                continue
            return isinstance(ev, yaml.MappingStartEvent) and ev.flow_style is False
        return False
    finally:
        loader.dispose()


def load_regular(
    text: str, marked: bool, general: Callable[[str, bool], Any], min_bytes: int = MIN_BYTES
) -> Any:
    """The document of ``text`` with its ``images`` entries and ``split`` lists read line by
    line, or ``None`` when the text is not in the regular layout.

    Args:
        text: The YAML text.
        marked: Whether scalars carry their positions (as the general path decides by size).
        general: The general event path (``text, marked`` -> document or ``_FALLBACK``); it
            reads the rest of the document and raises its errors for it.
        min_bytes: Shorter texts are left to the general path (``None``).
    """
    if len(text) < min_bytes or yaml_limits.MAX_DEPTH < 4 or _UNUSUAL.search(text):
        return None
    lines = text.split("\n")
    found: dict[str, tuple[int, Any]] = {}
    try:
        for key, read in _BLOCKS.items():
            heads = _heads(text, key)
            if len(heads) != 1:
                continue
            head = text.count("\n", 0, heads[0])
            value, end = read(lines, head + 1, marked)
            found[key] = (head, value)
            lines[head + 1 : end] = [""] * (end - head - 1)
    except _NotRegularError:
        return None
    if not found:
        return None
    rest = "\n".join(lines)
    try:
        if not _block_root(rest):
            return None
        doc = general(rest, marked)
    except Exception:  # the general path reads the whole text again and reports it
        return None
    if doc is _FALLBACK or type(doc) is not LDict:
        return None
    dup_keys = {d[0] for d in doc.duplicates}
    for key, (head, value) in found.items():
        if key not in doc or doc[key] is not None or key in dup_keys:
            return None
        if doc.key_pos[key] != (head + 1, 1):
            return None
        doc[key] = value
    return doc
