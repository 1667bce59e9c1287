"""The 3D nodule detector on nodules of 3 to 30 mm: CPM on held-out CT-like phantoms, overall and
by nodule size (3-10, 10-20, 20-30 mm).

Data: `pipelines.synthetic.make_lesions_phantom` volumes of 64³ at 1 mm with 1-3 spherical
nodules of 3-30 mm each (a 30 mm nodule is half a 48³ window). Network: `CenterNet3D` with a
fourth encoder stage (stride 8, so the receptive field spans a 30 mm nodule; filters 8/16/32/48,
FPN 16, output stride 2; diameters regressed through softplus) and the offset head (the centre
within its output location, so a 3 mm nodule's centre is found to better than the stride), the
heat prior of `set_heat_prior`. Training on 48³ patches (half centred within ±12 voxels of a
nodule, so large nodules are also seen cut by the patch border), Adam 3e-3, batches of 2.
Inference on whole held-out volumes by sliding 48³ windows with 25 % overlap through the
exported ONNX file with its peak finding (`serving.detection3d.detect_volume_session`,
onnxruntime only); detections of the same nodule in several windows are merged (a detection
within the radius of a better one is dropped) and scored by the windows' vote. Scores: FROC /
CPM (LUNA16 rates 1/8 ... 8 false positives per scan); per size bin, the FROC of that bin's
nodules (detections on nodules of other bins are neither hits nor false positives).

Run: `python bench/bench_detection3d_large.py [--train 24] [--test 30] [--epochs 20]
[--shape 64 --patch 48 --voxel-mm 1] [--no-offsets] [--keep DIR]`; writes
bench/results/detection3d_large.md. On a loaded 2-core machine the 1 mm setting takes hours;
`--shape 48 --patch 32 --voxel-mm 2 --filters 8,16,32,32` (the same 96 mm field and 64 mm
windows at half the resolution) is what bench/RESULTS.md reports.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import deephealth.eddl as eddl
from deephealth.eddl.zoo.detection.centernet3d import CenterNet3D, encode_centres, set_heat_prior
from deephealth.eddl.zoo.detection.onnx_peaks import save_detector3d
from deephealth.pipelines.detection_metrics import froc
from deephealth.pipelines.synthetic import make_lesions_phantom
from deephealth.serving import InferenceSession
from deephealth.serving.detection3d import detect_volume_session

HERE = Path(__file__).resolve().parent
SHAPE, PATCH, VOXEL_MM = (64, 64, 64), 48, 1.0  # set by the command line
FILTERS, FPN, STRIDE = (8, 16, 32, 48), 16, 2
OFFSETS = True  # CenterNet's offset head (--no-offsets: centres at the locations' middles)
BINS = ((3, 10), (10, 20), (20, 30.01))  # mm


def volumes(n: int, seed: int) -> list[tuple[np.ndarray, list[dict[str, Any]]]]:
    """`n` z-scored phantoms with their nodules (3-30 mm at `VOXEL_MM`)."""
    rng = np.random.default_rng(seed)
    out = []
    d = (3 / VOXEL_MM, 30 / VOXEL_MM)
    for _ in range(n):
        img, nodules = make_lesions_phantom(SHAPE, rng, ("nodule",), (1, 3), diameter_px=d)
        out.append((((img - img.mean()) / img.std()).astype(np.float32), nodules))
    return out


def patches(vols: list, per_volume: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Training patches (half near a nodule) and their CenterNet targets."""
    xs, ys = [], []
    top = np.array(SHAPE) - PATCH
    for img, nodules in vols:
        centres = np.array([o["center"] for o in nodules]).reshape(-1, 3)
        diameters = np.array([2 * o["radius"] for o in nodules])
        for k in range(per_volume):
            if k % 2 == 0:
                c = centres[rng.integers(len(centres))]
                j = PATCH // 4
                lo = np.clip((c - PATCH / 2 + rng.integers(-j, j + 1, 3)).astype(int), 0, top)
            else:
                lo = rng.integers(0, top + 1)
            xs.append(img[lo[0] : lo[0] + PATCH, lo[1] : lo[1] + PATCH, lo[2] : lo[2] + PATCH])
            ys.append(encode_centres(centres - lo, diameters, np.zeros(len(diameters)),
                                     (PATCH,) * 3, 1, STRIDE, OFFSETS))  # fmt: skip
    return np.stack(xs)[:, None], np.stack(ys)


def by_size(lesions: list[dict], found: list[dict], lo: float, hi: float) -> dict[str, Any] | None:
    """FROC of the nodules of diameter in [lo, hi): detections on other nodules are left out."""
    les, det = [], []
    for truth, d in zip(lesions, found):
        mm = truth["diameters"] * VOXEL_MM
        inside = (mm >= lo) & (mm < hi)
        dist = np.linalg.norm(d["centers"][:, None] - truth["centers"][None], axis=2)
        on_other = ((dist <= truth["diameters"][None] / 2) & ~inside[None]).any(axis=1)
        les.append({k: v[inside] for k, v in truth.items()})
        det.append({k: v[~on_other] for k, v in d.items()})
    n = sum(len(v["diameters"]) for v in les)
    return {**froc(les, det), "n": n} if n else None


