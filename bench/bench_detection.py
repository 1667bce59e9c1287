"""The 2D detector: training throughput against the same network in plain PyTorch, and inference
of the exported ONNX model (decoding + NonMaxSuppression in the graph) against the torch path.

Training: the zoo's `fcos` (encoder stages of 16/32/64 filters, FPN width 32, output stride 4,
2 classes; input 1×128×128) trained with `eddl.fit` and EDDL's `fcos` loss, against a plain
`torch.nn.Module` with the same layers trained by an idiomatic loop with the same loss function
(Adam 1e-3, batch 16). Targets are FCOS maps of synthetic lesion phantoms
(`pipelines.synthetic.make_lesions_phantom`). Variants interleave epoch by epoch
(`bench_eddl_train.measure`); samples/s = batch / median step time.

Inference: after a short training (so the scores look like a trained detector's, not like random
weights' where every location passes the score threshold), batches of 8 phantoms through
(a) the torch path: `eddl.predict` + `zoo.detection.decode.decode_fcos` (per-class NMS in torch),
(b) the exported file in onnxruntime (`deephealth.serving.InferenceSession`), same thread count;
the median of `--rounds` timed batches, interleaved. Both return the same boxes (checked).

Run: `python bench/bench_detection.py [--threads 1] [--rounds 7] [--samples 160]`;
writes bench/results/detection.md.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from bench_eddl_train import _lap, _now, measure
from torch import nn

import deephealth.eddl as eddl
from deephealth.eddl import zoo
from deephealth.eddl.training.detection_losses import fcos as fcos_loss
from deephealth.eddl.zoo.detection.decode import decode_fcos
from deephealth.eddl.zoo.detection.onnx_nms import save_detector
from deephealth.eddl.zoo.detection.targets import encode_fcos
from deephealth.pipelines.synthetic import make_lesions_phantom
from deephealth.serving import InferenceSession

HERE = Path(__file__).resolve().parent
BATCH = 16
SHAPE = (1, 128, 128)
CLASSES = 2
FILTERS = (16, 32, 64)
FPN = 32
STRIDE = 4
TYPES = ("nodule", "cyst")


def phantoms(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 1, H, W) and FCOS target maps of lesion phantoms."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n):
        img, lesions = make_lesions_phantom(SHAPE[1:], rng, TYPES, (2, 5), (0.04, 0.08))
        boxes = [o["box"] for o in lesions]
        labels = [TYPES.index(o["lesion_type"]) for o in lesions]
        xs.append(((img - img.mean()) / img.std())[None])
        ys.append(encode_fcos(boxes, labels, SHAPE[1:], CLASSES, STRIDE))
    return np.stack(xs).astype(np.float32), np.stack(ys)


def _cbr(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class TorchFCOS(nn.Module):
    """The zoo's FCOS written in plain PyTorch (same layers, same order)."""

    def __init__(self) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        c = SHAPE[0]
        for k, f in enumerate(FILTERS):
            pool = [nn.MaxPool2d(2)] if k else []
            self.stages.append(nn.Sequential(*pool, *_cbr(c, f), *_cbr(f, f)))
            c = f
        out_level = STRIDE.bit_length() - 1
        self.top = nn.Conv2d(FILTERS[-1], FPN, 1)
        self.laterals = nn.ModuleList(
            nn.Conv2d(FILTERS[k], FPN, 1) for k in range(len(FILTERS) - 2, out_level - 1, -1)
        )
        self.head = nn.Sequential(*_cbr(FPN, FPN), *_cbr(FPN, FPN))
        self.cls = nn.Conv2d(FPN, CLASSES, 3, padding=1)
        self.box = nn.Conv2d(FPN, 4, 3, padding=1)
        self.ctr = nn.Conv2d(FPN, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        top = self.top(feats[-1])
        for k, lateral in zip(range(len(FILTERS) - 2, -1, -1), self.laterals):
            top = nn.functional.interpolate(top, scale_factor=2, mode="nearest") + lateral(feats[k])
        h = self.head(top)
        return torch.cat([self.cls(h), nn.functional.softplus(self.box(h)), self.ctr(h)], 1)


def build_eddl(threads: int) -> eddl.Model:
    net = zoo.build_model("fcos", SHAPE, CLASSES, filters=FILTERS, fpn_filters=FPN, stride=STRIDE)
    eddl.build(net, eddl.adam(1e-3), ["fcos"], [], eddl.CS_CPU(threads))
    return net


class EddlDetector:
    """One epoch of `eddl.fit` on the zoo's FCOS per call."""

    def __init__(self, x: np.ndarray, y: np.ndarray, threads: int) -> None:
        from bench_eddl_train import StepTimer

        self.timer_cls = StepTimer
        self.net = build_eddl(threads)
        self.x, self.y = x, y

    def epoch(self) -> list[tuple[float, float]]:
        timer = self.timer_cls()
        eddl.fit(self.net, [self.x], [self.y], BATCH, 1, verbose=0, callbacks=[timer])
        return timer.times


class TorchDetector:
    """One epoch of an idiomatic PyTorch loop (shuffle, the same FCOS loss, Adam, loss sum)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.model = TorchFCOS()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.gen = torch.Generator().manual_seed(0)

    def epoch(self) -> list[tuple[float, float]]:
        n = self.x.shape[0]
        order = torch.randperm(n, generator=self.gen)
        loss_sum = torch.zeros(())
        self.model.train()
        times, last = [], _now()
        for lo in range(0, n, BATCH):
            idx = order[lo : lo + BATCH]
            loss = fcos_loss(self.model(self.x.index_select(0, idx)), self.y.index_select(0, idx))
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            with torch.no_grad():
                loss_sum += loss.detach() * len(idx)
            last = _lap(times, last)
        float(loss_sum)
        return times


def inference(threads: int, rounds: int, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Median seconds per batch of 8 of the torch path and of onnxruntime, and their boxes."""
    net = build_eddl(threads)
    eddl.fit(net, [x], [y], BATCH, 6, verbose=0)  # scores like a trained detector's
    batch = x[:8]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "det.onnx"
        save_detector(net, path, CLASSES, STRIDE)
        session = InferenceSession(path, threads=threads)

        def torch_path() -> dict[str, torch.Tensor]:
            raw = torch.from_numpy(np.asarray(eddl.predict(net, [batch])[0]))
            return decode_fcos(raw, CLASSES, STRIDE)

        def ort_path() -> list[np.ndarray]:
            return session.run(batch)

        def network_only() -> np.ndarray:
            return np.asarray(eddl.predict(net, [batch])[0])

        ref, got = torch_path(), ort_path()
        assert len(ref["boxes"]) == len(got[0]), (len(ref["boxes"]), len(got[0]))
        np.testing.assert_allclose(ref["boxes"].numpy(), got[0], atol=1e-2)
        times: dict[str, list[float]] = {"torch": [], "onnxruntime": [], "network": []}
        for i in range(rounds):
            order = [("torch", torch_path), ("onnxruntime", ort_path), ("network", network_only)]
            for name, fn in order if i % 2 == 0 else order[::-1]:
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
        return {
            **{k: statistics.median(v) for k, v in times.items()},
            "detections": float(len(ref["boxes"])),
        }


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--samples", type=int, default=160)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "detection.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    x, y = phantoms(args.samples, 0)
    torch.manual_seed(0)
    rates = measure(
        {"eddl": EddlDetector(x, y, args.threads), "torch": TorchDetector(x, y)}, args.rounds
    )
    (ew, ec), (tw, tc) = rates["eddl"], rates["torch"]
    inf = inference(args.threads, args.rounds, x, y)
    lines = [
        "## 2D detector: training vs plain PyTorch, ONNX with NMS vs the torch path "
        "(bench/bench_detection.py)",
        "",
        f"{datetime.date.today().isoformat()}, {args.threads} thread(s), torch {torch.__version__}; "
        f"FCOS {SHAPE}, filters {FILTERS}, FPN {FPN}, stride {STRIDE}, {CLASSES} classes; "
        f"training batch {BATCH}, {args.samples} phantoms per epoch, {args.rounds} interleaved "
        "rounds; samples/s = batch / median step time.",
        "",
        "| training | eddl / torch (wall) | eddl / torch (CPU time) | eddl samples/s | torch samples/s |",
        "|---|---|---|---|---|",
        f"| fcos | **{ew / tw:.3f}** | {ec / tc:.3f} | {ew:.0f} | {tw:.0f} |",
        "",
        "| inference, batch of 8 | median ms | speed-up vs torch path |",
        "|---|---|---|",
        f"| torch path (eddl.predict + decode_fcos) | {inf['torch'] * 1e3:.1f} | 1 |",
        f"| ONNX with NonMaxSuppression (onnxruntime) | {inf['onnxruntime'] * 1e3:.1f} | "
        f"**{inf['torch'] / inf['onnxruntime']:.2f}×** |",
        f"| (the torch path's network alone, eddl.predict) | {inf['network'] * 1e3:.1f} | "
        f"{inf['torch'] / inf['network']:.2f}× |",
        "",
        f"{inf['detections']:.0f} detections per batch (score > 0.05), equal boxes on both paths. "
        "Goals: training ≥ 0.95× plain PyTorch; ONNX inference ≥ 2× the torch path.",
    ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
