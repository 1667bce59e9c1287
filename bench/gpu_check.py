"""GPU check: CS_GPU training of a CNN, a ResNet-18 and a ResNet-50 with AMP, vs CPU and PyTorch.

On a machine with a CUDA GPU this script, for each model (the bench CNN on 1×28×28, a ResNet-18 on
3×64×64 in fp32 and bf16, and the zoo ResNet-50 on 3×224×224 with the AMP settings bf16, fp16 with
a gradient scaler, and bf16 with channels-last; random data with fixed seeds):

1. builds the same network (same seed, same initial weights) on CS_CPU and on CS_GPU and checks
   that the first forward pass and the loss after a few SGD steps agree (fp32: tight tolerance;
   mixed precision: loose tolerance);
2. measures training samples/s of `eddl.fit` on CS_GPU against the same model written in plain
   PyTorch with the same settings (same batch, SGD, the same autocast dtype, GradScaler for fp16,
   the same memory format; batches pinned before the copy, as `DataLoader(pin_memory=True)`),
   interleaved rounds, medians; the goal is a ratio >= 0.95.

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
        self.short = _shortcut(cin, cout, stride)

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(y)) + self.short(x))


def _shortcut(cin, cout, stride):
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


def _stem(channels):
    """torchvision's ResNet stem: 7×7/2 convolution, batch norm, ReLU, 3×3/2 max pooling."""
    return [nn.Conv2d(channels, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(3, 2, 1)]  # fmt: skip


def torch_resnet18(shape):
    layers = _stem(shape[0])
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [_Block(cin, cout, stride), _Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


def eddl_resnet50(shape):
    from deephealth.eddl.zoo import ResNet50

    return ResNet50(list(shape), 10)


class _Bottleneck(nn.Module):
    """torchvision's ResNet-50 block (stride on the 3×3 convolution)."""

    def __init__(self, cin, width, stride):
        super().__init__()
        cout = width * 4
        self.body = nn.Sequential(
            nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )  # fmt: skip
        self.short = _shortcut(cin, cout, stride)

    def forward(self, x):
        return F.relu(self.body(x) + self.short(x))


def torch_resnet50(shape):
    layers = _stem(shape[0])
    cin = 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
        for i in range(blocks):
            layers.append(_Bottleneck(cin, width, 2 if i == 0 and stage > 0 else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


MODELS = {
    "CNN": (eddl_cnn, torch_cnn, (1, 28, 28)),
    "ResNet-18": (eddl_resnet18, torch_resnet18, (3, 64, 64)),
    "ResNet-50": (eddl_resnet50, torch_resnet50, (3, 224, 224)),
}
# (model, precision, channels_last, batch): the AMP settings of the ResNet-50 check
CONFIGS = [
    ("CNN", None, False, 128),
    ("CNN", "bf16", False, 128),
    ("ResNet-18", None, False, 128),
    ("ResNet-18", "bf16", False, 128),
    ("ResNet-50", "bf16", False, 128),
    ("ResNet-50", "fp16", False, 128),
    ("ResNet-50", "bf16", True, 128),
]


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

    def __init__(self, make, shape, device, precision, channels_last, x, y, batch):
        torch.manual_seed(0)
        self.model = make(shape).to(device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y.argmax(1))
        self.device, self.batch = device, batch
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        use_scaler = precision == "fp16" and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.gen = torch.Generator().manual_seed(0)

    def epoch(self):
        n = self.x.shape[0]
        order = torch.randperm(n, generator=self.gen)
        loss_sum = torch.zeros((), device=self.device)
        for lo in range(0, n, self.batch):
            idx = order[lo : lo + self.batch]
            xb = self.x.index_select(0, idx)
            if self.device.type == "cuda":  # as DataLoader(pin_memory=True) does
                xb = xb.pin_memory()
            xb = xb.to(self.device, non_blocking=True)
            xb = xb.contiguous(memory_format=self.memory_format) if xb.dim() == 4 else xb
            yb = self.y.index_select(0, idx).to(self.device, non_blocking=True)
            self.opt.zero_grad(set_to_none=True)
            with torch.autocast(
                self.device.type, self.dtype or torch.float32, enabled=bool(self.dtype)
            ):
                logits = self.model(xb)
            loss = F.cross_entropy(logits.float(), yb)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.opt)
                self.scaler.update()
            else:
                loss.backward()
                self.opt.step()
            loss_sum += loss.detach() * len(idx)
        float(loss_sum)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def throughput(make_e, make_t, shape, cs, device, x, y, batch, rounds):
    net = build(make_e, shape, cs)
    plain = TorchLoop(make_t, shape, device, cs.precision, cs.channels_last, x, y, batch)
    n_eddl = sum(p.numel() for p in net.graph.parameters())
    n_torch = sum(p.numel() for p in plain.model.parameters())
    if n_eddl != n_torch:
        raise AssertionError(f"parameter counts differ: eddl {n_eddl}, torch {n_torch}")
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
    ap.add_argument("--models", nargs="*", default=list(MODELS), help="models to check")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "eddl_gpu.md")
    args = ap.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA GPU on this machine (torch.cuda.is_available() is False); "
            "nothing to check."
        )
        return []
    if args.dry_run:
        args.samples, args.rounds = 64, 1
    device = torch.device("cpu" if args.dry_run else "cuda")
    torch.backends.cudnn.benchmark = True  # the same for both sides
    rows: list[dict] = []
    rng = np.random.default_rng(0)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, precision, channels_last, batch in CONFIGS:
        if name not in args.models:
            continue
        make_e, make_t, shape = MODELS[name]
        if args.dry_run:
            shape, batch = ((shape[0], 32, 32) if shape[1] > 28 else shape), 32
        if name not in data:
            data.clear()  # one model's data in memory at a time
            x = rng.random((args.samples, *shape), dtype=np.float32)
            data[name] = x, np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.samples)]
        x, y = data[name]
        kind = eddl.CS_CPU if args.dry_run else lambda **kw: eddl.CS_GPU([1], **kw)
        cs = kind(precision=precision, channels_last=channels_last)
        row = {"model": name, "precision": precision or "fp32", "channels_last": channels_last,
               "batch": batch}  # fmt: skip
        try:
            diff, (loss_cpu, loss_gpu) = agreement(make_e, shape, cs, x[:128], y[:128], 4)
            rates = throughput(make_e, make_t, shape, cs, device, x, y, batch, args.rounds)
            row.update(max_abs_diff=diff, loss_cpu=loss_cpu, loss_gpu=loss_gpu,
                       eddl=rates["eddl"], torch=rates["torch"],
                       ratio=rates["eddl"] / rates["torch"])  # fmt: skip
        except Exception as err:  # one failing configuration must not hide the others
            row["error"] = f"{type(err).__name__}: {err}"
        rows.append(row)
        print(row, flush=True)
        if not args.dry_run:
            write(rows, args)  # after every row: a run cut short keeps what it measured
    return rows


