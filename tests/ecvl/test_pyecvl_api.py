"""Every name of pyecvl's documented API exists in deephealth.ecvl with a compatible signature.

``pyecvl_api.json`` lists the names of pyecvl's API reference (``docs/source/api/ecvl.rst`` of
deephealthproject/pyecvl) with the parameters of each function, constructor and method as pyecvl
documents them. A call written for pyecvl must bind here: every positional argument it may pass has
a place, every keyword it may use is accepted, and nothing more is required. Deliberate differences
are listed in ``docs/pyeddl-migration.md`` (ECVL section) and in ``ALLOWED`` below.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

import deephealth.ecvl as ecvl

API = json.loads((Path(__file__).with_name("pyecvl_api.json")).read_text())["names"]

# (name, member) pairs whose signature differs on purpose; see docs/pyeddl-migration.md
ALLOWED: set[tuple[str, str]] = {
    ("DLDataset", "ProduceImageLabel"),  # ECVL's worker internals: the loader engine is pipeline.py
    ("DLDataset", "ThreadFunc"),
}

EXTRA_NAMES = [  # pyecvl names outside the API reference that its examples and tests use
    "ECVL_EDDL", "ECVL_WITH_DICOM", "ECVL_WITH_OPENSLIDE", "View_int8", "View_int16",
    "View_float32", "View_uint8", "TensorToView", "ProducersConsumerQueue", "ThreadCounters",
]  # fmt: skip


def _incompatibility(ours: Any, theirs: list[dict], what: str) -> str | None:
    try:
        sig = inspect.signature(ours)
    except (TypeError, ValueError):
        return None  # builtins without signature: accepted
    ps = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    var_pos = any(p.kind is p.VAR_POSITIONAL for p in ps)
    var_kw = any(p.kind is p.VAR_KEYWORD for p in ps)
    positional = [p for p in ps if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = {p.name for p in ps} | {p.name.rstrip("_") for p in ps}
    upstream = [t for t in theirs if not t["name"].startswith("*")]
    if len(upstream) > len(positional) and not var_pos:
        return f"{what}: takes {len(positional)} positional arguments, pyecvl {len(upstream)}"
    for t in upstream:
        if not var_kw and t["name"] not in names and t["name"].rstrip("_") not in names:
            return f"{what}: no parameter {t['name']!r} (ours: {[p.name for p in ps]})"
    required = [p for p in positional if p.default is p.empty]
    n_up_required = sum(t["required"] for t in upstream)
    if len(required) > n_up_required and not any(t["name"].startswith("*") for t in theirs):
        return f"{what}: requires {len(required)} arguments, pyecvl {n_up_required}"
    return None


def _cases() -> list[tuple[str, str]]:
    out = []
    for name, entry in sorted(API.items()):
        out.append((name, ""))
        if entry["kind"] == "class":
            out += [(name, m) for m in sorted(entry["methods"])]
    return out


def test_the_list_is_pyecvls_whole_reference() -> None:
    assert len(API) == 118 and {"Image", "DLDataset", "AugRotate", "MetaData"} <= set(API)


@pytest.mark.parametrize("name", EXTRA_NAMES)
def test_names_pyecvl_scripts_use(name: str) -> None:
    assert hasattr(ecvl, name), name


@pytest.mark.parametrize("name,member", _cases(), ids=lambda v: v or "-")
def test_documented_name_is_compatible(name: str, member: str) -> None:
    assert name in ecvl.__all__, f"{name} missing from deephealth.ecvl"
    obj = getattr(ecvl, name)
    entry = API[name]
    if (name, member) in ALLOWED:
        pytest.skip("deliberate difference, see docs/pyeddl-migration.md")
    if not member:
        if entry["kind"] == "function":
            assert callable(obj)
            problem = _incompatibility(obj, entry["params"], name)
        else:
            assert isinstance(obj, type), f"{name} is not a class"
            problem = None
            if entry["init"] is not None:
                problem = _incompatibility(obj, entry["init"], f"{name}()")
        assert problem is None, problem
        return
    assert hasattr(obj, member), f"{name}.{member} missing"
    problem = _incompatibility(getattr(obj, member), entry["methods"][member], f"{name}.{member}")
    assert problem is None, problem
