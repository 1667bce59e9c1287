"""Biosignal I/O and windowing benchmarks (deephealth.ecvl.signal vs pyedflib and MNE directly).

1. EDF read throughput (samples/s) of a 23-channel 256 Hz EEG: ``SignalRead`` vs pyedflib's
   ``EdfReader.readSignal`` per channel vs ``mne.io.read_raw_edf(preload=True)``; goal ≥ 0.95× the
   faster reference.
2. Window loader throughput (windows/s): ``WindowsDataset.sequential`` vs an MNE/braindecode-style
   windows dataset with the same windowing (``mne.make_fixed_length_epochs``, lazy, iterated per
   window as braindecode's lazy ``WindowsDataset`` reads them; and preloaded ``get_data``), 2 s
   windows every 1 s, no filter, float32 out; goal ≥ 1.5×.
3. Peak memory (max RSS of a fresh process) streaming every window of a 24 h 23-channel 256 Hz
   recording, against the file's size: bounded by one block and one batch.

Run: ``PYTHONPATH=src python bench/bench_signals.py [--hours 1] [--long-hours 24] [--rounds 3]``.
Interleaved rounds, medians; the machine is shared, so read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CH, FS = 23, 256


def write_eeg(path: Path, hours: float, seed: int = 0, block_s: int = 600) -> None:
    """A 23-channel EEG-like EDF+ (pink-ish noise, µV), written block by block (bounded memory)."""
    import pyedflib

    names = [f"EEG {i:02d}" for i in range(CH)]
    w = pyedflib.EdfWriter(str(path), CH, pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders([{"label": n, "dimension": "uV", "sample_frequency": FS, "physical_min": -3276.8,
                         "physical_max": 3276.7, "digital_min": -32768, "digital_max": 32767,
                         "transducer": "", "prefilter": ""} for n in names])  # fmt: skip
    rng = np.random.default_rng(seed)
    total = int(hours * 3600)
    for s in range(0, total, block_s):
        n = min(block_s, total - s) * FS
        x = np.cumsum(rng.standard_normal((CH, n)), axis=1) * 0.5
        x -= x.mean(axis=1, keepdims=True)
        d = np.clip(np.rint(x * 10), -32768, 32767).astype(np.int32)
        w.writeSamples(list(d), digital=True)
    w.close()


def t_ours(path: str) -> float:
    from deephealth.ecvl.signal import SignalRead

    t = time.perf_counter()
    SignalRead(path)
    return time.perf_counter() - t


def t_pyedflib(path: str) -> float:
    import pyedflib

    t = time.perf_counter()
    r = pyedflib.EdfReader(path)
    [r.readSignal(i).astype(np.float32) for i in range(r.signals_in_file)]
    r.close()
    return time.perf_counter() - t


def t_mne(path: str) -> float:
    import mne

    t = time.perf_counter()
    mne.io.read_raw_edf(path, preload=True, verbose="error").get_data().astype(np.float32)
    return time.perf_counter() - t


def w_ours(path: str) -> tuple[float, int]:
    from deephealth.ecvl.signal.windows_dataset import WindowsDataset, WindowSpec

    t = time.perf_counter()
    ds = WindowsDataset([path], WindowSpec(2.0, 1.0, normalize="none"))
    n = sum(len(x) for x, _, _ in ds.sequential(256))
    ds.close()
    return time.perf_counter() - t, n


def w_mne_lazy(path: str, limit: int | None = None) -> tuple[float, int]:
    import mne

    t = time.perf_counter()
    raw = mne.io.read_raw_edf(path, preload=False, verbose="error")
    ep = mne.make_fixed_length_epochs(
        raw, duration=2.0, overlap=1.0, preload=False, verbose="error"
    )
    n = 0
    for x in ep:
        np.asarray(x, np.float32)
        n += 1
        if limit and n >= limit:
            break
    return time.perf_counter() - t, n


def w_mne_preload(path: str) -> tuple[float, int]:
    import mne

    t = time.perf_counter()
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    ep = mne.make_fixed_length_epochs(raw, duration=2.0, overlap=1.0, preload=True, verbose="error")
    x = ep.get_data().astype(np.float32)
    return time.perf_counter() - t, len(x)


PEAK = """
import resource, sys, numpy as np
from deephealth.ecvl.signal.windows_dataset import WindowsDataset, WindowSpec
ds = WindowsDataset([sys.argv[1]], WindowSpec(2.0, 1.0, bandpass=(0.5, 40.0), notch=50.0))
n = 0
for x, y, i in ds.sequential(256):
    n += len(x)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(n, int(hwm) * 1024)
