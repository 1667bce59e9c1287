"""Per-layer overhead: each EDDL layer's torch module against the same computation written in
plain PyTorch, forward + backward on a batch of 100, interleaved rounds, medians.

Run: `python bench/bench_layers.py` (writes bench/results/layers.md). Not a test.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import deephealth.eddl as eddl

BATCH, ROUNDS, STEPS = 100, 5, 10


def cases():
    """(name, our module, plain module, input shape without batch)."""
    img = eddl.Input([16, 28, 28])
    conv = eddl.Conv2D(img, 32, [3, 3])
    yield "Conv2D 3x3 same", conv.module, nn.Conv2d(16, 32, 3, padding=1), (16, 28, 28)
    conv_s2 = eddl.Conv2D(img, 32, [3, 3], [2, 2])

    class PlainPadConv(nn.Conv2d):
        def forward(self, x):
            return super().forward(F.pad(x, (0, 1, 0, 1)))

    yield (
        "Conv2D 3x3 same stride 2 (asym.)",
        conv_s2.module,
        PlainPadConv(16, 32, 3, 2),
        (16, 28, 28),
    )
    yield (
        "BatchNormalization 2D",
        eddl.BatchNormalization(img).module,
        nn.BatchNorm2d(16),
        (16, 28, 28),
    )
    yield "ReLu", eddl.ReLu(img).module, nn.ReLU(), (16, 28, 28)
    yield "MaxPool2D 2x2", eddl.MaxPool2D(img).module, nn.MaxPool2d(2), (16, 28, 28)
    yield (
        "GlobalAveragePool2D",
        eddl.GlobalAveragePool2D(img).module,
        nn.AdaptiveAvgPool2d(1),
        (16, 28, 28),
    )
    vec = eddl.Input([784])
    yield "Dense 784-1024", eddl.Dense(vec, 1024).module, nn.Linear(784, 1024), (784,)
    seq = eddl.Input([20, 32])
    lstm = eddl.LSTM(seq, 64)

    class PlainLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(32, 64, batch_first=True)

        def forward(self, x):
            return self.rnn(x)[1][0][-1]

    yield "LSTM 64 (last step)", lstm.module, PlainLSTM(), (20, 32)


def one_step(module: nn.Module, x: torch.Tensor) -> float:
    t = time.perf_counter()
    module(x).sum().backward()
    return time.perf_counter() - t


def compare(ours: nn.Module, plain: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """Median step times; single steps alternate (ours first, then plain first) to share noise."""
    for _ in range(3):  # warm-up
        one_step(ours, x), one_step(plain, x)
    a, b = [], []
    for i in range(ROUNDS * STEPS):
        if i % 2:
            b.append(one_step(plain, x))
            a.append(one_step(ours, x))
        else:
            a.append(one_step(ours, x))
            b.append(one_step(plain, x))
    return statistics.median(a), statistics.median(b)


def main() -> None:
    torch.manual_seed(0)
    rows = []
    for name, ours, plain, shape in cases():
        x = torch.randn(BATCH, *shape, requires_grad=True)
        ours.train()
        plain.train()
        mo, mp = compare(ours, plain, x)
        rows.append((name, mp / mo, mo * 1e3, mp * 1e3))
        print(f"{name:36s} ratio {mp / mo:5.3f}  ours {mo * 1e3:7.3f} ms  plain {mp * 1e3:7.3f} ms")
    lines = [
        "## Per-layer overhead (`bench/bench_layers.py`)",
        "",
        f"{datetime.date.today()}, 2-core x86_64 CPU, shared; Python {platform.python_version()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; forward + backward, batch "
        f"{BATCH}, medians of {ROUNDS * STEPS} single steps, ours and plain alternating; load "
        f"average {os.getloadavg()[0]:.1f} at the end (above ~2 the machine is shared and the "
        "ratios are noise).",
        "",
        "| layer | ratio (plain time / ours) | ours ms | plain PyTorch ms |",
        "|---|---|---|---|",
        *[f"| {n} | {r:.3f} | {o:.3f} | {p:.3f} |" for n, r, o, p in rows],
        "",
        "Ratio 1.0 = no overhead. For Conv2D with symmetric padding, BatchNormalization, "
        "MaxPool2D and Dense the layer's module *is* the native torch module (`type(module) is "
        "nn.Conv2d`, tested), so any ratio away from 1.0 there measures the noise of the run; the "
        "asymmetric 'same' case is compared with the same F.pad + conv written by hand.",
        "",
    ]
    out = Path(__file__).parent / "results" / "layers.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
