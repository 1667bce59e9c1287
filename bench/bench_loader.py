"""Benchmark: DLDataset against MONAI and a plain torch DataLoader over hand-written OpenCV code.

Two pipelines, the same work and the same worker count for every peer, interleaved rounds:

* 2D: PNG 256×256 RGB → load → resize 224 → random flip → random rotate ±15° → scale intensity
  → batches of 32.
* 3D: NIfTI 128³ float32 → random crop 96³ → random flip → normalize → batches of 4.

Data are generated into a temporary folder from real images (scikit-image's immunohistochemistry
slide for 2D, the Colin27 T1 for 3D when installed). Each measurement runs in a fresh subprocess,
which reports images/s over the timed epochs (after one warm-up epoch; torch peers use persistent
workers) and the peak proportional memory (PSS) of its process tree. OpenCV and torch run one
thread per worker in every peer. The script prints a markdown section and writes it to
``bench/results/loader.md``. This is a benchmark, not a test: ``python bench/bench_loader.py``.
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
import threading
import time
from pathlib import Path

import numpy as np

BATCH_2D, BATCH_3D = 32, 4
ANGLE = 15.0
PEERS = {
    "2d": [
        "dldataset",
        "dldataset-process",
        "torch-opencv",
        "monai",
        "dldataset-cache",
        "monai-persistent",
    ],
    "3d": ["dldataset", "torch-numpy", "monai"],
}
COLIN = "/usr/share/mricron/templates/ch2.nii.gz"


# ------------------------------------------------------------------------------------ data
def make_2d(folder: Path, n: int) -> Path:
    """Write ``n`` PNG 256×256 crops of a real slide image and a dataset YAML; return the YAML."""
    import cv2
    import skimage.data

    src = cv2.cvtColor(skimage.data.immunohistochemistry(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(0)
    (folder / "png").mkdir(parents=True, exist_ok=True)
    lines = ["name: bench2d", "classes: [a, b]", "images:"]
    for i in range(n):
        y, x = rng.integers(0, src.shape[0] - 256, 2)
        tile = src[y : y + 256, x : x + 256]
        if i % 2:
            tile = tile[::-1]
        cv2.imwrite(str(folder / "png" / f"{i:05d}.png"), np.ascontiguousarray(tile))
        lines.append(f"  - location: png/{i:05d}.png\n    label: {i % 2}")
    lines.append("split:\n  training: [" + ", ".join(map(str, range(n))) + "]")
    yml = folder / "bench2d.yml"
    yml.write_text("\n".join(lines) + "\n")
    return yml


def make_3d(folder: Path, n: int) -> Path:
    """Write ``n`` NIfTI 128³ float32 volumes (crops of Colin27 when present) and a YAML."""
    import nibabel as nib

    rng = np.random.default_rng(0)
    if os.path.exists(COLIN):
        base = np.asarray(nib.load(COLIN).dataobj, dtype=np.float32)
    else:  # smooth random volume of the same size
        base = rng.random((181, 217, 181)).astype(np.float32)
    (folder / "nii").mkdir(parents=True, exist_ok=True)
    lines = ["name: bench3d", "images:"]
    for i in range(n):
        o = [int(rng.integers(0, s - 128 + 1)) for s in base.shape]
        vol = base[o[0] : o[0] + 128, o[1] : o[1] + 128, o[2] : o[2] + 128] * (
            0.8 + 0.4 * rng.random()
        )
        nib.save(
            nib.Nifti1Image(np.ascontiguousarray(vol), np.eye(4)),
            str(folder / "nii" / f"{i:03d}.nii"),
        )
        lines.append(f"  - nii/{i:03d}.nii")
    lines.append("split:\n  training: [" + ", ".join(map(str, range(n))) + "]")
    yml = folder / "bench3d.yml"
    yml.write_text("\n".join(lines) + "\n")
    return yml


def files_of(yml: Path) -> list[str]:
    import yaml

    doc = yaml.safe_load(yml.read_text())
    out = []
    for item in doc["images"]:
        loc = item["location"] if isinstance(item, dict) else item
        out.append(str(yml.parent / loc))
    return out


# ------------------------------------------------------------------------------------ peers
def dldataset_2d(yml: Path, workers: int, backend: str, cache: str | None = None):
    import deephealth.ecvl as ecvl

    aug = ecvl.SequentialAugmentationContainer(
        [
            ecvl.AugResizeDim([224, 224]),
            ecvl.AugFlip(0.5),
            ecvl.AugRotate([-ANGLE, ANGLE]),
            ecvl.AugScaleTo(0, 1),
        ]
    )
    ds = ecvl.DLDataset(
        str(yml), BATCH_2D, [aug], "RGB", num_workers=workers, seed=0, backend=backend
    )
    return lambda: ((x, y) for x, y in ds)


def dldataset_3d(yml: Path, workers: int, mean: float, std: float):
    import deephealth.ecvl as ecvl

    aug = ecvl.SequentialAugmentationContainer(
        [ecvl.AugRandomCrop([96, 96, 96]), ecvl.AugMirror(0.5), ecvl.AugNormalize(mean, std)]
    )
    ds = ecvl.DLDataset(str(yml), BATCH_3D, [aug], "none", num_workers=workers, seed=0)
    return lambda: ((x, y) for x, y in ds)


class _CvDataset:
    """Hand-written OpenCV/numpy 2D pipeline (what one writes without a library)."""

    def __init__(self, files: list[str]) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        import cv2
        import torch

        rng = np.random.default_rng()
        img = cv2.cvtColor(cv2.imread(self.files[i], cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        img = cv2.resize(img, (224, 224), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            img = cv2.flip(img, 0)
        m = cv2.getRotationMatrix2D((111.5, 111.5), rng.uniform(-ANGLE, ANGLE), 1.0)
        img = cv2.warpAffine(img, m, (224, 224), flags=cv2.INTER_LINEAR)
        img = img.astype(np.float32)
        lo, hi = img.min(), img.max()
        img = (img - lo) / (hi - lo) if hi > lo else img * 0
        return torch.from_numpy(img.transpose(2, 0, 1).copy()), i % 2


class _NumpyVolumes:
    """Hand-written nibabel/numpy 3D pipeline."""

    def __init__(self, files: list[str], mean: float, std: float) -> None:
        self.files, self.mean, self.std = files, mean, std

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        import nibabel as nib
        import torch

        rng = np.random.default_rng()
        vol = np.asarray(nib.load(self.files[i]).dataobj, dtype=np.float32)
        o = [int(rng.integers(0, s - 96 + 1)) for s in vol.shape]
        vol = vol[o[0] : o[0] + 96, o[1] : o[1] + 96, o[2] : o[2] + 96]
        if rng.random() < 0.5:
            vol = vol[::-1]
        vol = (vol - self.mean) / self.std
        return torch.from_numpy(np.ascontiguousarray(vol, dtype=np.float32)[None]), 0


def torch_loader(dataset, batch: int, workers: int):
    import torch

    dl = torch.utils.data.DataLoader(
        dataset, batch_size=batch, shuffle=True, num_workers=workers, persistent_workers=workers > 0
    )
    return lambda: iter(dl)


def monai_2d(files: list[str], workers: int, cache: str | None = None):
    import monai.transforms as mt
    from monai.data import DataLoader, Dataset, PersistentDataset

    tf = mt.Compose(
        [
            mt.LoadImage(image_only=True),
            mt.EnsureChannelFirst(),
            mt.Resize((224, 224)),
            mt.RandFlip(prob=0.5, spatial_axis=0),
            mt.RandRotate(range_x=np.deg2rad(ANGLE), prob=1.0),
            mt.ScaleIntensity(),
        ]
    )
    ds = Dataset(files, transform=tf) if cache is None else PersistentDataset(files, tf, cache)
    dl = DataLoader(
        ds, batch_size=BATCH_2D, shuffle=True, num_workers=workers, persistent_workers=True
    )
    return lambda: ((b, None) for b in dl)


def monai_3d(files: list[str], workers: int, mean: float, std: float):
    import monai.transforms as mt
    from monai.data import DataLoader, Dataset

    tf = mt.Compose(
        [
            mt.LoadImage(image_only=True),
            mt.EnsureChannelFirst(),
            mt.RandSpatialCrop((96, 96, 96), random_size=False),
            mt.RandFlip(prob=0.5, spatial_axis=0),
            mt.NormalizeIntensity(subtrahend=mean, divisor=std),
        ]
    )
    ds = Dataset(files, transform=tf)
    dl = DataLoader(
        ds, batch_size=BATCH_3D, shuffle=True, num_workers=workers, persistent_workers=True
    )
    return lambda: ((b, None) for b in dl)


# ------------------------------------------------------------------------------- measuring
def tree_pss_mb(pid: int) -> float:
    """Proportional set size (MB) of ``pid`` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) / 1024
                        break
        except OSError:
            pass
    return total


