"""A serve-only process: no torch, no deephealth.eddl, fast start, onnxruntime's memory only."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SERVE = """
import json, sys
def peak_kb():  # VmHWM: this process's own peak (ru_maxrss would include the parent's)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
import numpy as np
from deephealth.serving import InferenceSession
out = InferenceSession(sys.argv[1], threads=1).run(np.zeros((3, 4, 4), np.float32))
print(json.dumps({"modules": sorted(sys.modules), "shape": list(out.shape),
                  "rss_kb": peak_kb()}))
"""

DIRECT = """
import json, sys
def peak_kb():  # VmHWM: this process's own peak (ru_maxrss would include the parent's)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
import numpy as np
import onnxruntime as ort
opts = ort.SessionOptions(); opts.intra_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], opts, providers=["CPUExecutionProvider"])
s.run(None, {"x": np.zeros((1, 3, 4, 4), np.float32)})
print(json.dumps({"rss_kb": peak_kb()}))
"""


def _run(code: str, model: Path) -> tuple[dict, float, float]:
    """The child's JSON report, its wall time and its CPU time (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(model)], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(proc.stdout), wall, cpu


def test_serving_imports_neither_torch_nor_eddl(classifier: Path) -> None:
    info, _, _ = _run(SERVE, classifier)
    assert info["shape"] == [5]
    heavy = [m for m in info["modules"] if m.split(".")[0] in ("torch", "onnx", "onnxscript")]
    assert heavy == []
    assert not [m for m in info["modules"] if m.startswith("deephealth.eddl")]


def test_serve_only_process_starts_within_half_a_second(classifier: Path) -> None:
    """Start, import, load, answer: 0.5 s of CPU (wall time too, unless the machine is shared by
    other work: then only the CPU time is asserted, which contention does not inflate)."""
    runs = [_run(SERVE, classifier) for _ in range(3)]
    cpu = min(r[2] for r in runs)
    wall = min(r[1] for r in runs)
    assert cpu <= 0.5, f"serve-only process used {cpu:.2f} s of CPU (best of 3)"
    if os.getloadavg()[0] < 1.0:
        assert wall <= 0.5, f"serve-only process took {wall:.2f} s (best of 3)"


def test_memory_is_onnxruntimes_own(classifier: Path) -> None:
    ours = _run(SERVE, classifier)[0]["rss_kb"]
    direct = _run(DIRECT, classifier)[0]["rss_kb"]
    assert ours <= direct + 8 * 1024, f"serving peak RSS {ours} kB vs onnxruntime alone {direct} kB"