"""
# VmHWM (not ru_maxrss, which Linux carries over from the forking parent across exec)
BASE = (
    "import deephealth.ecvl.signal.windows_dataset, scipy.signal;"
    "print(int([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]) * 1024)"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=1.0, help="recording for the throughput tests")
    ap.add_argument(
        "--long-hours", type=float, default=24.0, help="recording for the memory test (0: skip)"
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    ap.add_argument(
        "--long-file", type=Path, help="reuse (or keep) the long recording at this path"
    )
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_signals_"))
    res: dict = {"hours": args.hours, "channels": CH, "fs": FS}
    if not args.skip_throughput:
        throughput(tmp / "eeg.edf", args, res)
    if args.long_hours > 0:
        long_memory(args.long_file or tmp / "long.edf", args, res)
    print(json.dumps(res, indent=2))
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))


def throughput(path: Path, args: argparse.Namespace, res: dict) -> None:
    """Sections 1 and 2."""
    write_eeg(path, args.hours)
    samples = CH * FS * args.hours * 3600
    res["file_mb"] = path.stat().st_size / 1e6
    t_ours(str(path)), t_pyedflib(str(path)), t_mne(str(path))  # warm-up (imports, page cache)
    rd: dict[str, list[float]] = {"deephealth": [], "pyedflib": [], "mne": []}
    for _ in range(args.rounds):
        rd["deephealth"].append(t_ours(str(path)))
        rd["pyedflib"].append(t_pyedflib(str(path)))
        rd["mne"].append(t_mne(str(path)))
    res["read_msamples_per_s"] = {k: samples / statistics.median(v) / 1e6 for k, v in rd.items()}
    best = max(res["read_msamples_per_s"]["pyedflib"], res["read_msamples_per_s"]["mne"])
    res["read_ratio_vs_faster"] = res["read_msamples_per_s"]["deephealth"] / best
    wd: dict[str, list[float]] = {"deephealth": [], "mne_lazy": [], "mne_preload": []}
    w_ours(str(path))
    lazy_n = 2000
    for _ in range(args.rounds):
        t, n = w_ours(str(path))
        wd["deephealth"].append(n / t)
        t, m = w_mne_lazy(str(path), lazy_n)
        wd["mne_lazy"].append(m / t)
        t, m = w_mne_preload(str(path))
        wd["mne_preload"].append(m / t)
        assert m == n, (m, n)
    res["windows"] = n
    res["windows_per_s"] = {k: statistics.median(v) for k, v in wd.items()}
    res["windows_ratio_vs_lazy"] = (
        res["windows_per_s"]["deephealth"] / res["windows_per_s"]["mne_lazy"]
    )
    res["windows_ratio_vs_preload"] = (
        res["windows_per_s"]["deephealth"] / res["windows_per_s"]["mne_preload"]
    )
    os.remove(path)


def long_memory(long: Path, args: argparse.Namespace, res: dict) -> None:
    """Section 3."""
    if not long.exists():
        write_eeg(long, args.long_hours, seed=1)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PEAK, str(long)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    n, peak = (int(v) for v in out.stdout.split())
    base = int(
        subprocess.run(
            [sys.executable, "-c", BASE], capture_output=True, text=True, env=env, check=True
        ).stdout
    )
    res["long"] = {"hours": args.long_hours, "file_mb": long.stat().st_size / 1e6, "float32_mb": CH * FS * args.long_hours * 3600 * 4 / 1e6,
                   "windows": n, "seconds": time.perf_counter() - t, "peak_rss_mb": peak / 1e6,
                   "baseline_rss_mb": base / 1e6, "loader_mb": (peak - base) / 1e6}  # fmt: skip
    if not args.long_file:
        os.remove(long)


if __name__ == "__main__":
    main()
