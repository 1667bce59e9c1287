"""`docs/architecture.md` stays true: every file and test it names exists, and the checklists whose
last step is documentation are checked here (augmentations, formats, task types, zoo models)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "architecture.md").read_text()


def _word(name: str, text: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def test_every_path_and_test_named_exists() -> None:
    refs = set(re.findall(r"`((?:src|tests|docs)/[^`:\s]+)(?:::(\w+))?`", PAGE))
    assert len(refs) > 20
    missing = []
    for path, test in sorted(refs):
        file = ROOT / path
        if not file.exists():
            missing.append(path)
        elif test:
            names = {
                n.name
                for n in ast.walk(ast.parse(file.read_text()))
                if isinstance(n, ast.FunctionDef)
            }
            if test not in names:
                missing.append(f"{path}::{test}")
    assert missing == []


def test_every_augmentation_is_documented() -> None:
    from deephealth.ecvl.augment.base import REGISTRY

    text = (ROOT / "docs" / "augmentations.md").read_text()
    assert [name for name in REGISTRY if not _word(name, text)] == []


def test_every_format_is_documented_and_tested() -> None:
    from deephealth.ecvl.io import FORMATS

    doc = (ROOT / "docs" / "ecvl.md").read_text().lower()
    tests = {p.name for p in (ROOT / "tests" / "ecvl").glob("test_io_*.py")}
    for fmt in FORMATS:
        assert fmt.name in doc or any(e.lstrip(".") in doc for e in fmt.extensions), fmt.name
        stem = fmt.module.rsplit(".", 1)[-1].removesuffix("_io")
        assert f"test_io_{stem}.py" in tests, fmt.name


def test_every_task_type_is_documented_and_tested() -> None:
    from deephealth.pipelines.tasks import TASKS

    doc = (ROOT / "docs" / "pipelines.md").read_text()
    tests = "".join(p.read_text() for p in (ROOT / "tests" / "pipelines").glob("test_*.py"))
    for name in TASKS:
        assert re.search(rf"^\| {name}\b", doc, re.M), f"no row for {name} in docs/pipelines.md"
        assert name in tests, f"no pipeline test mentions {name}"


def test_every_zoo_model_is_documented() -> None:
    from deephealth.eddl import zoo

    doc = (ROOT / "docs" / "pipelines.md").read_text().lower().replace("-", "")
    assert [m for m in zoo.list_models() if m.replace("_bn", "") not in doc] == []
