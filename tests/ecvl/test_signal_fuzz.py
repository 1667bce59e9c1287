"""A few hundred mutated EDF files, read in a subprocess with CPU-time and memory limits: each
either reads or raises SignalReadError naming the file (no other exception, no hang, no crash)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pyedflib = pytest.importorskip("pyedflib")
SRC = Path(pyedflib.__file__).parent / "tests" / "data" / "test_generator.edf"


def test_mutated_edfs_fail_cleanly(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = Path(__file__).with_name("_signal_fuzz_worker.py")
    proc = subprocess.run([sys.executable, str(worker), str(SRC), str(tmp_path), "300", "7"],
                          capture_output=True, text=True, timeout=240, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["crashes"] == []
    assert res["ok"] + res["errors"] == 300 and res["errors"] > 50
