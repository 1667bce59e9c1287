"""Training throughput of the fused image + clinical-values network vs the same network in PyTorch.

The zoo's `FusionNet` (gated and early fusion; image 1×64×64 through conv-BN-ReLU-pool stages of
16 and 32 filters, 10 clinical values through a 32-32 MLP; MSE loss, Adam 1e-3, batch 32) trained
with `eddl.fit`, against a plain `torch.nn.Module` with the same layers trained by an idiomatic
loop. Data: synthetic arrays (throughput does not depend on their values). Variants interleave
epoch by epoch with the same thread count (`bench_eddl_train.measure`); samples/s = batch / median
step time.

Page faults per step are counted too: building a network on the CPU sets glibc's malloc
thresholds (`deephealth.eddl.cpu_memory`) for the whole process, so both sides reuse freed
buffers; `DEEPHEALTH_MALLOC_TUNING=0` measures with glibc's defaults.

Run: `python bench/bench_multimodal.py [--threads 2] [--rounds 7] [--samples 640]`;
writes bench/results/multimodal.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import sys
from pathlib import Path

import numpy as np
import torch
from bench_eddl_train import StepTimer, _lap, _now, measure
from torch import nn

import deephealth.eddl as eddl
from deephealth.eddl import zoo

HERE = Path(__file__).resolve().parent
BATCH = 32
SHAPE = (1, 64, 64)
FEATURES = 10
FILTERS = (16, 32)
HIDDEN = 32


class TorchFusion(nn.Module):
    """The zoo's FusionNet written in plain PyTorch (same layers, same order)."""

    def __init__(self, fusion: str) -> None:
        super().__init__()
        stages, c = [], SHAPE[0]
        for f in FILTERS:
            stages += [
                nn.Conv2d(c, f, 3, padding=1, bias=False),
                nn.BatchNorm2d(f),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            c = f
        self.image = nn.Sequential(*stages, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.tab = nn.Sequential(
            nn.Linear(FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU()
        )
        self.fusion = fusion
        if fusion == "early":
            self.mix = nn.Sequential(nn.Linear(c + HIDDEN, HIDDEN), nn.ReLU())
        else:
            self.a, self.b = nn.Linear(c, HIDDEN), nn.Linear(HIDDEN, HIDDEN)
            self.gate = nn.Linear(c + HIDDEN, HIDDEN)
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, img: torch.Tensor, tab: torch.Tensor) -> torch.Tensor:
        i, t = self.image(img), self.tab(tab)
        both = torch.cat([i, t], 1)
        if self.fusion == "early":
            return self.head(self.mix(both))
        a, b = self.a(i), self.b(t)
        g = torch.sigmoid(self.gate(both))
        return self.head(torch.relu(b + g * (a - b)))


class EddlFusion:
    """One epoch of `eddl.fit` on the zoo's FusionNet per call."""

    def __init__(self, fusion: str, img, tab, y, threads: int) -> None:
        self.net = zoo.build_model(
            "fusion", SHAPE, 1, num_features=FEATURES, fusion=fusion, filters=FILTERS
        )
        eddl.build(self.net, eddl.adam(1e-3), ["mse"], ["mae"], eddl.CS_CPU(threads))
        self.x = [img, tab]
        self.y = [y]

    def epoch(self) -> list[tuple[float, float]]:
        timer = StepTimer()
        eddl.fit(self.net, self.x, self.y, BATCH, 1, verbose=0, callbacks=[timer])
        return timer.times


class TorchFusionRunner:
    """One epoch of an idiomatic PyTorch loop (shuffle, MSE, Adam, loss and MAE sums)."""

    def __init__(self, fusion: str, img, tab, y) -> None:
        self.model = TorchFusion(fusion)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.img, self.tab, self.y = map(torch.from_numpy, (img, tab, y))
        self.gen = torch.Generator().manual_seed(0)

    def epoch(self) -> list[tuple[float, float]]:
        n = self.img.shape[0]
        order = torch.randperm(n, generator=self.gen)
        loss_sum, mae_sum = torch.zeros(()), torch.zeros(())
        self.model.train()
        times, last = [], _now()
        for lo in range(0, n, BATCH):
            idx = order[lo : lo + BATCH]
            out = self.model(self.img.index_select(0, idx), self.tab.index_select(0, idx))
            yb = self.y.index_select(0, idx)
            loss = torch.nn.functional.mse_loss(out, yb)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * len(idx)
                mae_sum += (out - yb).abs().sum()
            last = _lap(times, last)
        float(loss_sum), float(mae_sum)
        return times


class FaultCounter:
    """Wraps a runner: counts the process's minor page faults during its epochs (after the
    first, the warm-up)."""

    def __init__(self, runner) -> None:
        self.runner, self.faults, self.steps, self.calls = runner, 0, 0, 0

    def epoch(self) -> list[tuple[float, float]]:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        times = self.runner.epoch()
        self.calls += 1
        if self.calls > 1:
            self.faults += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
            self.steps += len(times)
        return times

    def per_step(self) -> float:
        return self.faults / max(1, self.steps)


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--samples", type=int, default=640)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "multimodal.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    img = rng.random((args.samples, *SHAPE), dtype=np.float32)
    tab = rng.normal(size=(args.samples, FEATURES)).astype(np.float32)
    y = rng.normal(size=(args.samples, 1)).astype(np.float32)
    lines = [
        "## Fused image + clinical-values training vs plain PyTorch (bench/bench_multimodal.py)",
        "",
        f"{datetime.date.today().isoformat()}, 2-core x86_64 CPU, shared (load average "
        f"{os.getloadavg()[0]:.1f} at the start); malloc tuning "
        f"{'off' if os.environ.get('DEEPHEALTH_MALLOC_TUNING') == '0' else 'on'}; torch "
        f"{torch.__version__}, {args.threads} threads, batch {BATCH}, image {SHAPE}, "
        f"{FEATURES} clinical values, {args.samples} samples per epoch, {args.rounds} "
        "interleaved rounds; samples/s = batch / median step time.",
        "",
        "| fusion | eddl / torch (wall) | eddl / torch (CPU time) | eddl samples/s | torch samples/s "
        "| page faults per step (eddl / torch) |",
        "|---|---|---|---|---|---|",
    ]
    for fusion in ("gated", "early"):
        torch.manual_seed(0)
        runners = {
            "eddl": FaultCounter(EddlFusion(fusion, img, tab, y, args.threads)),
            "torch": FaultCounter(TorchFusionRunner(fusion, img, tab, y)),
        }
        rates = measure(runners, args.rounds)
        (ew, ec), (tw, tc) = rates["eddl"], rates["torch"]
        faults = f"{runners['eddl'].per_step():.0f} / {runners['torch'].per_step():.0f}"
        lines.append(
            f"| {fusion} | **{ew / tw:.3f}** | {ec / tc:.3f} | {ew:.0f} | {tw:.0f} | {faults} |"
        )
        print(lines[-1], flush=True)
    lines += ["", "Goal: eddl / torch ≥ 0.95."]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
