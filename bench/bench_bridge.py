"""Benchmark: ``DLDataset.LoadBatch`` into ``eddl.Tensor`` buffers against numpy buffers.

pyecvl scripts preallocate ``x = Tensor([bs, C, H, W])`` and call ``d.LoadBatch(x, y)``. This
measures what the ECVL↔EDDL bridge costs there: the same dataset, augmentations and batches are
loaded into eddl.Tensor buffers, into numpy arrays, and with no buffer at all (the loader's own
torch tensors), in interleaved rounds; the figure is images per second of this process's CPU time
(`time.process_time`: on a shared machine the time other processes hold the cores is not
counted; with `num_workers=0` all the loading runs in this process), median over rounds.

Data: PNG 64×64 RGB crops of scikit-image's immunohistochemistry slide, written to a temporary
folder; augmentations: resize to 56×56, random flip, float32 / 255. Goal: eddl.Tensor ≥ 0.95× numpy.
This is a benchmark, not a test: ``python bench/bench_bridge.py [--images 512 --rounds 7]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

BATCH = 64


def make_dataset(folder: Path, n: int) -> Path:
    """Write ``n`` PNG crops of a real slide image and a two-class dataset YAML."""
    import cv2
    import skimage.data

    src = cv2.cvtColor(skimage.data.immunohistochemistry(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(0)
    lines = ["name: bridge", "classes: [a, b]", "images:"]
    for i in range(n):
        y, x = rng.integers(0, 512 - 64, 2)
        cv2.imwrite(str(folder / f"i{i}.png"), src[y : y + 64, x : x + 64])
        lines.append(f"  - location: i{i}.png\n    label: {'ab'[i % 2]}")
    yml = folder / "bridge.yml"
    yml.write_text("\n".join(lines) + "\n")
    return yml


def run_epoch(yml: Path, target: str) -> float:
    """Load every full batch of the training split into ``target`` buffers; images per CPU-second."""
    import deephealth.ecvl as ecvl
    from deephealth import eddl

    augs = ecvl.DatasetAugmentations(
        [ecvl.SequentialAugmentationContainer(
            [ecvl.AugResizeDim([56, 56]), ecvl.AugMirror(0.5), ecvl.AugToFloat32(255)]
        )]
    )  # fmt: skip
    d = ecvl.DLDataset(str(yml), BATCH, augs, ecvl.ColorType.RGB, num_workers=0, seed=1)
    shape_x, shape_y = [BATCH, 3, 56, 56], [BATCH, 2]
    if target == "eddl":
        x, y = eddl.Tensor(shape_x), eddl.Tensor(shape_y)
    elif target == "numpy":
        x, y = np.zeros(shape_x, np.float32), np.zeros(shape_y, np.float32)
    else:
        x = y = None
    n = len(d.split_[0].samples_indices_) // BATCH
    t0 = time.process_time()
    for _ in range(n):
        d.LoadBatch(x, y)
    return n * BATCH / (time.process_time() - t0)


def main() -> None:
    """Run the rounds and print a markdown section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    targets = ["eddl", "numpy", "none"]
    results: dict[str, list[float]] = {t: [] for t in targets}
    with tempfile.TemporaryDirectory() as tmp:
        yml = make_dataset(Path(tmp), args.images)
        run_epoch(yml, "eddl")  # warm-up: imports, file cache
        for r in range(args.rounds):
            for t in targets[r % 3 :] + targets[: r % 3]:  # rotate the order every round
                results[t].append(run_epoch(yml, t))
    med = {t: statistics.median(v) for t, v in results.items()}
    load = os.getloadavg()[0]
    print("## ECVL↔EDDL bridge: LoadBatch into eddl.Tensor (`bench/bench_bridge.py`)\n")
    print(
        f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()}-core CPU, Python "
        f"{platform.python_version()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}; "
        f"1-minute load average {load:.1f} (machine shared with other work: noisy). "
        f"{args.images} PNG 64×64 RGB, resize 56, mirror, /255, batches of {BATCH}, "
        f"median of {args.rounds} interleaved rounds.\n"
    )
    print("| LoadBatch into | images per CPU-second | vs numpy |")
    print("|---|---:|---:|")
    for t, label in [("eddl", "eddl.Tensor (x, y)"), ("numpy", "numpy arrays (x, y)"),
                     ("none", "no buffer (loader's torch tensors)")]:  # fmt: skip
        print(f"| {label} | {med[t]:.0f} | {med[t] / med['numpy']:.3f}x |")
    print("\nGoal: eddl.Tensor ≥ 0.95x numpy.")


if __name__ == "__main__":
    main()
