"""Parser of ECVL's augmentation text syntax, with line/column error messages.

The format is the one DeepHealth's back-end stores: one augmentation per line, its name followed by
``name=value`` parameters, where a value is a number (``0.5``), a range (``[a,b]``), a tuple
(``(a,b,...)``) or a string (``"linear"``). ``SequentialAugmentationContainer`` and
``OneOfAugmentationContainer`` open a block closed by ``end``. This module only turns text into a
small syntax tree (:class:`AugNode`); :mod:`deephealth.ecvl.augment.factory` builds objects from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from deephealth.ecvl.errors import EcvlError

CONTAINERS = frozenset({"SequentialAugmentationContainer", "OneOfAugmentationContainer"})

_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r]+)
      | (?P<nl>\n)
      | (?P<comment>\#[^\n]*)
      | (?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<str>"[^"\n]*")
      | (?P<unterminated>"[^"\n]*)
      | (?P<punct>[=\[\](),])
      | (?P<bad>.)""",
    re.VERBOSE,
)


class AugmentationSyntaxError(EcvlError, ValueError):
    """Text that is not valid augmentation syntax, or names unknown augmentations/parameters.

    Attributes:
        line: 1-based line of the problem.
        column: 1-based column of the problem.
        expected: What the parser expected there.
        found: What it found (the offending text, or ``"end of text"``).
    """

    def __init__(
        self, line: int, column: int, expected: str, found: str, source: str | None = None
    ) -> None:
        self.line, self.column, self.expected, self.found = line, column, expected, found
        msg = f"line {line}, column {column}: expected {expected}, found {found}"
        if source is not None:
            lines = source.split("\n")
            if 0 < line <= len(lines):
                msg += f"\n    {lines[line - 1]}\n    {' ' * (column - 1)}^"
        super().__init__(msg)


@dataclass
class Token:
    """One lexical token with its 1-based position."""

    kind: str
    text: str
    line: int
    column: int


@dataclass
class ParamValue:
    """A parsed ``name=value``: kind is ``number``, ``range``, ``vector`` or ``string``."""

    kind: str
    value: float | str | tuple[float, ...]
    line: int
    column: int


@dataclass
class AugNode:
    """A parsed augmentation: its name, parameters and (for containers) children."""

    name: str
    params: dict[str, ParamValue]
    line: int
    column: int
    children: list[AugNode] = field(default_factory=list)


