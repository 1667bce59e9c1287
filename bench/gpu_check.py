"""GPU check: CS_GPU training of a CNN and a ResNet-18, fp32 and bf16, vs CPU and plain PyTorch.

On a machine with a CUDA GPU this script, for each model (the bench CNN on 1×28×28 and a
ResNet-18 on 3×64×64, random data with fixed seeds):

1. builds the same network (same seed, same initial weights) on CS_CPU and on CS_GPU and checks
   that the first forward pass and the loss after a few SGD steps agree (fp32: tight tolerance;
   bf16: loose tolerance);
2. measures training samples/s of `eddl.fit` on CS_GPU against the same model written in plain
   PyTorch with the same settings (same batch, SGD, autocast bf16 or not), interleaved rounds,
   medians; the goal is a ratio >= 0.95.

Without CUDA it prints that there is no GPU and exits with status 0. `--dry-run` runs the whole
flow on the CPU with tiny sizes (it checks the script itself, not the GPU). Results go to
bench/results/eddl_gpu.md (not with --dry-run).
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


# -- the models, once with the pyeddl API and once in plain PyTorch ------------------------------
def eddl_cnn(shape):
    in_ = eddl.Input(shape)
    x = eddl.MaxPool2D(eddl.ReLu(eddl.Conv2D(in_, 16, [3, 3])), [2, 2])
    x = eddl.MaxPool2D(eddl.ReLu(eddl.Conv2D(x, 32, [3, 3])), [2, 2])
    return eddl.Model([in_], [eddl.Softmax(eddl.Dense(eddl.Flatten(x), 10))])


def torch_cnn(shape):
    c, h, w = shape
    return nn.Sequential(
        nn.Conv2d(c, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (h // 4) * (w // 4), 10),
    )


def _eddl_block(x, filters, stride):
    shortcut = x
    y = eddl.ReLu(
        eddl.BatchNormalization(
            eddl.Conv2D(x, filters, [3, 3], [stride, stride], use_bias=False), True
        )
    )
    y = eddl.BatchNormalization(eddl.Conv2D(y, filters, [3, 3], use_bias=False), True)
    if stride != 1 or x.output_shape[0] != filters:
        shortcut = eddl.BatchNormalization(
            eddl.Conv2D(x, filters, [1, 1], [stride, stride], use_bias=False), True
        )
    return eddl.ReLu(eddl.Add([y, shortcut]))


def eddl_resnet18(shape):
    in_ = eddl.Input(shape)
    x = eddl.ReLu(
        eddl.BatchNormalization(eddl.Conv2D(in_, 64, [7, 7], [2, 2], use_bias=False), True)
    )
    x = eddl.MaxPool2D(x, [3, 3], [2, 2], "same")
    for filters, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        x = _eddl_block(_eddl_block(x, filters, stride), filters, 1)
    x = eddl.Flatten(eddl.GlobalAveragePool2D(x))
    return eddl.Model([in_], [eddl.Softmax(eddl.Dense(x, 10))])


class _Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout, momentum=0.1)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout, momentum=0.1)
        self.short = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(y)) + self.short(x))


def torch_resnet18(shape):
    layers = [
        nn.Conv2d(shape[0], 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [_Block(cin, cout, stride), _Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


MODELS = {
    "CNN": (eddl_cnn, torch_cnn, (1, 28, 28)),
    "ResNet-18": (eddl_resnet18, torch_resnet18, (3, 64, 64)),
}


# -- checks -------------------------------------------------------------------------------------
def build(make, shape, cs, seed=0):
    eddl.set_seed(seed)
    net = make(shape)
    eddl.build(net, eddl.sgd(0.01, 0.9), ["softmax_cross_entropy"], ["categorical_accuracy"], cs)
    return net


def agreement(make, shape, gpu_cs, x, y, steps):
    """Max |output difference| of the first forward, and losses after `steps` steps, CPU vs GPU."""
    cpu = build(make, shape, eddl.CS_CPU())
    gpu = build(make, shape, gpu_cs)
    p_cpu = np.array(eddl.predict(cpu, [x[:32]])[0])
    p_gpu = np.array(eddl.predict(gpu, [x[:32]])[0].getdata())
    losses = []
    for net in (cpu, gpu):
        eddl.fit(net, [x], [y], 32, 1, shuffle=False, verbose=0)
        losses.append(eddl.get_losses(net)[0])
        del net
    return float(np.abs(p_cpu - p_gpu).max()), losses


class TorchLoop:
    """The plain PyTorch training loop with the same settings as `eddl.fit`."""

    def __init__(self, make, shape, device, bf16, x, y, batch):
        torch.manual_seed(0)
        self.model = make(shape).to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y.argmax(1))
        self.device, self.bf16, self.batch = device, bf16, batch
        self.gen = torch.Generator().manual_seed(0)

    def epoch(self):
        n = self.x.shape[0]
        order = torch.randperm(n, generator=self.gen)
        loss_sum = torch.zeros((), device=self.device)
        for lo in range(0, n, self.batch):
            idx = order[lo : lo + self.batch]
            xb = self.x.index_select(0, idx).to(self.device, non_blocking=True)
            yb = self.y.index_select(0, idx).to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
                logits = self.model(xb)
            loss = F.cross_entropy(logits.float(), yb)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            loss_sum += loss.detach() * len(idx)
        float(loss_sum)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def throughput(make_e, make_t, shape, cs, device, bf16, x, y, batch, rounds):
    net = build(make_e, shape, cs)
    plain = TorchLoop(make_t, shape, device, bf16, x, y, batch)
    runs = {"eddl": lambda: eddl.fit(net, [x], [y], batch, 1, verbose=0), "torch": plain.epoch}
    for fn in runs.values():
        fn()
    rates = {k: [] for k in runs}
    for i in range(rounds):
        for name in list(runs) if i % 2 == 0 else list(runs)[::-1]:
            sync()
            t0 = time.perf_counter()
            runs[name]()
            sync()
            rates[name].append(len(x) / (time.perf_counter() - t0))
    return {k: statistics.median(v) for k, v in rates.items()}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="run the flow on the CPU, tiny sizes")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "eddl_gpu.md")
    args = ap.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA GPU on this machine (torch.cuda.is_available() is False); "
            "nothing to check."
        )
        return []
    if args.dry_run:
        args.samples, args.rounds, args.batch = 64, 1, 32
    device = torch.device("cpu" if args.dry_run else "cuda")
    rows = []
    rng = np.random.default_rng(0)
    for name, (make_e, make_t, shape) in MODELS.items():
        if args.dry_run:
            shape = (shape[0], 32, 32) if name == "ResNet-18" else shape
        x = rng.random((args.samples, *shape), dtype=np.float32)
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.samples)]
        for bf16 in (False, True):
            precision = "bf16" if bf16 else None
            cs = (
                eddl.CS_CPU(precision=precision)
                if args.dry_run
                else eddl.CS_GPU([1], precision=precision)
            )
            diff, (loss_cpu, loss_gpu) = agreement(make_e, shape, cs, x[:128], y[:128], 4)
            rates = throughput(
                make_e, make_t, shape, cs, device, bf16, x, y, args.batch, args.rounds
            )
            row = {
                "model": name,
                "precision": precision or "fp32",
                "max_abs_diff": diff,
                "loss_cpu": loss_cpu,
                "loss_gpu": loss_gpu,
                "eddl": rates["eddl"],
                "torch": rates["torch"],
                "ratio": rates["eddl"] / rates["torch"],
            }
            rows.append(row)
            print(row, flush=True)
    if not args.dry_run:
        write(rows, args)
    return rows


def write(rows: list[dict], args: argparse.Namespace) -> None:
    gpu = torch.cuda.get_device_name(0)
    lines = [
        "## EDDL on CUDA (bench/gpu_check.py)",
        "",
        f"{datetime.date.today().isoformat()}, {gpu}; torch {torch.__version__}; batch "
        f"{args.batch}, {args.samples} random samples per epoch, median of {args.rounds} rounds.",
        "",
        "| model | precision | eddl / torch | eddl samples/s | torch samples/s | "
        "max |out GPU - out CPU| | loss CPU | loss GPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['precision']} | **{r['ratio']:.3f}** | {r['eddl']:.0f} | "
            f"{r['torch']:.0f} | {r['max_abs_diff']:.2e} | {r['loss_cpu']:.4f} | "
            f"{r['loss_gpu']:.4f} |"
        )
    lines += ["", "Goal: eddl / torch >= 0.95 on the GPU."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
