"""Hostile dataset and config YAML (issue #13): alias bombs, deep nesting, foreign encodings, size.

Each must fail fast, in bounded memory, with an error naming the file and the cause, through the
Python API, the pipeline config loader and `deephealth dataset validate` (a new process, exit 2).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
def test_python_api_clear_error(files, name, peak_rss):
    with pytest.raises(DatasetLimitError) as info:
        ecvl.Dataset(files / name)
    assert str(files / name) in str(info.value) and CASES[name][1] in str(info.value)
    assert isinstance(info.value, DatasetSyntaxError)  # existing handlers still catch it
    issues = ecvl.ValidateDataset(files / name, check_images=False)
    assert [i.code for i in issues] == ["limit"] and CASES[name][1] in issues[0].message
    assert peak_rss.growth_mb() < 64


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


@pytest.mark.parametrize("key", ["classes", "features", "images", "patients", "split"])
def test_null_sections_are_format_errors_at_their_key(tmp_path, key):
    """Fuzz finding (seed 7): `classes:` with no value raised TypeError while checking duplicates."""
    p = tmp_path / "null.yml"
    p.write_text(f"name: n\nimages: [a.png]\n{key}:\n" if key != "images" else "name: n\nimages:\n")
    with pytest.raises(ecvl.DatasetError) as info:
        ecvl.Dataset(p)
    line = 2 if key == "images" else 3
    assert f"{p}:{line}:1: error:" in str(info.value) or f"{p}:1:1: error:" in str(info.value)


STREAM_CASES = [
    "a: 1\nb: [x, 'y', 2.5, null, true, 0x1f, 017, 1_000, 2001-12-14, !!str 3]\n",
    "c: &c {k: [1, 2]}\nd: *c\ne: &e [*c, *c]\n",
    "m: &m {a: 1}\nn: {<<: *m, b: 2}\n",
    "? [a, b]\n: 1\n",
    "dup: 1\ndup: 2\nk: {x: 1, x: 2}\n",
    "r: &r [*r]\n",
    "s: !!set {a, b}\n",
    "t: !!python/object:os.system x\n",
    "u: *nope\n",
    "--- a\n--- b\n",
]


@pytest.mark.parametrize("text", STREAM_CASES)
def test_event_loader_matches_the_reference_loader(text):
    """The libyaml event builder gives the pure-Python loader's values, positions and errors."""
    from deephealth.ecvl.dataset import yaml_lines

    def outcome(fn):
        try:
            return "ok", _flat(fn())
        except Exception as e:  # compared, not swallowed
            return "error", type(e).__name__

    def _flat(v, depth=0):
        if depth > 5:
            return "..."
        if isinstance(v, dict):
            kp = sorted(getattr(v, "key_pos", {}).values())
            dups = list(getattr(v, "duplicates", []))
            items = sorted((repr(k), _flat(x, depth + 1)) for k, x in v.items())
            return ("map", getattr(v, "line", 0), getattr(v, "col", 0), kp, dups, items)
        if isinstance(v, list):
            return ("seq", v.line, v.col, [_flat(x, depth + 1) for x in v])
        return (type(v).__name__, repr(v), getattr(v, "line", 0), getattr(v, "col", 0))

    ref = outcome(lambda: yaml.load(text, Loader=yaml_lines._Loader))
    got = outcome(lambda: load(text, "t.yml"))
    if ref[0] == "error":
        assert got[0] == "error" and got[1] in ("DatasetSyntaxError", "DatasetLimitError")
    else:
        assert got == ref


def _bench():
    """bench/bench_limits.py (its input generators)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_limits", ROOT / "bench" / "bench_limits.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ten_megabyte_dataset_validates_in_bounded_memory(tmp_path):
    """Issue #13's CLI goal: a 10 MB dataset YAML (with an anchor, so not the old libyaml-only
    path) validates in a fresh process with peak RSS under 256 MB above the interpreter's."""
    p = tmp_path / "big.yml"
    p.write_text(_bench().ten_mb_dataset(), encoding="utf-8")
    assert 9e6 < p.stat().st_size <= 10e6
    # VmHWM: the child's own peak (ru_maxrss would inherit the pytest parent's through exec)
    code = (
        "import sys,time;import deephealth.ecvl as ecvl;"
        "hwm=lambda:int([x for x in open('/proc/self/status') if x.startswith('VmHWM')][0].split()[1]);"
        "b=hwm();t=time.time();"
        "i=ecvl.ValidateDataset(sys.argv[1],check_images=False);"
        "print(len(i),time.time()-t,(hwm()-b)/1024)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True,
                       env=env, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    n, seconds, rise_mb = r.stdout.split()
    assert int(n) > 0 and float(rise_mb) < 256, r.stdout
