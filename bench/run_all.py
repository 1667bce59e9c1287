"""Run every benchmark in bench/ (one after the other) and assemble bench/RESULTS.md.

Each `bench_<topic>.py` writes its section to `bench/results/<topic>.md`; this script runs them
(unless `--assemble-only`) and concatenates the sections under a header with the date and machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    """A one-line description of this machine."""
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"


def assemble() -> Path:
    """Write bench/RESULTS.md from bench/results/*.md."""
    sections = sorted((HERE / "results").glob("*.md"))
    head = [
        "# Benchmark results",
        "",
        f"Assembled {datetime.date.today().isoformat()} on {machine()}. Machines are shared and "
        "noisy: read the ratios (peer measured interleaved in the same run, same threads), not "
        "the absolute times. Each section names its own date and machine.",
        "",
    ]
    body = [s.read_text().strip() + "\n" for s in sections]
    out = HERE / "RESULTS.md"
    out.write_text("\n".join(head) + "\n" + "\n".join(body))
    return out


def main() -> int:
    """Run the benchmarks, then assemble the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assemble-only", action="store_true")
    parser.add_argument("--only", nargs="*", help="topics to run, e.g. loader onnx")
    args = parser.parse_args()
    failed = []
    if not args.assemble_only:
        for script in sorted(HERE.glob("bench_*.py")):
            topic = script.stem.removeprefix("bench_")
            if args.only and topic not in args.only:
                continue
            print(f"== {script.name}", flush=True)
            if subprocess.run([sys.executable, str(script)]).returncode != 0:
                failed.append(script.name)
    print(f"wrote {assemble()}")
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
