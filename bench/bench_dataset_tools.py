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
    "import sys, time; t = time.perf_counter(); import deephealth.ecvl as ecvl; "
    "d = ecvl.Dataset(sys.argv[1]); print(len(d.samples_), time.perf_counter() - t)"
)


def _timed(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS MB (of the child, from GNU time) and exit code of ``cmd``."""
    t = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return wall, peak_kb / 1024, done.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=100_000)
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
            "| step | wall s (incl. interpreter start) | peak RSS MB | exit |",
            "|---|---|---|---|",
        ]
        for name, cmd in rows:
            wall, peak, code = _timed(cmd)
            lines.append(f"| {name} | {wall:.1f} | {peak:.0f} | {code} |")
            print(lines[-1], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