def run_peer(peer: str, mode: str, yml: Path, workers: int, epochs: int) -> dict:
    """Build one peer, run a warm-up epoch and ``epochs`` timed epochs; report rate and memory."""
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    files = files_of(yml)
    mean, std = 60.0, 40.0
    cache_root = tempfile.mkdtemp(prefix=f"cache_{peer}_", dir=yml.parent)
    if mode == "2d":
        make = {
            "dldataset": lambda: dldataset_2d(yml, workers, "thread"),
            "dldataset-process": lambda: dldataset_2d(yml, workers, "process"),
            "torch-opencv": lambda: torch_loader(_CvDataset(files), BATCH_2D, workers),
            "monai": lambda: monai_2d(files, workers),
            # with on-disk caches of the deterministic prefix (load + resize), filled by warm-up
            "dldataset-cache": lambda: dldataset_2d(yml, workers, "thread", cache_root),
            "monai-persistent": lambda: monai_2d(files, workers, cache_root),
        }[peer]
    else:
        make = {
            "dldataset": lambda: dldataset_3d(yml, workers, mean, std),
            "torch-numpy": lambda: torch_loader(_NumpyVolumes(files, mean, std), BATCH_3D, workers),
            "monai": lambda: monai_3d(files, workers, mean, std),
        }[peer]
    epoch = make()
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_pss_mb(os.getpid()))
            stop.wait(0.05)

    mon = threading.Thread(target=sample, daemon=True)
    mon.start()
    n_warm = sum(int(x.shape[0]) for x, _ in epoch())
    shape = None
    t0 = time.perf_counter()
    n = 0
    for _ in range(epochs):
        for x, _ in epoch():
            n += int(x.shape[0])
            shape = tuple(x.shape)
    dt = time.perf_counter() - t0
    stop.set()
    mon.join()
    return {
        "peer": peer,
        "rate": n / dt,
        "peak_mb": peak[0],
        "n": n,
        "warm": n_warm,
        "shape": shape,
    }


