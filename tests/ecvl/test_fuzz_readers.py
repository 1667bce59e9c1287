"""Mutation fuzzing of the readers with a bounded budget (the long campaign: scripts/fuzz_readers.py).

Seeded mutations of real files go to ImRead (PNG, JPEG, TIFF, DICOM, NIfTI), a DICOM series,
the dataset YAML loader, the ONNX importer and anonymize, each run in a forked child with memory,
CPU and wall-time limits: no hang, no crash, no exception outside the reader's documented types,
and no anonymized output holding an original identifying value.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fuzz_readers.py"
BUDGET = int(os.environ.get("DEEPHEALTH_FUZZ_BUDGET", "60"))  # per reader: 540 in all


def _fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_readers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_readers_survive_mutations(tmp_path):
    fuzz = _fuzz()
    results = fuzz.run(BUDGET, fuzz.READERS, seed=13, out=tmp_path, log=lambda _: None)
    assert set(results) == set(fuzz.READERS)
    for name, r in results.items():
        bad = {k: r[k] for k in ("undocumented", "crash", "hang", "leak") if r[k]}
        assert not bad, f"{name}: {bad} {r['failures'][:3]}"
        assert r["ok"] + r["documented"] == BUDGET
    # The mutations reach past the first check: some files still read, others fail in depth.
    assert sum(r["ok"] for r in results.values()) > BUDGET
    assert len({t for r in results.values() for t in r["documented_types"]}) >= 4


def test_mutations_are_seeded():
    import random

    fuzz = _fuzz()
    data = bytes(range(256)) * 4
    a = [fuzz.mutate(data, random.Random("s")) for _ in range(1)]
    b = [fuzz.mutate(data, random.Random("s")) for _ in range(1)]
    assert a == b and a[0] != data
