"""Speedup and efficiency of 2-process data-parallel training and 2-worker preprocessing.

Training: the two-conv CNN on 28x28 (as bench_eddl_train) and the zoo ResNet-18 at 64x64, one
epoch of `eddl.fit` on synthetic data, 1 process x 1 thread against 2 processes x 1 thread
(torchrun, gloo), interleaved over rounds, in weak and strong scaling, for three ways of combining
the processes: exact gradient all-reduce (DDP, the default), the same with bf16 gradient
compression, and EDDL's weight averaging every 4 batches. The ceiling row runs two independent
one-process trainings at once: what two processes reach on this machine with no communication at
all. Also measures the gloo all-reduce bandwidth and latency here, and checks the step-time model
of docs/scaling.md against the measured 2-process efficiency. Preprocessing: `deephealth
preprocess` of 1,500 real IHC crops (resize + gamma) with 1 and 2 worker processes, start-up of the
worker processes included. Writes bench/results/distributed.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUNDS = 7
N_PREPROCESS = 1500
# how the 2 processes combine their work: DataParallel arguments
VARIANTS = {
    "exact": {},
    "bf16": {"compression": "bf16"},
    "weights4": {"mode": "weights", "lsb": 4},
}
VARIANT_NAMES = {
    "exact": "gradient all-reduce (exact)",
    "bf16": "gradient all-reduce, bf16 compression",
    "weights4": "weight averaging every 4 batches",
}


def worker(model: str, out: str, scaling: str, variant: str = "exact") -> None:
    """One training run (started plainly or by torchrun); rank 0 writes its timing to `out`.

    `scaling` "strong" keeps the global batch and the data of the one-process run (each rank
    computes half of every batch); "weak" keeps each process's batch and share of data (the
    global batch and the data grow with the processes, as on GPU clusters).
    """
    import numpy as np
    import torch

    import deephealth.eddl as eddl
    from deephealth.eddl.distributed import (
        DataParallel,
        detect,
        get_id_distributed,
        get_n_procs_distributed,
    )
    from deephealth.eddl.zoo import ResNet18

    torch.manual_seed(0)
    if model == "cnn":
        n, shape, classes, batch = 1600, (1, 28, 28), 10, 100
        inp = eddl.Input(list(shape))
        x = eddl.ReLu(eddl.Conv2D(inp, 32, [3, 3]))
        x = eddl.MaxPool2D(eddl.ReLu(eddl.Conv2D(x, 64, [3, 3])), [2, 2])
        out_l = eddl.Softmax(eddl.Dense(eddl.Flatten(x), classes))
        net = eddl.Model([inp], [out_l])
    else:  # "resnet18" (batch 32 per process) or "resnet18-b64" (batch 64)
        batch = 64 if model.endswith("-b64") else 32
        n, shape, classes = 16 * batch, (3, 64, 64), 10
        net = ResNet18(list(shape), classes)
    strategy = DataParallel(**VARIANTS[variant]) if detect().is_distributed else None
    eddl.build(net, eddl.sgd(0.01, 0.9), ["softmax_cross_entropy"], ["accuracy"],
               eddl.CS_CPU(th=1), strategy=strategy)  # fmt: skip
    if scaling == "weak":
        n, batch = n * get_n_procs_distributed(), batch * get_n_procs_distributed()
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(n, *shape)).astype(np.float32)
    ys = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]
    eddl.fit(net, [xs[: batch * 2]], [ys[: batch * 2]], batch, 1, verbose=0)  # warm-up
    t0 = time.perf_counter()
    eddl.fit(net, [xs], [ys], batch, 1, verbose=0, seed=1)
    seconds = time.perf_counter() - t0
    if get_id_distributed() == 0:
        params = sum(p.numel() for p in net.graph.parameters())
        record = {"samples_per_s": n / seconds, "seconds": seconds, "batch": batch, "params": params,
                  "procs": get_n_procs_distributed()}  # fmt: skip
        Path(out).write_text(json.dumps(record))


def allreduce_worker(out: str) -> None:
    """Measure gloo all-reduce time for 1 KB and 40 MB tensors (rank 0 writes the medians)."""
    import torch
    import torch.distributed as dist

    from deephealth.eddl.distributed import get_id_distributed, init_distributed

    init_distributed(threads=1)
    result = {}
    for name, numel in (("small", 256), ("large", 10_000_000)):
        t = torch.ones(numel)
        times = []
        for _ in range(7 if name == "large" else 50):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        result[name] = statistics.median(times)
    if get_id_distributed() == 0:
        mb = 10_000_000 * 4 / 1e6
        latency = result["small"] / 2  # ring of 2: 2 (N-1) = 2 hops
        bandwidth = mb / max(result["large"] - result["small"], 1e-9)  # MB/s, 2(N-1)/N = 1
        Path(out).write_text(json.dumps({"latency_s": latency, "mb_per_s": bandwidth}))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _train(model: str, nproc: int, scaling: str, variant: str = "exact") -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    script = [str(Path(__file__).resolve()), "--worker", model, out, scaling, variant]
    if nproc == 1:
        cmd = [sys.executable, *script]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={nproc}", *script]  # fmt: skip
    subprocess.run(cmd, check=True, env=_env(), capture_output=True)
    record = json.loads(Path(out).read_text())
    os.unlink(out)
    return record


def _independent_pair(model: str) -> float:
    """Samples/s of two one-process trainings running at once (no communication): the ceiling."""
    outs, procs = [], []
    for _ in range(2):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
            outs.append(fh.name)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", model, outs[-1], "weak"]
        procs.append(subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))  # fmt: skip
    for proc in procs:
        if proc.wait() != 0:
            raise RuntimeError(f"independent {model} training failed")
    total = sum(json.loads(Path(out).read_text())["samples_per_s"] for out in outs)
    for out in outs:
        os.unlink(out)
    return total


def _preprocess_dataset(root: Path) -> Path:
    import cv2
    from skimage import data as skdata

    image = cv2.cvtColor(skdata.immunohistochemistry(), cv2.COLOR_RGB2BGR)
    lines = ["name: ihc", "images:"]
    for i in range(N_PREPROCESS):
        y, x = (i * 37) % 256, (i * 53) % 256
        cv2.imwrite(str(root / f"c{i:03d}.png"), image[y : y + 256, x : x + 256])
        lines.append(f"  - c{i:03d}.png")
    (root / "dataset.yml").write_text("\n".join(lines) + "\n")
    return root / "dataset.yml"


def _preprocess(dataset: Path, workers: int, out: Path) -> float:
    from deephealth.pipelines.batchjobs.preprocess import preprocess_dataset

    ops = "AugResizeDim dims=(224,224)\nAugGammaContrast gamma=[0.8,1.2]"
    _, stats = preprocess_dataset(dataset, ops, out, workers=workers, batch_size=50, progress=False)
    return stats.samples_per_s


def _preprocess_row(rounds: int) -> str:
    """The table row of 1 vs 2 preprocessing workers (interleaved rounds, medians)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dataset = _preprocess_dataset(root)
        r1, r2 = [], []
        for k in range(rounds):
            r1.append(_preprocess(dataset, 1, root / f"o1_{k}"))
            r2.append(_preprocess(dataset, 2, root / f"o2_{k}"))
        p1, p2 = statistics.median(r1), statistics.median(r2)
        return (f"| preprocessing {N_PREPROCESS} PNG 256² (resize 224 + gamma), batches of 50 | "
                f"process pool, start-up included | {p1:.1f} | {p2:.1f} | {p2 / p1:.2f} | "
                f"**{p2 / p1 / 2:.2f}** |")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """Run every comparison, interleaved, and write the results section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--models",
        default="cnn,resnet18",
        help="comma-separated: cnn, resnet18 (batch 32), resnet18-b64 (batch 64)",
    )
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    ap.add_argument("--skip-preprocess", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "distributed.md")
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    rows = []
    measured_eff = {}
    for model in args.models.split(","):
        for scaling in ("weak", "strong"):
            one: list[float] = []
            two: dict[str, list[float]] = {v: [] for v in VARIANTS}
            pair: list[float] = []
            for _ in range(args.rounds):
                one.append(_train(model, 1, scaling)["samples_per_s"])
                if scaling == "weak":
                    pair.append(_independent_pair(model))
                for variant in VARIANTS:
                    rec = _train(model, 2, scaling, variant)
                    two[variant].append(rec["samples_per_s"])
                    if variant == "exact":
                        exact_rec = rec
            s1 = statistics.median(one)
            per_proc = exact_rec["batch"] // (2 if scaling == "weak" else 1)
            what = (f"batch {per_proc} per process" if scaling == "weak"
                    else f"global batch {exact_rec['batch']} split in 2")  # fmt: skip
            label = f"{model}, {scaling} scaling ({what})"
            for variant in VARIANTS:
                s2 = statistics.median(two[variant])
                if scaling == "strong" and variant == "exact":
                    measured_eff[model] = (s2 / s1 / 2, exact_rec)
                rows.append(f"| {label} | {VARIANT_NAMES[variant]} | {s1:.1f} | {s2:.1f} | "
                            f"{s2 / s1:.2f} | **{s2 / s1 / 2:.2f}** |")  # fmt: skip
            if pair:
                s2 = statistics.median(pair)
                rows.append(f"| {label} | ceiling: 2 independent processes, no communication | "
                            f"{s1:.1f} | {s2:.1f} | {s2 / s1:.2f} | {s2 / s1 / 2:.2f} |")  # fmt: skip
    if not args.skip_preprocess:
        rows.append(_preprocess_row(args.rounds))
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
           str(Path(__file__).resolve()), "--allreduce", out]  # fmt: skip
    subprocess.run(cmd, check=True, env=_env(), capture_output=True)
    comm = json.loads(Path(out).read_text())
    sys.path.insert(0, str(HERE))
    from scaling_model import allreduce_s, straggler_factor

    model_rows = []
    for model, (eff, rec) in measured_eff.items():
        grad_mb = rec["params"] * 4 / 1e6
        t_step_2 = rec["batch"] / measured_eff[model][1]["samples_per_s"]
        t_ar = allreduce_s(2, grad_mb, comm["mb_per_s"] / 1e3, comm["latency_s"])
        t_c = max(t_step_2 - t_ar, 1e-9)
        # strong scaling: one process computes the whole batch, 2 t_c when compute halves exactly
        predicted = (2 * t_c) / (2 * (t_c * straggler_factor(2) + t_ar))
        model_rows.append(f"| {model} | {grad_mb:.1f} | {t_ar * 1e3:.1f} | {predicted:.2f} | "
                          f"{eff:.2f} |")  # fmt: skip
    stamp = datetime.date.today().isoformat()
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}"
    )
    text = [
        "## Distributed training and dataset-scale preprocessing (bench_distributed.py)"
        if not argv
        else f"## Distributed training (bench_distributed.py {' '.join(argv)})",
        "",
        f"{stamp}, {machine}. Medians of {args.rounds} interleaved rounds; 1 thread per process.",
        "",
        "| workload | how the processes combine | 1 process (samples/s) | 2 processes (samples/s) "
        "| speedup | efficiency |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"gloo all-reduce here (loopback): latency {comm['latency_s'] * 1e6:.0f} µs, "
        f"bandwidth {comm['mb_per_s']:.0f} MB/s. Step-time model of docs/scaling.md "
        "(compute from the 2-process step minus the modelled all-reduce):",
        "",
        "| model | gradients (MB) | modelled all-reduce (ms) | predicted efficiency | measured |",
        "|---|---|---|---|---|",
        *model_rows,
    ]
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text("\n".join(text) + "\n")
    print("\n".join(text))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "--allreduce":
        allreduce_worker(sys.argv[2])
    else:
        main()
