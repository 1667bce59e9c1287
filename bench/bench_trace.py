"""The trace viewer's server side on a long recording: a 24 h, 23-channel, 256 Hz EDF+ (1 GB on
disk, 2 GB as float32 samples), written block by block with pyedflib (``bench_signals.write_eeg``).

Measured in a fresh process each (max RSS over a bare-import baseline), as the server runs them:
1. the overview build (block min/max at 64 and 4096 samples; one streaming pass) and its size;
2. views at width 1500 columns: the whole 24 h, 1 h, 5 min (answered from the overview) and 10 s
   (read directly), each repeated; time per view and peak memory of all views.

Run: ``PYTHONPATH=src python bench/bench_trace.py [--hours 24] [--file path.edf]``; results as
JSON on stdout (``bench/RESULTS.md`` has a quiet-machine run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_signals import CH, FS, write_eeg

BUILD = """
import resource, sys, time
from deephealth.ecvl.signal import SignalOpen
from deephealth.ecvl.signal.display import TraceOverview
t = time.perf_counter()
with SignalOpen(sys.argv[1]) as f:
    TraceOverview.build(f, sys.argv[2])
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""
VIEWS = """
import json, resource, sys, time
from deephealth.ecvl.signal import SignalOpen
from deephealth.ecvl.signal.display import TraceOverview, envelope
ov = TraceOverview(sys.argv[2])
out = {}
with SignalOpen(sys.argv[1]) as f:
    for name, start, span in [("24 h", 0, 86400), ("1 h", 36000, 3600), ("5 min", 40000, 300),
                              ("10 s", 40100, 10)]:
        times = []
        for k in range(5):
            t = time.perf_counter()
            e = envelope(f, start + k, start + k + span, 1500, overview=ov)
            times.append(time.perf_counter() - t)
        out[name] = {"ms": sorted(times)[2] * 1000, "json_kb": len(json.dumps(e)) / 1e3}
out["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(out))
"""
BASE = """
import resource
import deephealth.ecvl.signal.display, deephealth.ecvl.signal
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def _run(code: str, *args: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, check=True).stdout  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--file", default="", help="keep/reuse the EDF here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-trace-"))
    path = Path(args.file) if args.file else tmp / "long.edf"
    t = time.perf_counter()
    if not path.exists():
        write_eeg(path, args.hours, seed=2)
    write_s = time.perf_counter() - t
    base = int(_run(BASE))
    ov = tmp / "overview"
    build_s, build_rss = (float(v) for v in _run(BUILD, str(path), str(ov)).split())
    views = json.loads(_run(VIEWS, str(path), str(ov)))
    ov_mb = sum(p.stat().st_size for p in ov.iterdir()) / 1e6
    res = {
        "recording": {"hours": args.hours, "channels": CH, "fs": FS,
                      "file_mb": path.stat().st_size / 1e6,
                      "float32_mb": CH * FS * args.hours * 3600 * 4 / 1e6, "write_s": write_s},
        "overview": {"build_s": build_s, "size_mb": ov_mb,
                     "build_rss_over_baseline_mb": (build_rss - base) / 1e6},
        "views_width_1500": {k: v for k, v in views.items() if k != "peak_rss"},
        "views_rss_over_baseline_mb": (views["peak_rss"] - base) / 1e6,
    }  # fmt: skip
    print(json.dumps(res, indent=2))
    if not args.file:
        path.unlink()
    for p in ov.iterdir():
        p.unlink()
    ov.rmdir()
    tmp.rmdir()


if __name__ == "__main__":
    main()
