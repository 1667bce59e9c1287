"""Every public name of pyeddl's documented API exists here with a compatible signature.

`data/pyeddl_api.json` lists the names of pyeddl's API reference (`eddl` functions, `Tensor`
methods) with their parameters (name, has a default). A name is compatible when a call written for
pyeddl binds here: the same positional parameters fit, and every parameter pyeddl gives a default
(so scripts pass it by keyword) is accepted by name. Deliberate differences are the names listed in
`docs/pyeddl-migration.md` under "Not provided"; the test checks that list and the code agree.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest

import deephealth.eddl as eddl
from deephealth.eddl import Tensor

ROOT = Path(__file__).resolve().parents[2]
API = json.loads((Path(__file__).parent / "data" / "pyeddl_api.json").read_text())
DOC = (ROOT / "docs" / "pyeddl-migration.md").read_text()


def _not_provided() -> set[str]:
    section = DOC.split("### Not provided", 1)[1].split("\n## ", 1)[0]
    first_cells = re.findall(r"^\|([^|]*)\|", section, re.M)
    return {name for cell in first_cells for name in re.findall(r"`([A-Za-z_0-9]+)`", cell)}


NOT_PROVIDED = _not_provided()


def _incompatibility(func: object, params: list[list], skip_first: bool = False) -> str | None:
    """Why a pyeddl call with `params` would not bind to `func` (None when it binds)."""
    sig = inspect.signature(func)
    ours = list(sig.parameters.values())
    if skip_first:
        ours = ours[1:]
    kinds = inspect.Parameter
    var_pos = any(p.kind == kinds.VAR_POSITIONAL for p in ours)
    var_kw = any(p.kind == kinds.VAR_KEYWORD for p in ours)
    positional = [p for p in ours if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
    if not var_pos and len(positional) < len(params):
        return f"takes {len(positional)} positional parameters, pyeddl {len(params)}"
    required_here = [
        p.name
        for p in ours
        if p.default is p.empty and p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
    ]
    required_there = sum(1 for _, has_default in params if not has_default)
    if len(required_here) > required_there:
        return f"requires {required_here}, pyeddl only {required_there} argument(s)"
    names = {p.name for p in ours}
    for i, (name, has_default) in enumerate(params):
        if has_default and name not in names and not var_kw:
            return f"has no keyword parameter {name!r} (pyeddl's parameter {i + 1})"
    return None


@pytest.mark.parametrize("name", sorted(API["eddl"]))
def test_eddl_function(name: str) -> None:
    if name in NOT_PROVIDED:
        assert not hasattr(eddl, name), f"{name} exists: remove it from 'Not provided'"
        return
    assert hasattr(eddl, name), f"pyeddl's eddl.{name} is missing (or list it under 'Not provided')"
    problem = _incompatibility(getattr(eddl, name), API["eddl"][name])
    assert problem is None, f"eddl.{name} {problem}"


@pytest.mark.parametrize("name", sorted(API["tensor"]))
def test_tensor_method(name: str) -> None:
    spec = API["tensor"][name]
    assert hasattr(Tensor, name), f"pyeddl's Tensor.{name} is missing"
    raw = inspect.getattr_static(Tensor, name)
    is_static = isinstance(raw, (staticmethod, classmethod))
    if spec["static"]:
        assert is_static, f"Tensor.{name} is static in pyeddl (called as Tensor.{name}(...))"
        problem = _incompatibility(getattr(Tensor, name), spec["params"])
    else:
        assert not is_static, f"Tensor.{name} is an instance method in pyeddl"
        problem = _incompatibility(getattr(Tensor, name), spec["params"], skip_first=True)
    assert problem is None, f"Tensor.{name} {problem}"


def test_constants_and_list_size() -> None:
    assert eddl.DEV_CPU == 0 and eddl.DEV_GPU > 0
    assert len(API["eddl"]) > 200 and len(API["tensor"]) > 100  # the whole reference, not a sample
    assert NOT_PROVIDED, "the migration page lists what is not provided"
    assert NOT_PROVIDED <= set(API["eddl"]), "'Not provided' names a function pyeddl does not have"
