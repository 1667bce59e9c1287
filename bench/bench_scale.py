"""Pipelines at scale: peak RSS and samples/s of `deephealth train`, streaming vs in-memory.

Part 1 generates N 256x256 grayscale PNGs on disk (two classes; 80 % training, 10 % validation,
10 % test) for each N of `--sizes` and trains one epoch of the same config on each, in a fresh
process per run, with the streaming path (`pipelines.stream`, what `deephealth train` runs) and,
interleaved with it, the former in-memory path (`pipelines.inmemory.in_memory()`, every split
decoded into float32 arrays first; kept only here and in the tests). It reports peak RSS, the
training epoch's samples/s and the wall time of the whole run.

Part 2 (`--demos`) times the three demo pipelines, streaming vs in-memory, interleaved: the nuclei
demo (real DSB2018, U-Net on patches), a Fashion-MNIST LeNet classification, and the Colin27 3D
brain demo, with their test metrics (same seed: the same values are expected). With `--rounds R`
each demo runs R times per path, alternated (A B, B A, ...), and the medians of time to model and
of process CPU time give the ratios in-memory / streaming (>= 0.95 is issue #14's goal).

Part 3 (`--volumes 20,200`) trains one epoch of the brain demo's 3D patch config on N synthetic
phantom volumes (20 generated, copied up to N), both paths, and reports each run's peak RSS.

Usage: python bench/bench_scale.py [--sizes 1000,5000,20000] [--model mobilenet]
       [--memory-max N] [--stream-max N] [--first stream|memory] [--rounds 1]
       [--volumes 20,200] [--volume-shape 32x64x64] [--volume-patches 2]
       [--demos] [--demo-names nuclei,fashion,brain] [--demo-epochs 4]
       [--out bench/results/scale.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
UC9_SCANS = 42_436  # the UC9 use case's MRI scans (issue #14's projection)

_CHILD = """
import json, os, resource, sys, time
cfg, run_dir, mode = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
from deephealth.pipelines.inmemory import in_memory
from deephealth.pipelines.run import train
def cpu():
    return sum(resource.getrusage(w).ru_utime + resource.getrusage(w).ru_stime
               for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
t, c = time.perf_counter(), cpu()
if mode == "memory":
    with in_memory():
        r = train(cfg, run_dir)
else:
    r = train(cfg, run_dir)
wall, cpu_s = time.perf_counter() - t, cpu() - c
events = [json.loads(line) for line in open(run_dir + "/events.jsonl")]
epoch = [e for e in events if e["type"] == "epoch"][-1]
hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(json.dumps({"peak_mb": int(hwm.split()[1]) / 1024,  # this process's own peak
                  "wall_s": wall, "cpu_s": cpu_s, "load": os.getloadavg()[0], "epoch_s": epoch["time_s"], "kpis": r["kpis"],
                  "metrics": {k: v for k, v in r["metrics"].items() if isinstance(v, float)}}))
"""

_DEMO_CHILD = """
import json, resource, sys, time
name, out, epochs, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def cpu():
    return sum(resource.getrusage(w).ru_utime + resource.getrusage(w).ru_stime
               for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
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
t, c = time.perf_counter(), cpu()
if mode == "memory":
    with in_memory():
        r = go()
else:
    r = go()
k = r["kpis"]
print(json.dumps({"ttm_s": k["time_to_model_in_production_s"], "cpu_s": cpu() - c,
                  "wall_s": time.perf_counter() - t,
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


def _volumes(args: argparse.Namespace, tmp_path: Path) -> list[str]:
    """Peak RSS of 3D patch training (the brain demo's config: 3D U-Net, 16x48x48 patches,
    8 per volume, batch 4) on N synthetic phantom volumes, one epoch, both paths, per N."""
    from deephealth.pipelines.demo import brain_config
    from deephealth.pipelines.synthetic import generate_dataset

    shape = tuple(int(v) for v in args.volume_shape.split("x"))
    base = generate_dataset(tmp_path / "vbase", "segmentation", n_patients=20, shape=shape)
    lines = ["", f"3D patch training on synthetic volumes of {args.volume_shape} (float32 NIfTI), "
             f"brain demo config with {args.volume_patches} patches per volume, 1 epoch", "",
             "| volumes | path | peak RSS MB | train patches/s | run s | run CPU s | load avg | "
             "test dice |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for n in [int(v) for v in args.volumes.split(",") if v]:
        ds = replicate(base, tmp_path / f"v{n}", n)
        cfg = {**brain_config(ds, epochs=1), "computing_service": {"threads": 1}}
        cfg["patch"] = {**cfg["patch"], "per_image": args.volume_patches}
        patches = len(yaml_split(ds, "training")) * int(cfg["patch"]["per_image"])
        for r in range(args.rounds):
            for mode in ("stream", "memory") if r % 2 == 0 else ("memory", "stream"):
                res = _child(_CHILD, [json.dumps(cfg), str(tmp_path / f"vrun{n}{mode}{r}"), mode])
                if "error" in res:
                    row = f"| {n} | {mode} | failed: {res['error']} | | | | | |"
                else:
                    row = (f"| {n} | {mode} | {res['peak_mb']:.0f} | "
                           f"{patches / res['epoch_s']:.1f} | {res['wall_s']:.1f} | "
                           f"{res['cpu_s']:.1f} | {res['load']:.1f} | "
                           f"{res['metrics'].get('dice', float('nan')):.4f} |")  # fmt: skip
                print(row, flush=True)
                lines.append(row)
    return lines


def replicate(dataset: Path, out: Path, n: int) -> Path:
    """A dataset of `n` volumes made of copies of `dataset`'s (files copied, one entry each, the
    splits repeated): memory is what is measured, so the content may repeat."""
    import shutil

    import yaml

    doc = yaml.safe_load(dataset.read_text())
    images, k = doc["images"], len(doc["images"])
    entries, split = [], {name: [] for name in doc["split"]}
    for copy in range(-(-n // k)):
        for i, entry in enumerate(images):
            if len(entries) == n:
                break
            new = dict(entry)
            for key in ("location", "label"):
                dst = out / f"c{copy}" / entry[key]
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(dataset.parent / entry[key], dst)
                new[key] = f"c{copy}/{entry[key]}"
            new["values"] = {**entry["values"], "patient": f"{entry['values']['patient']}c{copy}"}
            for name, indices in doc["split"].items():
                if i in indices:
                    split[name].append(len(entries))
            entries.append(new)
    path = out / "dataset.yml"
    path.write_text(yaml.safe_dump({**doc, "images": entries, "split": split}, sort_keys=False))
    return path


def yaml_split(path: Path, split: str) -> list[int]:
    """Sample indices of one split of a dataset YAML."""
    import yaml

    return list(yaml.safe_load(path.read_text())["split"][split])


def _demos(args: argparse.Namespace, tmp_path: Path) -> list[str]:
    """Time-to-model of each demo, streaming and in-memory alternated (A B B A ...), per run and
    as medians; the ratio is in-memory / streaming (>= 0.95 is the goal), by wall and CPU time."""
    lines = ["", "| demo | path | round | time to model s | run CPU s | load avg | test metrics |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    medians = ["", "| demo | median TTM streaming s | median TTM in-memory s | ratio (wall) | "
               "median CPU streaming s | median CPU in-memory s | ratio (CPU) |",
               "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in args.demo_names.split(","):
        got: dict[str, list[tuple[float, float]]] = {"stream": [], "memory": []}
        for r in range(args.rounds):
            for mode in ("stream", "memory") if r % 2 == 0 else ("memory", "stream"):
                out = str(tmp_path / f"demo-{name}-{mode}-{time.time_ns()}")
                res = _child(_DEMO_CHILD, [name, out, str(args.demo_epochs), mode,
                                           str(args.fashion_limit)])  # fmt: skip
                shown = {k: round(v, 4) for k, v in res.get("metrics", {}).items()
                         if k in ("accuracy", "dice", "iou")}  # fmt: skip
                ttm, cpu = res.get("ttm_s", float("nan")), res.get("cpu_s", float("nan"))
                if "ttm_s" in res:
                    got[mode].append((ttm, cpu))
                row = (f"| {name} | {mode} | {r} | {ttm:.1f} | {cpu:.1f} | "
                       f"{os.getloadavg()[0]:.1f} | {shown or res} |")  # fmt: skip
                print(row, flush=True)
                lines.append(row)
        if got["stream"] and got["memory"]:
            (sw, sc), (mw, mc) = (
                tuple(statistics.median(v[i] for v in got[m]) for i in (0, 1))
                for m in ("stream", "memory")
            )
            row = f"| {name} | {sw:.1f} | {mw:.1f} | {mw / sw:.3f} | {sc:.1f} | {mc:.1f} | {mc / sc:.3f} |"
            print(row, flush=True)
            medians.append(row)
    return lines + medians


def main() -> None:
    """Run the comparison and write the results table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--model", default="mobilenet")
    ap.add_argument("--memory-max", type=int, default=5000, help="largest N run in-memory")
    ap.add_argument("--stream-max", type=int, default=10**9, help="largest N run streaming")
    ap.add_argument("--first", choices=("stream", "memory"), default="stream",
                    help="path run first in round 0 (they alternate after)")  # fmt: skip
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--volumes", default="", help="3D patch training on N volumes, e.g. 20,200")
    ap.add_argument("--volume-shape", default="32x64x64", help="synthetic volume size DxHxW")
    ap.add_argument("--volume-patches", type=int, default=2, help="training patches per volume")
    ap.add_argument("--demos", action="store_true")
    ap.add_argument("--demo-epochs", type=int, default=4)
    ap.add_argument("--demo-names", default="nuclei,fashion,brain")
    ap.add_argument("--fashion-limit", type=int, default=10000)
    ap.add_argument("--out", default=str(HERE / "results" / "scale.md"))
    args = ap.parse_args()
    lines = [f"# bench_scale.py — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} "
             f"UTC, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", ""]  # fmt: skip
    lines += ["| images | path | round | peak RSS MB | train samples/s | run s | run CPU s | "
              "CPU ms per image | load avg | test accuracy |",
              "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    largest: tuple[int, float, float] | None = None
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
                modes = ["stream", "memory"] if args.first == "stream" else ["memory", "stream"]
                for mode in modes if r % 2 == 0 else modes[::-1]:  # peers interleaved
                    if n > (args.memory_max if mode == "memory" else args.stream_max):
                        continue
                    run_dir = str(tmp_path / f"run{n}{mode}{r}")
                    res = _child(_CHILD, [json.dumps(cfg), run_dir, mode])
                    if "error" in res:
                        row = f"| {n} | {mode} | {r} | failed: {res['error']} | | | | | | |"
                    else:
                        sps = int(n * 0.8) / res["epoch_s"]
                        acc = res["metrics"].get("accuracy", float("nan"))
                        row = (
                            f"| {n} | {mode} | {r} | {res['peak_mb']:.0f} | {sps:.1f} | "
                            f"{res['wall_s']:.1f} | {res['cpu_s']:.1f} | "
                            f"{1000 * res['cpu_s'] / n:.1f} | {res['load']:.1f} | {acc:.4f} |"
                        )
                        if mode == "stream":  # the largest streaming run projects to UC9
                            largest = (n, sps, res["cpu_s"] / n)
                    print(row, flush=True)
                    lines.append(row)
        if largest:
            n, sps, cpu = largest
            lines += [
                "",
                f"UC9 projection ({UC9_SCANS:,} scans of 256² on this machine, from the {n:,}-image "
                f"streaming run): {UC9_SCANS / sps / 3600:.2f} h per epoch at its wall rate "
                f"({sps:.1f} samples/s), {UC9_SCANS * cpu / 60:.0f} min of one core at its CPU "
                f"per image ({1000 * cpu:.1f} ms)",
            ]
        if args.volumes:
            lines += _volumes(args, tmp_path)
        if args.demos:
            lines += _demos(args, tmp_path)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
