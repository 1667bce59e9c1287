"""The line-oriented fast path of dataset YAML loading (`yaml_fast`, issue #14 item 7).

Property: on generated YAMLs (the regular layout and its neighbours: quoting, escapes, unicode,
comments, flow style, other indentations, typed scalars, duplicates, broken lines) the fast path
either declines (``None``) or gives exactly what the general event path gives: the same values,
types and positions, and the same decoded Dataset (samples, splits, issues). Hostile inputs keep
their errors (with line numbers) and budgets when the rest of the file is a large regular one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deephealth.ecvl as ecvl
from deephealth.ecvl.dataset import DatasetLimitError, DatasetSyntaxError, yaml_fast
from deephealth.ecvl.dataset.parser import _Decoder
from deephealth.ecvl.dataset.yaml_lines import _FALLBACK, _stream, load


def snap(v: Any) -> Any:
    """A loaded value as nested tuples: type, position, contents (keys with their positions)."""
    where = (type(v).__name__, getattr(v, "line", None), getattr(v, "col", None))
    if isinstance(v, dict):
        items = [(k, type(k).__name__, v.key_pos[k], snap(x)) for k, x in v.items()]
        return (*where, items, list(v.duplicates))
    if isinstance(v, list):
        return (*where, [snap(x) for x in v])
    return (*where, v)


def general(text: str, marked: bool) -> Any:
    """What the general path gives: the document, or the exception class it raises."""
    try:
        return _stream(text, marked)
    except Exception as e:
        return type(e)


# --- generated texts ----------------------------------------------------------------------
_PLAIN_CHARS = "abcdefgtnyoTFN0123456789/._-é中 #:'\"&*!%@`?|>"
_DQ_ATOMS = ["a", "é", "中", " ", "#", ":", ",", "}", "\\\\", '\\"', "\\x41", "\\xE9", "\\u00e9",
             "\\U0001F600", "\\n", "\\t", "\\0", "\\/", "\\N", "\\_", "\\L", "\\q", "\\x4",
             "\\uD800", "'"]  # fmt: skip
_ODD_VALUES = ["[a, b]", "[]", "[ 'x' , \"y\" ]", "[a,b]", "[a, ]", "[1, 2]", "{x: 1}", "true",
               "1.5", "012", "0x1F", "~", "null", "&a x", "*a", "!!str x", '"open', "- a",
               "benign", "malignant", "0", "1", "7", "+3", "2023/a.png", "a  b", "a\tb",
               "\u2028", "x\x85y", "\ufeffz", "a\x01"]  # fmt: skip

safe_plain = st.from_regex(
    r"[a-zA-Z0-9_é中/][a-zA-Z0-9_é中/. -]{0,10}[a-zA-Z0-9_é中/.]?", fullmatch=True
)
plain = st.text(_PLAIN_CHARS, min_size=1, max_size=10)
dq = st.lists(st.sampled_from(_DQ_ATOMS), max_size=5).map(lambda a: '"' + "".join(a) + '"')
sq = st.text("ab é'#,:}", max_size=6).map(lambda s: "'" + s.replace("'", "''") + "'")


def often(usual: Any, rare: Any) -> Any:
    """``usual`` nine times in ten, else ``rare`` (the regular layout, with its neighbours)."""
    return st.sampled_from([False] * 9 + [True]).flatmap(lambda odd: rare if odd else usual)


def one_in(n: int) -> Any:
    """True about once in ``n`` draws (False first: what examples shrink to)."""
    return st.sampled_from([False] * (n - 1) + [True])


values = often(st.one_of(safe_plain, safe_plain, dq, sq, st.sampled_from(["benign", "0", "1"])),
               st.one_of(plain, st.sampled_from(_ODD_VALUES)))  # fmt: skip
keys = often(
    st.sampled_from(["location", "label"]),
    st.sampled_from(["values", "yes", "x y", '"location"', "on", "boxes", "a1", "label"]),
)


@st.composite
def entry_line(draw: Any, indent: str) -> str:
    pairs = draw(
        often(
            st.sampled_from([[("location", "a.png")]]).flatmap(
                lambda _: st.tuples(values, values).map(
                    lambda v: [("location", v[0]), ("label", v[1])]
                )
            ),
            st.lists(st.tuples(keys, values), min_size=1, max_size=3),
        )
    )
    colon = draw(often(st.just(": "), st.sampled_from([":", ":  "])))
    sep = draw(often(st.just(", "), st.sampled_from([",", " , ", ",  "])))
    body = sep.join(f"{k}{colon}{v}" for k, v in pairs)
    opening, closing = draw(
        often(st.just(("{", "}")), st.sampled_from([("{ ", " }"), ("{", ",}")]))
    )
    tail = draw(often(st.just(""), st.sampled_from([" ", " # note", "\t", " x"])))
    dash = draw(often(st.just("- "), st.sampled_from(["-  ", "-"])))
    return f"{indent}{dash}{opening}{body}{closing}{tail}"


@st.composite
def images_block(draw: Any) -> str:
    indent = draw(st.sampled_from(["", "  ", "", " "]))
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(one_in(40)):
            lines.append(draw(st.sampled_from(["", "# a comment", f"{indent}- plain.png",
                                               f"{indent}- {{location: a,", "   label: b}",
                                               f"{indent}  - {{location: x}}", "\t- {a: b}"])))  # fmt: skip
        else:
            ind = draw(often(st.just(indent), st.sampled_from(["", "  ", "   "])))
            lines.append(draw(entry_line(ind)))
    return "\n".join(lines)


@st.composite
def split_block(draw: Any) -> str:
    indent = draw(st.sampled_from(["  ", "  ", " ", "    "]))
    out = []
    for name in draw(st.lists(st.sampled_from(["training", "validation", "test", "yes", "1"]),
                              min_size=1, max_size=3)):  # fmt: skip
        toks = [str(i) for i in draw(st.lists(st.integers(0, 12), max_size=8))]
        if draw(one_in(20)):
            toks.insert(0, draw(st.sampled_from(["-1", "012", "1.5", "x", "", "0x2", "1_0"])))
        text = ""
        for k, t in enumerate(toks):
            text += t
            if k < len(toks) - 1:
                text += draw(often(st.sampled_from([", ", ", ", f",\n{indent}  "]),
                                   st.sampled_from([",", " ,", ",\n"])))  # fmt: skip
        closing = draw(
            often(st.just("]"), st.sampled_from([",]", f"\n{indent}  ]", "] # c", "", "]x"]))
        )
        colon = draw(often(st.just(": ["), st.sampled_from([":[", ": [ "])))
        out.append(f"{indent}{name}{colon}{text}{closing}")
    return "\n".join(out)


@st.composite
def dataset_text(draw: Any) -> str:
    head = draw(often(st.just(""), st.sampled_from(["---\n", "%YAML 1.1\n---\n", "# top\n",
                                                   "{\n", "x: &a [1]\n"])))  # fmt: skip
    name = draw(st.sampled_from(["name: ds", "name: 'd s'", 'name: "d\\xE9"', "name: dé"]))
    classes = draw(st.sampled_from(["classes: [benign, malignant]", "classes:\n- benign\n- x",
                                    "classes: [0, 1]", ""]))  # fmt: skip
    images_head = draw(
        often(st.just("images:"), st.sampled_from(["images: ", "images: # c", "images:\t"]))
    )
    parts = [head + name, classes, images_head, draw(images_block())]
    if draw(st.booleans()):
        parts += ["split:" + draw(st.sampled_from(["", "", " "])), draw(split_block())]
    parts.append(draw(often(st.sampled_from(["", "features: [age]"]),
                            st.sampled_from(["images: []", "split: {}", "foo: [", "y: *a",
                                             "z: {", "}", "  bad: indent"]))))  # fmt: skip
    if draw(one_in(10)):
        parts.reverse()
    return "\n".join(parts) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=dataset_text())
def test_fast_path_declines_or_equals_the_general_path(text: str) -> None:
    for marked in (True, False):
        fast = yaml_fast.load_regular(text, marked, _stream, min_bytes=0)
        if fast is None:
            continue
        slow = general(text, marked)
        assert not isinstance(slow, type), f"general path raised {slow} but fast path loaded"
        assert slow is not _FALLBACK
        assert snap(fast) == snap(slow)
        a = _Decoder("/data/ds.yml").decode(fast)
        b = _Decoder("/data/ds.yml").decode(slow)
        assert a == b


def _regular(n: int) -> str:
    """A file in the layout of `deephealth dataset generate` (libyaml's emitter), with quoted,
    unicode and typed entries mixed in."""
    names = [f"img/{i:05d}.png" for i in range(n)]
    names[3], names[5], names[7] = "img/é#x.png", "img/a b.png", "2023/true"
    doc = {"name": "big", "description": "d", "classes": ["benign", "malignant"],
           "images": [{"location": loc, "label": ["benign", "malignant"][i % 2]}
                      for i, loc in enumerate(names)],
           "split": {"training": list(range(n - 10)), "test": list(range(n - 10, n))}}  # fmt: skip
    return yaml.dump(doc, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=None)


@pytest.mark.parametrize("marked", [True, False])
def test_generator_layout_takes_the_fast_path(marked: bool) -> None:
    text = _regular(3000)
    assert len(text) >= yaml_fast.MIN_BYTES
    fast = yaml_fast.load_regular(text, marked, _stream)
    assert fast is not None
    assert snap(fast) == snap(_stream(text, marked))
    assert fast["images"][3]["location"] == "img/é#x.png"
    assert fast["images"][7]["location"] == "2023/true"
    assert len(fast["split"]["training"]) == 2990


def test_dataset_through_the_fast_path_equals_the_general_path(tmp_path: Path) -> None:
    text = _regular(3000)
    path = tmp_path / "big.yml"
    path.write_text(text)
    ds = ecvl.Dataset(path)
    ref = _Decoder(str(path)).decode(_stream(text))
    assert ds.samples_ == ref.samples and ds.split_ == ref.splits
    assert ds.samples_[3].location_ == [f"{tmp_path.resolve()}/img/é#x.png"]
    assert ds.samples_[1].label_ == [1] and ds.samples_[1].line_ == 6


def _with(text: str, tail: str) -> str:
    return text + tail


def test_errors_after_a_regular_block_keep_their_line(tmp_path: Path) -> None:
    text = _regular(3000)
    lines = text.count("\n")
    path = tmp_path / "bad.yml"
    path.write_text(text + "features: [age\n")
    with pytest.raises(DatasetSyntaxError) as e:
        ecvl.Dataset(path)
    assert e.value.line == lines + 2  # libyaml reports the end of the unclosed list


def test_an_error_inside_the_images_block_keeps_its_line(tmp_path: Path) -> None:
    lines = _regular(3000).split("\n")
    at = next(i for i, s in enumerate(lines) if s.startswith("- {")) + 1500
    lines[at] = "- {location: x.png, label: [benign}"
    path = tmp_path / "bad.yml"
    path.write_text("\n".join(lines))
    with pytest.raises(DatasetSyntaxError) as e:
        ecvl.Dataset(path)
    assert e.value.line == at + 1


def test_budgets_hold_with_a_regular_block(tmp_path: Path, monkeypatch: Any) -> None:
    bomb = ["a0: &a0 [x]"]
    bomb += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 8)]
    path = tmp_path / "bomb.yml"
    path.write_text("\n".join(bomb) + "\nclasses: *a7\n" + _regular(3000).split("\n", 2)[2])
    with pytest.raises(DatasetLimitError, match="alias"):
        ecvl.Dataset(path)
    from deephealth.ecvl.dataset import yaml_limits

    monkeypatch.setattr(yaml_limits, "MAX_DEPTH", 2)  # entries are 3 deep: the budget applies
    text = _regular(3000)
    assert yaml_fast.load_regular(text, False, _stream) is None
    with pytest.raises(DatasetLimitError, match="nested deeper than 2"):
        load(text, "deep.yml")


def test_typed_prefilter_agrees_with_the_resolver() -> None:
    """`_TYPED` (one pattern per first character) matches exactly what an implicit type takes."""
    resolver = yaml_fast._FastLoader("")
    words = ["true", "True", "yes", "no", "on", "Off", "n", "y", "null", "~", "1", "012", "0x1f",
             "1.5", ".5", "1e3", "+1", "2023-01-01", "2023-01-01 10:00:00", "tree", "trueish",
             "nothing", "1_000", "190:20:30", ".inf", ".NaN", "<<", "=", "2023/a", "0b101"]  # fmt: skip
    for word in words:
        tag = resolver.resolve(yaml.ScalarNode, word, (True, False))
        pattern = yaml_fast._TYPED.get(word[0])
        assert (pattern is not None and bool(pattern.match(word))) == (tag != yaml_fast._STR_TAG)