def _describe(tok: Token) -> str:
    if tok.kind == "eof":
        return "end of text"
    if tok.kind == "nl":
        return "end of line"
    return repr(tok.text)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens (whitespace and ``#`` comments dropped).

    Raises:
        AugmentationSyntaxError: An unterminated string or a character outside the syntax.
    """
    tokens: list[Token] = []
    line, line_start = 1, 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "bad"
        col = m.start() - line_start + 1
        if kind == "nl":
            tokens.append(Token("nl", "\n", line, col))
            line, line_start = line + 1, m.end()
            continue
        if kind in ("ws", "comment"):
            continue
        if kind == "unterminated":
            raise AugmentationSyntaxError(
                line, col + len(m.group()), "a closing '\"'", "end of line", text
            )
        if kind == "bad":
            raise AugmentationSyntaxError(
                line, col, "a name, '=', a number, '[', '(' or '\"'", repr(m.group()), text
            )
        tokens.append(Token(kind, m.group(), line, col))
    end_col = len(text) - line_start + 1
    tokens.append(Token("eof", "", line, end_col))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def error(self, expected: str, tok: Token | None = None) -> AugmentationSyntaxError:
        t = self.tok if tok is None else tok
        return AugmentationSyntaxError(t.line, t.column, expected, _describe(t), self.text)

    def skip_newlines(self) -> None:
        while self.tok.kind == "nl":
            self.i += 1

    def take(self, kind: str, text: str | None = None, expected: str = "") -> Token:
        t = self.tok
        if t.kind != kind or (text is not None and t.text != text):
            raise self.error(expected or (repr(text) if text else kind))
        self.i += 1
        return t

    def number(self) -> float:
        t = self.take("num", expected="a number")
        return float(t.text)

    def value(self) -> tuple[str, float | str | tuple[float, ...]]:
        t = self.tok
        if t.kind == "num":
            return "number", self.number()
        if t.kind == "str":
            self.i += 1
            return "string", t.text[1:-1]
        if t.kind == "punct" and t.text in "[(":
            close = "]" if t.text == "[" else ")"
            self.i += 1
            vals = [self.number()]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.i += 1
                vals.append(self.number())
            if not (self.tok.kind == "punct" and self.tok.text == close):
                raise self.error(f"',' or '{close}'")
            self.i += 1
            return ("range" if close == "]" else "vector"), tuple(vals)
        raise self.error('a value: a number, [min,max], (a,b,...) or "text"')

    def params(self) -> dict[str, ParamValue]:
        out: dict[str, ParamValue] = {}
        while self.tok.kind not in ("nl", "eof"):
            name = self.take("name", expected="a parameter name or end of line")
            self.take("punct", "=", expected=f"'=' after parameter {name.text!r}")
            start = self.tok
            kind, val = self.value()
            if name.text in out:
                raise AugmentationSyntaxError(
                    name.line, name.column, "each parameter once", f"{name.text!r} again", self.text
                )
            out[name.text] = ParamValue(kind, val, start.line, start.column)
        return out

    def end_of_line(self) -> None:
        if self.tok.kind not in ("nl", "eof"):
            raise self.error("end of line")

    def node(self) -> AugNode:
        name = self.take("name", expected="an augmentation name")
        node = AugNode(name.text, self.params(), name.line, name.column)
        self.end_of_line()
        if name.text in CONTAINERS:
            node.children = self.block(name)
        return node

    def block(self, opener: Token) -> list[AugNode]:
        children: list[AugNode] = []
        while True:
            self.skip_newlines()
            t = self.tok
            if t.kind == "eof":
                raise self.error(f"'end' closing {opener.text} opened at line {opener.line}")
            if t.kind == "name" and t.text == "end":
                self.i += 1
                self.end_of_line()
                return children
            children.append(self.node())


def parse(text: str) -> AugNode:
    """Parse one augmentation (possibly a container block) from ``text``.

    Raises:
        AugmentationSyntaxError: Malformed text, with line, column and what was expected.
    """
    p = _Parser(text)
    p.skip_newlines()
    node = p.node()
    p.skip_newlines()
    if p.tok.kind != "eof":
        raise p.error("end of text (one augmentation or container per text)")
    return node


def parse_params(text: str) -> dict[str, ParamValue]:
    """Parse a parameter list such as ``'angle=[-5,5] interp="linear"'`` (one line).

    Raises:
        AugmentationSyntaxError: Malformed text.
    """
    p = _Parser(text)
    p.skip_newlines()
    out = p.params()
    p.skip_newlines()
    if p.tok.kind != "eof":
        raise p.error("end of text")
    return out


def parse_block(text: str, with_params: bool) -> tuple[dict[str, ParamValue], list[AugNode]]:
    """Parse a container body: optional parameters on the first line, children, then ``end``.

    Args:
        text: The body (``fromtext`` of a container); a leading container name is tolerated.
        with_params: Whether the first line holds the container's own parameters (OneOf's ``p``).

    Returns:
        The container parameters and the child nodes.
    """
    p = _Parser(text)
    p.skip_newlines()
    opener = p.tok
    consumed = False
    if opener.kind == "name" and opener.text in CONTAINERS:
        p.i += 1
        consumed = True
    params: dict[str, ParamValue] = {}
    if with_params and p.tok.kind == "name" and p.toks[p.i + 1].text == "=":
        params = p.params()
        consumed = True
    if consumed:
        p.end_of_line()
    children = p.block(opener if opener.kind == "name" else Token("name", "container", 1, 1))
    p.skip_newlines()
    if p.tok.kind != "eof":
        raise p.error("end of text after 'end'")
    return params, children
