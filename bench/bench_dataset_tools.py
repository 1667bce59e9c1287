"""Big-dataset tooling (issue #14 item 7): `deephealth dataset generate`, loading and `describe`
on folders of 100,000+ files, each in a fresh process (wall time and peak RSS).

The files are empty placeholders named like images (the tools read names, not pixels; `describe`
then reports the first image as undecodable, which is timed too).

Usage: python bench/bench_dataset_tools.py [--files 100000] [--out bench/results/dataset_tools.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_LOAD = (
    "import sys, time; t = time.process_time(); import deephealth.ecvl as ecvl; "
    "t1 = time.process_time(); d = ecvl.Dataset(sys.argv[1]); "
    "print(len(d.samples_), t1 - t, time.process_time() - t1)"
)


def _timed(cmd: list[str]) -> tuple[float, float, float, int, str]:
    """Wall seconds, CPU seconds (user + system), peak RSS MB (of the child, from GNU time),
    exit code and standard output of ``cmd``."""
    t = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t
    user, system, peak_kb = done.stderr.strip().splitlines()[-1].split()
    return wall, float(user) + float(system), int(peak_kb) / 1024, done.returncode, done.stdout


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5, help="runs per step (medians reported)")
    ap.add_argument("--out", default="bench/results/dataset_tools.md")
    args = ap.parse_args()
    cli = str(Path(sys.executable).with_name("deephealth"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "tree")
        for c in ("benign", "malignant"):
            d = root / "training" / c
            d.mkdir(parents=True)
            for i in range(args.files // 2):
                (d / f"{i:06d}.png").touch()
        yml = str(Path(tmp, "big.yml"))
        rows = [
            ("dataset generate", [cli, "dataset", "generate", "classification", "--root",
                                  str(root), "-o", yml]),
            ("Dataset(yml) load", [sys.executable, "-c", _LOAD, yml]),
            ("dataset describe", [cli, "dataset", "describe", yml]),
        ]  # fmt: skip
        lines = [
            f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at start; {args.files:,} files",
            "",
            f"medians of {args.rounds} runs, each in a fresh process",
            "",
            "| step | wall s (incl. interpreter start) | process CPU s | of which import s | "
            "`Dataset()` CPU s | peak RSS MB | load avg | exit |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, cmd in rows:
            runs = [_timed(cmd) for _ in range(args.rounds)]
            wall, cpu, peak = (_median([r[k] for r in runs]) for k in range(3))
            code = max(r[3] for r in runs)
            inner = ["", ""]
            if name.startswith("Dataset"):  # the child's own split: import, then Dataset()
                parts = [r[4].split() for r in runs if r[3] == 0]
                inner = [f"{_median([float(p[k]) for p in parts]):.2f}" for k in (1, 2)]
            lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {inner[0]} | {inner[1]} | "
                         f"{peak:.0f} | {os.getloadavg()[0]:.1f} | {code} |")  # fmt: skip
            print(lines[-1], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