# ------------------------------------------------------------------------------------ main
def _subprocess(peer: str, mode: str, yml: Path, workers: int, epochs: int) -> dict:
    cmd = [sys.executable, __file__, "--peer", peer, "--mode", mode, "--yml", str(yml),
           "--workers", str(workers), "--epochs", str(epochs)]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{peer} {mode} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n2d", type=int, default=2000)
    ap.add_argument("--n3d", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--modes", default="2d,3d")
    ap.add_argument("--peers", default="", help="comma-separated subset of the peers")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "loader.md"))
    ap.add_argument("--peer")
    ap.add_argument("--mode")
    ap.add_argument("--yml")
    args = ap.parse_args()
    if args.peer:  # one measurement, in this subprocess
        res = run_peer(args.peer, args.mode, Path(args.yml), args.workers, args.epochs)
        print(json.dumps(res))
        return
    modes = args.modes.split(",")
    args.load0 = os.getloadavg()[0]
    keep = set(args.peers.split(",")) if args.peers else None
    for m in modes:
        PEERS[m] = [p for p in PEERS[m] if keep is None or p in keep or p == "monai"]
    results: dict[str, dict[str, list[dict]]] = {m: {p: [] for p in PEERS[m]} for m in modes}
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as tmp:
        ymls = {}
        if "2d" in modes:
            ymls["2d"] = make_2d(Path(tmp) / "d2", args.n2d)
        if "3d" in modes:
            ymls["3d"] = make_3d(Path(tmp) / "d3", args.n3d)
        for r in range(args.rounds):
            for m in modes:
                epochs = args.epochs if m == "2d" else max(args.epochs, 3)
                for p in PEERS[m]:
                    res = _subprocess(p, m, ymls[m], args.workers, epochs)
                    results[m][p].append(res)
                    print(f"round {r + 1} {m} {p}: {res['rate']:.1f} img/s, "
                          f"peak {res['peak_mb']:.0f} MB", flush=True)  # fmt: skip
    md = report(results, args)
    print(md)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(md)


def report(results: dict, args: argparse.Namespace) -> str:
    """The markdown section with medians and ratios."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cpu = platform.processor() or platform.machine()
    lines = [
        "## Data loader (bench/bench_loader.py)",
        "",
        f"{now}; {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.workers} workers per peer, 1 OpenCV/torch thread per worker; "
        f"load average {args.load0:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
        f"{args.rounds} interleaved rounds, medians (ratios: median of per-round ratios); one warm-up epoch, torch peers with "
        "persistent workers; peak = PSS of the process tree. `-cache`/`-persistent` rows cache "
        "the deterministic prefix (decode + resize) on disk during the warm-up epoch.",
        "",
    ]
    titles = {
        "2d": f"2D: {args.n2d} PNG 256² → resize 224 → flip → rotate ±15° → scale, batch {BATCH_2D}",
        "3d": f"3D: {args.n3d} NIfTI 128³ float32 → crop 96³ → flip → normalize, batch {BATCH_3D}",
    }
    for m, peers in results.items():
        plain = "torch-opencv" if m == "2d" else "torch-numpy"
        med = {p: statistics.median(r["rate"] for r in rs) for p, rs in peers.items()}
        mem = {p: statistics.median(r["peak_mb"] for r in rs) for p, rs in peers.items()}

        def ratio(p: str, ref: str, peers=peers) -> float:
            # median of per-round ratios: peers of one round ran back to back under the same load
            return statistics.median(a["rate"] / b["rate"] for a, b in zip(peers[p], peers[ref]))

        lines += [
            f"### {titles[m]}",
            "",
            "| peer | images/s (median) | × MONAI | × plain | peak MB | rounds (images/s) |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for p in peers:
            rounds = ", ".join(f"{r['rate']:.0f}" for r in peers[p])
            lines.append(
                f"| {p} | {med[p]:.1f} | {ratio(p, 'monai'):.2f} | {ratio(p, plain):.2f} | "
                f"{mem[p]:.0f} | {rounds} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
