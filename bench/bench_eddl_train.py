"""EDDL training throughput vs the same models in plain PyTorch (samples/s, CPU).

Models (batch 100): the MLP 784-1024-1024-1024-10 and a two-conv CNN on 28×28 inputs
(Conv 16 3×3 + ReLU + MaxPool, Conv 32 3×3 + ReLU + MaxPool, Dense 10). Data: the first N images
of Fashion-MNIST (Debian's dataset-fashion-mnist; random data when it is missing, said in the
output). Every variant runs whole epochs with shuffling, SGD(0.01, momentum 0.9), loss and accuracy
accumulated; the plain PyTorch loop does the same work the idiomatic way (logits +
`F.cross_entropy`, index labels). Variants are interleaved epoch by epoch with the same thread
count; each step is timed and samples/s = batch / median step time (robust to the load of a
shared machine), with ratios to plain PyTorch eager first.

Modes: "eddl" = `eddl.fit` eager (no progress bar); "eddl+bar" = with the tqdm bar;
"eddl compiled" = `CS_CPU(compile=True)` (torch.compile of the graph); "eddl channels-last" =
`CS_CPU(channels_last=True)` (CNN only: NHWC activations, which PyTorch's CPU max-pooling and
convolution kernels run much faster); "torch channels-last" the same in plain PyTorch; "torch" = plain PyTorch
eager; "torch compiled" = plain PyTorch with torch.compile, for reference. Each step is timed on
the wall clock and on the process CPU clock (`time.process_time`, all threads); with one thread the
CPU-time ratio is nearly immune to other processes on a shared machine.

Run: `python bench/bench_eddl_train.py [--threads 2] [--rounds 5] [--samples 3000] [--no-compile]`;
writes bench/results/eddl_train.md.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import deephealth.eddl as eddl

HERE = Path(__file__).resolve().parent
BATCH = 100


def load_data(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from deephealth.eddl.examples.fashion_mnist import DEFAULT_DIR, load

        x, y, _, _ = load(DEFAULT_DIR, n)
        return x, y, "Fashion-MNIST"
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        x = rng.random((n, 1, 28, 28), dtype=np.float32)
        return x, np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)], "random (no Fashion-MNIST)"


def eddl_mlp() -> eddl.Model:
    in_ = eddl.Input([784])
    x = in_
    for _ in range(3):
        x = eddl.ReLu(eddl.Dense(x, 1024))
    return eddl.Model([in_], [eddl.Softmax(eddl.Dense(x, 10))])


def eddl_cnn() -> eddl.Model:
    in_ = eddl.Input([1, 28, 28])
    x = eddl.MaxPool2D(eddl.ReLu(eddl.Conv2D(in_, 16, [3, 3])), [2, 2])
    x = eddl.MaxPool2D(eddl.ReLu(eddl.Conv2D(x, 32, [3, 3])), [2, 2])
    return eddl.Model([in_], [eddl.Softmax(eddl.Dense(eddl.Flatten(x), 10))])


def torch_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 1024),
        nn.ReLU(),
        nn.Linear(1024, 1024),
        nn.ReLU(),
        nn.Linear(1024, 1024),
        nn.ReLU(),
        nn.Linear(1024, 10),
    )


def torch_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )


class StepTimer(eddl.Callback):
    """Records the duration of every training step of `fit` (batch end to batch end)."""

    def __init__(self) -> None:
        self.times: list[tuple[float, float]] = []
        self._last = (0.0, 0.0)

    def on_epoch_begin(self, run) -> None:
        self._last = _now()

    def on_batch_end(self, run, batch: int) -> None:
        self._last = _lap(self.times, self._last)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _lap(times: list[tuple[float, float]], last: tuple[float, float]) -> tuple[float, float]:
    """Append (wall, CPU) seconds since `last`; return the new mark."""
    now = _now()
    times.append((now[0] - last[0], now[1] - last[1]))
    return now


class EddlRunner:
    """One epoch of `eddl.fit` per call; returns the step durations."""

    def __init__(self, make, x, y, threads, compile_=False, bar=False, channels_last=False):
        self.net = make()
        eddl.build(
            self.net,
            eddl.sgd(0.01, 0.9),
            ["softmax_cross_entropy"],
            ["categorical_accuracy"],
            eddl.CS_CPU(threads, compile=compile_, channels_last=channels_last),
        )
        self.x, self.y, self.bar = x, y, bar

    def epoch(self) -> list[tuple[float, float]]:
        timer = StepTimer()
        eddl.fit(self.net, [self.x], [self.y], BATCH, 1, verbose=int(self.bar), callbacks=[timer])
        return timer.times


class TorchRunner:
    """One epoch of an idiomatic plain PyTorch loop per call (shuffle, loss and accuracy sums)."""

    def __init__(self, make, x, y, threads, compile_=False, channels_last=False):
        self.model = make()
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.step_model = torch.compile(self.model) if compile_ else self.model
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y.argmax(1))
        self.gen = torch.Generator().manual_seed(0)

    def epoch(self) -> list[tuple[float, float]]:
        n = self.x.shape[0]
        order = torch.randperm(n, generator=self.gen)
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.long)
        self.model.train()
        times, last = [], _now()
        for lo in range(0, n, BATCH):
            idx = order[lo : lo + BATCH]
            xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)
            if xb.dim() == 4:
                xb = xb.contiguous(memory_format=self.memory_format)
            logits = self.step_model(xb)
            loss = F.cross_entropy(logits, yb)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * len(idx)
                correct += (logits.argmax(1) == yb).sum()
            last = _lap(times, last)
        float(loss_sum), int(correct)
        return times


def measure(runners: dict[str, object], rounds: int) -> dict[str, tuple[float, float]]:
    """(wall, CPU-time) samples/s per variant from the median step durations."""
    for r in runners.values():
        r.epoch()  # warm-up (and compilation)
    steps: dict[str, list[tuple[float, float]]] = {k: [] for k in runners}
    names = list(runners)
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:  # alternate to cancel drift
            steps[name] += runners[name].epoch()[:-1]  # the last batch may be smaller
    return {
        k: (BATCH / statistics.median(w for w, _ in v), BATCH / statistics.median(c for _, c in v))
        for k, v in steps.items()
    }


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "eddl_train.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    x, y, source = load_data(args.samples)
    compile_error = None
    lines = [
        "## EDDL training vs plain PyTorch (bench/bench_eddl_train.py)",
        "",
        f"{datetime.date.today().isoformat()}, 2-core x86_64 CPU, shared; torch {torch.__version__}, "
        f"{args.threads} threads, batch {BATCH}, {args.samples} {source} samples per epoch, "
        f"{args.rounds} interleaved rounds of one epoch per variant (order alternating); "
        "samples/s = batch / median step time over all rounds (robust to the load of the "
        "shared machine).",
        "",
        "| model | variant | ratio to torch eager (wall) | ratio (CPU time) | samples/s (wall) "
        "| samples/s (CPU time) |",
        "|---|---|---|---|---|---|",
    ]
    for label, em, tm, xs in (
        ("MLP 784-1024x3-10", eddl_mlp, torch_mlp, x.reshape(len(x), -1)),
        ("CNN 2×conv 28×28", eddl_cnn, torch_cnn, x),
    ):
        torch.manual_seed(0)
        runners: dict[str, object] = {
            "eddl": EddlRunner(em, xs, y, args.threads),
            "torch": TorchRunner(tm, xs, y, args.threads),
            "eddl+bar": EddlRunner(em, xs, y, args.threads, bar=True),
        }
        if xs.ndim == 4:
            runners["eddl channels-last"] = EddlRunner(em, xs, y, args.threads, channels_last=True)
            runners["torch channels-last"] = TorchRunner(
                tm, xs, y, args.threads, channels_last=True
            )
        if not args.no_compile and compile_error is None:
            try:
                comp = {
                    "eddl compiled": EddlRunner(em, xs, y, args.threads, compile_=True),
                    "torch compiled": TorchRunner(tm, xs, y, args.threads, compile_=True),
                }
                for r in comp.values():
                    r.epoch()
                runners.update(comp)
            except Exception as err:
                compile_error = f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"
        rates = measure(runners, args.rounds)
        ref_wall, ref_cpu = rates["torch"]
        for name in (
            "eddl",
            "eddl compiled",
            "eddl channels-last",
            "eddl+bar",
            "torch",
            "torch compiled",
            "torch channels-last",
        ):
            if name not in rates:
                continue
            wall, cpu = rates[name]
            lines.append(
                f"| {label} | {name} | **{wall / ref_wall:.3f}** | {cpu / ref_cpu:.3f} | "
                f"{wall:.0f} | {cpu:.0f} |"
            )
            print(lines[-1], flush=True)
    lines.append("")
    if compile_error:
        lines.append(f"torch.compile failed here: `{compile_error}`")
    lines.append(
        "Goal: eddl/torch eager ≥ 0.97; an opt-in fast mode faster than plain PyTorch eager. "
        "Reference: the real EDDL 1.1b CPU build ran at 0.84× (MLP) and 0.41× (CNN) of plain "
        "PyTorch on this machine (issue 2)."
    )
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
