"""The `>>>` examples in the docstrings of `src/deephealth` run as doctests.

Every module whose source holds `>>>` is imported and its examples run (with ELLIPSIS and
NORMALIZE_WHITESPACE); modules without examples are not imported, so this stays fast.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules_with_examples() -> list[str]:
    out = []
    for path in sorted((SRC / "deephealth").rglob("*.py")):
        if ">>>" in path.read_text():
            parts = list(path.relative_to(SRC).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out.append(".".join(parts))
    return out


MODULES = _modules_with_examples()


def test_examples_are_found() -> None:
    assert "deephealth.errors" in MODULES and len(MODULES) >= 5


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, report=True)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
