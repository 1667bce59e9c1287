"""Pipelines at scale: peak RSS and samples/s of `deephealth train`, streaming vs in-memory.

Part 1 generates N 256x256 grayscale PNGs on disk (two classes; 80 % training, 10 % validation,
10 % test) for each N of `--sizes` and trains one epoch of the same config on each, in a fresh
process per run, with the streaming path (`pipelines.stream`, what `deephealth train` runs) and,
interleaved with it, the former in-memory path (`pipelines.inmemory.in_memory()`, every split
decoded into float32 arrays first; kept only here and in the tests). It reports peak RSS, the
training epoch's samples/s and the wall time of the whole run.

Part 2 (`--demos`) times the three demo pipelines, streaming vs in-memory, interleaved: the nuclei
demo (real DSB2018, U-Net on patches), a Fashion-MNIST LeNet classification, and the Colin27 3D
brain demo, with their test metrics (same seed: the same values are expected).

Usage: python bench/bench_scale.py [--sizes 1000,5000,20000] [--model mobilenet]
       [--memory-max N] [--rounds 1] [--demos] [--demo-epochs 4] [--out bench/results/scale.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = """
import json, sys, time
cfg, run_dir, mode = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
from deephealth.pipelines.inmemory import in_memory
from deephealth.pipelines.run import train
t = time.perf_counter()
if mode == "memory":
    with in_memory():
        r = train(cfg, run_dir)
else:
    r = train(cfg, run_dir)
wall = time.perf_counter() - t
events = [json.loads(line) for line in open(run_dir + "/events.jsonl")]
epoch = [e for e in events if e["type"] == "epoch"][-1]
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(json.dumps({"peak_mb": int(hwm.split()[1]) / 1024,  # this process's own peak
                  "wall_s": wall, "epoch_s": epoch["time_s"], "kpis": r["kpis"],
                  "metrics": {k: v for k, v in r["metrics"].items() if isinstance(v, float)}}))
"""

_DEMO_CHILD = """
import json, sys, time
name, out, epochs, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
from deephealth.pipelines.inmemory import in_memory
from deephealth.pipelines.demo import run_demo, fashion_mnist_dataset
from deephealth.pipelines.run import train
def go():
    if name == "fashion":
        ds = fashion_mnist_dataset(out + "/data", limit=int(sys.argv[5]))
        cfg = {"task": "classification", "dataset": str(ds), "model": "lenet",
               "normalize": "divby255", "epochs": epochs, "batch_size": 100}
        return train(cfg, out + "/run")
    return run_demo(name, out, epochs, on_event=lambda e: None)
if mode == "memory":
    with in_memory():
        r = go()
else:
    r = go()
k = r["kpis"]
print(json.dumps({"ttm_s": k["time_to_model_in_production_s"],
                  "metrics": {m: v for m, v in r["metrics"].items() if isinstance(v, float)}}))
"""


def make_pngs(root: Path, n: int, side: int = 256) -> Path:
    """`n` grayscale PNGs (a bright or dim disc on noise) and their dataset YAML."""
    import cv2
    import numpy as np
    import yaml

    (root / "img").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = []
    yy, xx = np.mgrid[:side, :side]
    disc = (yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (side / 4) ** 2
    for i in range(n):
        img = rng.integers(0, 60, (side, side), dtype=np.uint8)
        img[disc] += np.uint8(60 + 120 * (i % 2))
        cv2.imwrite(str(root / f"img/{i}.png"), img)
        images.append({"location": f"img/{i}.png", "label": i % 2})
    a, b = int(n * 0.8), int(n * 0.9)
    doc = {"name": f"scale{n}", "classes": ["dim", "bright"], "images": images,
           "split": {"training": list(range(a)), "validation": list(range(a, b)),
                     "test": list(range(b, n))}}  # fmt: skip
    (root / "ds.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root / "ds.yml"


def _child(code: str, args: list[str]) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run the comparison and write the results table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--model", default="mobilenet")
    ap.add_argument("--memory-max", type=int, default=5000, help="largest N run in-memory")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--demos", action="store_true")
    ap.add_argument("--demo-epochs", type=int, default=4)
    ap.add_argument("--demo-names", default="nuclei,fashion,brain")
    ap.add_argument("--fashion-limit", type=int, default=10000)
    ap.add_argument("--out", default=str(HERE / "results" / "scale.md"))
    args = ap.parse_args()
    lines = [f"# bench_scale.py — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} "
             f"UTC, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", ""]  # fmt: skip
    lines += ["| images | path | round | peak RSS MB | train samples/s | run s | test accuracy |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        for n in [int(s) for s in args.sizes.split(",") if s]:
            t = time.perf_counter()
            ds = make_pngs(tmp_path / f"d{n}", n)
            print(f"generated {n} PNGs in {time.perf_counter() - t:.1f} s", flush=True)
            cfg = {"task": "classification", "dataset": str(ds), "model": args.model,
                   "epochs": 1, "batch_size": 32, "computing_service": {"threads": 1}}  # fmt: skip
            if args.model == "mobilenet":
                cfg["model_params"] = {"alpha": 0.25}
            for r in range(args.rounds):
                modes = ["stream", "memory"] if r % 2 == 0 else ["memory", "stream"]
                for mode in modes:  # peers interleaved: the machine is shared
                    if mode == "memory" and n > args.memory_max:
                        continue
                    run_dir = str(tmp_path / f"run{n}{mode}{r}")
                    res = _child(_CHILD, [json.dumps(cfg), run_dir, mode])
                    if "error" in res:
                        row = f"| {n} | {mode} | {r} | failed: {res['error']} | | | |"
                    else:
                        sps = int(n * 0.8) / res["epoch_s"]
                        row = (f"| {n} | {mode} | {r} | {res['peak_mb']:.0f} | {sps:.1f} | "
                               f"{res['wall_s']:.1f} | {res['metrics'].get('accuracy', float('nan')):.4f} |")  # fmt: skip
                    print(row, flush=True)
                    lines.append(row)
        if args.demos:
            lines += ["", "| demo | path | time to model s | test metrics |", "|---|---|---|---|"]
            for name in args.demo_names.split(","):
                for mode in ("stream", "memory", "memory", "stream")[: 2 * args.rounds]:
                    out = str(tmp_path / f"demo-{name}-{mode}-{time.time_ns()}")
                    res = _child(_DEMO_CHILD, [name, out, str(args.demo_epochs), mode,
                                               str(args.fashion_limit)])  # fmt: skip
                    shown = {k: round(v, 4) for k, v in res.get("metrics", {}).items()
                             if k in ("accuracy", "dice", "iou")}  # fmt: skip
                    row = f"| {name} | {mode} | {res.get('ttm_s', float('nan')):.1f} | {shown or res} |"
                    print(row, flush=True)
                    lines.append(row)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