def keep(folder: Path, model: Path, lesions: list[dict], found: list[dict]) -> None:
    """Copy the model and write each held-out volume's nodules and detections (npz)."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(model, folder / model.name)
    arrays = {f"{k}_{i}_{key}": v for k, rows in (("truth", lesions), ("found", found))
              for i, row in enumerate(rows) for key, v in row.items()}  # fmt: skip
    np.savez(folder / "detections.npz", **arrays)


def evaluate(
    net: Any, test: list, threads: int, folder: Path | None = None
) -> tuple[list, list, float]:
    """Each held-out volume's nodules and detections through the exported ONNX model, and the
    seconds per volume; `folder` keeps the model and the detections."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "det3d.onnx"
        save_detector3d(net, path, 1, STRIDE, threshold=0.1, top_k=50, overlap=0.25)
        session = InferenceSession(path, threads=threads)
        t1 = time.perf_counter()
        lesions, found = [], []
        for img, nodules in test:
            det = detect_volume_session(session, img[None])
            lesions.append({
                "centers": np.array([o["center"] for o in nodules]).reshape(-1, 3),
                "diameters": np.array([2 * o["radius"] for o in nodules]),
            })  # fmt: skip
            found.append({"centers": det["centres"], "scores": det["scores"],
                          "diameters": det["diameters"]})  # fmt: skip
        infer_s = (time.perf_counter() - t1) / len(test)
        if folder:
            keep(folder, path, lesions, found)
    return lesions, found, infer_s


def main(argv: list[str] | None = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=24)
    ap.add_argument("--test", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--per-volume", type=int, default=3)
    ap.add_argument("--batch", type=int, default=2, help="patches per optimiser step")
    ap.add_argument("--eval-every", type=int, default=0, help="print the CPM every N epochs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shape", type=int, default=64, help="volume side (voxels)")
    ap.add_argument("--patch", type=int, default=48, help="patch and window side (voxels)")
    ap.add_argument("--voxel-mm", type=float, default=1.0, help="voxel size (nodules 3-30 mm)")
    ap.add_argument("--filters", default="8,16,32,48")
    ap.add_argument("--no-offsets", action="store_true", help="without the offset head")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "detection3d_large.md")
    ap.add_argument("--keep", type=Path, help="folder to keep the ONNX model and detections in")
    args = ap.parse_args(argv)
    global SHAPE, PATCH, VOXEL_MM, FILTERS, OFFSETS
    OFFSETS = not args.no_offsets
    SHAPE, PATCH, VOXEL_MM = (args.shape,) * 3, args.patch, args.voxel_mm
    FILTERS = tuple(int(f) for f in args.filters.split(","))
    torch.set_num_threads(args.threads)
    train, test = volumes(args.train, 0), volumes(args.test, 1)
    rng = np.random.default_rng(2)
    torch.manual_seed(0)
    net = CenterNet3D((1, PATCH, PATCH, PATCH), 1, FILTERS, FPN, STRIDE, OFFSETS)
    loss = "centernet_offsets" if OFFSETS else "centernet"
    eddl.build(net, eddl.adam(3e-3), [loss], [], eddl.CS_CPU(args.threads))
    set_heat_prior(net)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        x, y = patches(train, args.per_volume, rng)
        eddl.fit(net, [x], [y], args.batch, 1, verbose=0)
        line = f"epoch {epoch + 1}/{args.epochs} {time.perf_counter() - t0:.0f} s"
        if args.eval_every and (epoch + 1) % args.eval_every == 0 and epoch + 1 < args.epochs:
            t_eval = time.perf_counter()
            line += f", CPM {froc(*evaluate(net, test, args.threads)[:2])['cpm']:.3f}"
            t0 += time.perf_counter() - t_eval  # (not training time)
        print(line, flush=True)
    train_s = time.perf_counter() - t0
    lesions, found, infer_s = evaluate(net, test, args.threads, args.keep)
    overall = froc(lesions, found)
    rows = [("all, 3-30 mm", {**overall, "n": sum(len(v["diameters"]) for v in lesions)})]
    for lo, hi in BINS:
        r = by_size(lesions, found, lo, hi)
        if r is not None:
            rows.append((f"{lo:g}-{round(hi):g} mm", r))
    lines = [
        "## 3D nodule detector on 3-30 mm nodules (bench/bench_detection3d_large.py)",
        "",
        f"{datetime.date.today().isoformat()}, {args.threads} thread(s), torch {torch.__version__}; "
        f"phantoms {SHAPE} at {VOXEL_MM:g} mm, {args.train} training / {args.test} held-out volumes, "
        f"CenterNet3D filters {FILTERS}, FPN {FPN}, stride {STRIDE}"
        f"{', offset head' if OFFSETS else ''}, patches {PATCH}³ "
        f"({args.per_volume} per volume and epoch, batches of {args.batch}, {args.epochs} epochs, "
        f"{train_s:.0f} s); "
        f"sliding {PATCH}³ windows, 25 % overlap, ONNX with peak finding "
        f"({infer_s:.2f} s per volume).",
        "",
        "| nodules | count | CPM | sens. @1/8 | @1/2 | @1 | @8 FP/scan |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        s = r["sensitivity"]
        lines.append(f"| {name} | {r['n']} | **{r['cpm']:.3f}** | {s[0]:.2f} | {s[2]:.2f} | "
                     f"{s[3]:.2f} | {s[6]:.2f} |")  # fmt: skip
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main(sys.argv[1:])
