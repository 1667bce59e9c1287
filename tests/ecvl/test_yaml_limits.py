"""Hostile dataset and config YAML (issue #13): alias bombs, deep nesting, foreign encodings, size.

Each must fail fast, in bounded memory, with an error naming the file and the cause, through the
Python API, the pipeline config loader and `deephealth dataset validate` (a new process, exit 2).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import deephealth.ecvl as ecvl
from deephealth.ecvl.dataset import DatasetLimitError, DatasetSyntaxError, yaml_limits
from deephealth.ecvl.dataset.yaml_lines import load
from deephealth.pipelines.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def alias_bomb(levels: int = 7) -> str:
    """The 449-byte bomb of the issue: each anchor lists the previous one ten times."""
    lines = ["a0: &a0 [x]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, levels + 1)]
    return "\n".join([*lines, f"classes: *a{levels}", "images: []"]) + "\n"


CASES = {
    "bomb.yml": (alias_bomb().encode(), "alias"),
    "deep.yml": (b"images: " + b"[" * 20000, "nested deeper"),
    "latin1.yml": ("name: caf\xe9\nimages: []\n".encode("latin-1"), "not UTF-8 text: byte 0xe9"),
    "utf16_no_bom.yml": ("name: x\nimages: []\n".encode("utf-16-le"), "byte order mark"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("yaml")
    for name, (data, _) in CASES.items():
        (d / name).write_bytes(data)
    return d


@pytest.mark.parametrize("name", sorted(CASES))
def test_python_api_clear_error(files, name):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DatasetLimitError) as info:
        ecvl.Dataset(files / name)
    assert str(files / name) in str(info.value) and CASES[name][1] in str(info.value)
    assert isinstance(info.value, DatasetSyntaxError)  # existing handlers still catch it
    issues = ecvl.ValidateDataset(files / name, check_images=False)
    assert [i.code for i in issues] == ["limit"] and CASES[name][1] in issues[0].message
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 64


def test_bomb_is_small_and_fails_at_its_line():
    assert len(alias_bomb()) < 500
    with pytest.raises(DatasetLimitError) as info:
        load(alias_bomb(), "bomb.yml")
    assert info.value.line == 6 and "expand to more than" in info.value.cause


def test_utf16_and_utf8_bom_are_decoded(tmp_path):
    for enc in ("utf-16", "utf-8-sig", "utf-32"):
        p = tmp_path / f"{enc}.yml"
        p.write_bytes("name: café\nclasses: [a]\nimages: []\n".encode(enc))
        ds = ecvl.Dataset(p)
        assert ds.name_ == "café" and ds.classes_ == ["a"]


def test_size_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(yaml_limits, "MAX_BYTES", 1000)
    p = tmp_path / "big.yml"
    p.write_text("images:\n" + "  - a.png\n" * 200)
    with pytest.raises(DatasetLimitError, match="larger than 1000 bytes"):
        ecvl.Dataset(p)


def test_plain_aliases_still_work(tmp_path):
    p = tmp_path / "ok.yml"
    p.write_text("classes: &c [a, b]\nfeatures: *c\nimages: [{location: x.png, label: a}]\n")
    ds = ecvl.Dataset(p)
    assert ds.classes_ == ds.features_ == ["a", "b"]


def test_pipeline_config_bomb(files):
    for name in ("bomb.yml", "deep.yml", "latin1.yml"):
        with pytest.raises(ConfigError) as info:
            load_config(files / name)
        assert str(files / name) in str(info.value) and CASES[name][1] in str(info.value)


def test_cli_validate_exit_2_one_line(files):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    for name in ("bomb.yml", "deep.yml"):
        p = subprocess.run(
            [sys.executable, "-m", "deephealth.cli", "dataset", "validate", str(files / name)],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
        assert p.returncode == 2, p.stderr
        (line,) = p.stdout.splitlines()
        assert line.startswith(str(files / name)) and CASES[name][1] in line
        assert "Traceback" not in p.stderr
