"""YAML loading that remembers where each value sits (line and column) in the file.

The dataset parser and validator report problems at their YAML line; this module loads YAML into
ordinary dicts, lists, strings and numbers that also carry ``line``/``col`` attributes (and, for
mappings, the position of each key). Syntax errors become :class:`DatasetSyntaxError` with line,
column, what was expected and what was found.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from deephealth.ecvl.dataset.errors import DatasetLimitError, DatasetSyntaxError
from deephealth.ecvl.dataset.yaml_limits import LimitedComposer, YamlLimitError, check_size


class _Pos:
    line: int = 0
    col: int = 0


class LStr(str, _Pos):
    """A string with its position."""


class LInt(int, _Pos):
    """An integer with its position."""


class LFloat(float, _Pos):
    """A float with its position."""


class LList(list, _Pos):
    """A list with its position."""


class LDict(dict, _Pos):
    """A mapping with its position and the position of each key (``key_pos``)."""

    key_pos: dict[Any, tuple[int, int]]
    duplicates: list[tuple[Any, int, int]]


def pos(value: Any, default: tuple[int, int] = (0, 0)) -> tuple[int, int]:
    """``(line, column)`` of a loaded value, or ``default`` for values without one (null, bool)."""
    line = getattr(value, "line", 0)
    return (line, getattr(value, "col", 0)) if line else default


def _mark(obj: Any, node: yaml.Node) -> Any:
    obj.line = node.start_mark.line + 1
    obj.col = node.start_mark.column + 1
    return obj


class _Loader(LimitedComposer, yaml.SafeLoader):
    """Pure-Python loader with the size, depth and alias budgets of `yaml_limits`; its syntax-error
    messages are the ones reported."""


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser (a 100,000-entry dataset in about a second), used only for texts without
    anchors, which therefore cannot expand aliases."""


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
    out.key_pos, out.duplicates = {}, []
    for knode, vnode in node.value:
        key = loader.construct_object(knode, deep=True)
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
        if "&" not in text:
            try:
                return yaml.load(text, Loader=_FastLoader)
            except RecursionError:
                raise DatasetLimitError(file, 0, 0, "the YAML nesting is too deep") from None
            except yaml.YAMLError:
                pass  # parsed again below: the pure-Python parser words the syntax error
        return yaml.load(text, Loader=_Loader)
    except YamlLimitError as e:
        mark = e.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise DatasetLimitError(file, line, col, e.cause) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        expected, found = _split_problem(e.problem or str(e))
        raise DatasetSyntaxError(file, line, col, expected, found) from None
    except yaml.YAMLError as e:
        raise DatasetSyntaxError(file, 0, 0, "valid YAML", str(e)) from None