def write(rows: list[dict], args: argparse.Namespace) -> None:
    gpu = torch.cuda.get_device_name(0)
    lines = [
        "## EDDL on CUDA (bench/gpu_check.py)",
        "",
        f"{datetime.date.today().isoformat()}, {gpu}; torch {torch.__version__}; "
        f"{args.samples} random samples per epoch, median of {args.rounds} interleaved rounds; "
        "SGD with momentum; the same autocast dtype, gradient scaler and memory format on both "
        "sides.",
        "",
        "| model | precision | memory format | batch | eddl / torch | eddl samples/s | "
        "torch samples/s | max |out GPU - out CPU| | loss CPU | loss GPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        head = (f"| {r['model']} | {r['precision']} | "
                f"{'channels-last' if r['channels_last'] else 'NCHW'} | {r['batch']} |")  # fmt: skip
        if "error" in r:
            lines.append(f"{head} failed: {r['error']} | | | | | |")
            continue
        lines.append(
            f"{head} **{r['ratio']:.3f}** | {r['eddl']:.0f} | {r['torch']:.0f} | "
            f"{r['max_abs_diff']:.2e} | {r['loss_cpu']:.4f} | {r['loss_gpu']:.4f} |"
        )
    lines += ["", "Goal: eddl / torch >= 0.95 on the GPU."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
