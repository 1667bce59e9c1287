"""Sequence models: EDDL LSTM training throughput vs plain PyTorch, and report decoding throughput
in onnxruntime (deephealth.serving.reports, numpy beam search) vs the torch path.

1. Training (samples/s, CPU): pyeddl's MNIST RNN form, `Input([28]) → LeakyReLu(Dense(·, 32)) →
   LSTM(·, 128) → Dense(10) → Softmax`, on (N, 28, 28) sequences (rows of Fashion-MNIST images;
   random data when missing), batch 100, SGD(0.01, 0.9), against the same network written in
   plain PyTorch (Linear on (N, T, 28), nn.LSTM, last step, Linear, `F.cross_entropy`). The
   runners and the interleaved median-step timing are those of `bench_eddl_train.py`.
2. Decoding (images/s, CPU): the report generator (`pipelines.report_generation`, 32×32 images,
   vocabulary 40, 28 steps forced with min_len = max_len), greedy (beam 1) and beam 3: torch
   (`model.beam_search`, the runtime's incremental decoding) vs onnxruntime (`ReportGenerator`);
   the same for the Transformer decoder (`transformer.beam_search`: the torch decoder step
   recomputes the prefix each step, under the numpy search; onnxruntime: the ONNX decoder step).

Run: `python bench/bench_sequences.py [--threads 2] [--rounds 5] [--samples 2000]`; writes
bench/results/sequences.md. `--decoding-only` prints the decoding table alone.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_eddl_train import EddlRunner, TorchRunner, load_data, measure

import deephealth.eddl as eddl

HERE = Path(__file__).resolve().parent


def eddl_rnn() -> eddl.Model:
    in_ = eddl.Input([28])
    x = eddl.LeakyReLu(eddl.Dense(in_, 32))
    x = eddl.LSTM(x, 128)
    return eddl.Model([in_], [eddl.Softmax(eddl.Dense(x, 10))])


class TorchRNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dense = nn.Linear(28, 32)
        self.act = nn.LeakyReLU(0.01)
        self.lstm = nn.LSTM(32, 128, batch_first=True)
        self.out = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(self.act(self.dense(x)))
        return self.out(h[-1])


def decoding(threads: int, n: int = 64, rounds: int = 3) -> dict[str, float]:
    """Images/s of the LSTM and Transformer report decoders, torch vs onnxruntime, 28 steps."""
    from deephealth.pipelines.report_generation import transformer
    from deephealth.pipelines.report_generation.export import export_for_serving
    from deephealth.pipelines.report_generation.model import beam_search, build_captioner
    from deephealth.pipelines.report_generation.vocab import Vocabulary
    from deephealth.serving.reports import ReportGenerator

    torch.manual_seed(0)
    voc = Vocabulary([f"w{i}" for i in range(37)])
    nets = {
        "LSTM": (build_captioner(len(voc), (1, 32, 32)), beam_search),
        # the task's default Transformer: d_model 32, 4 heads, 1 block, ff 64
        "Transformer": (
            transformer.build_transformer_captioner(len(voc), (1, 32, 32), 28, d_model=32,
                                                    heads=4, layers=1, ff=64),
            transformer.beam_search,
        ),
    }  # fmt: skip
    images = np.random.default_rng(0).random((n, 1, 32, 32), dtype=np.float32)
    out = {}
    for kind, (net, search) in nets.items():
        eddl.build(net, eddl.adam(), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU(threads))
        with tempfile.TemporaryDirectory() as tmp:
            gen = ReportGenerator(export_for_serving(net, voc, tmp, 28), threads=threads)
            for beam in (1, 3):
                for name, fn in (
                    ("torch", lambda b=beam, s=search, m=net: s(m, images, b, 28, min_len=28)),
                    ("onnxruntime", lambda b=beam, g=gen: g.beam_search(images, b, 28, min_len=28)),
                ):
                    fn()
                    best = min(_timed(fn) for _ in range(rounds))
                    out[f"{kind} beam {beam}, {name}"] = n / best
    return out


def _decoding_table(dec: dict[str, float]) -> str:
    lines = ["| Report decoding, 28 steps | images/s | × torch |", "|---|---|---|"]
    for name, speed in dec.items():
        beam = name.split(",")[0]
        lines.append(f"| {name} | {speed:.0f} | {speed / dec[f'{beam}, torch']:.2f} |")
    return "\n".join(lines) + "\n"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--decoding-only", action="store_true", help="skip the LSTM training rows")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.decoding_only:
        text = _decoding_table(decoding(args.threads))
        print(text)
        return text
    x, y, source = load_data(args.samples)
    x = np.ascontiguousarray(x.reshape(-1, 28, 28))
    runners = {
        "eddl": EddlRunner(eddl_rnn, x, y, args.threads),
        "torch": TorchRunner(TorchRNN, x, y, args.threads),
    }
    speeds = measure(runners, args.rounds)
    dec = decoding(args.threads)
    base_wall, base_cpu = speeds["torch"]
    lines = [
        f"# Sequence models ({datetime.date.today()}, {platform.processor() or platform.machine()},"
        f" {args.threads} threads, data: {source})",
        "",
        "| LSTM training (MNIST RNN form) | samples/s (wall) | × torch | samples/s (CPU time) | × torch |",
        "|---|---|---|---|---|",
    ]
    for name, (wall, cpu) in speeds.items():
        lines.append(
            f"| {name} | {wall:.0f} | {wall / base_wall:.3f} | {cpu:.0f} | {cpu / base_cpu:.3f} |"
        )
    text = "\n".join(lines) + "\n\n" + _decoding_table(dec)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "sequences.md").write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
