"""Loading a DeepHealth dataset into memory for a pipeline: decode, resize, normalize, once.

The pipeline's pre-processing (the KPI time-of-pre-processing-images) is what happens here: ECVL
reads every sample of every split (`Dataset`, `Sample.LoadImage`), resizes it with ECVL's
`AugResizeDim` when the config sets `input_size` (ground truth with nearest interpolation), and
normalizes intensities per image. Images are kept channels first (C, H, W) / (C, D, H, W) as float32;
targets are class indices (classification), label maps (1, ...) of uint8 (segmentation, binary
masks stored as 0/255 become 0/1) or float32 images (regression). The random, per-epoch
augmentations run later, on these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.errors import DataError


@dataclass
class SplitData:
    """The samples of one split, in memory.

    Attributes:
        images: Channels-first float32 arrays.
        targets: Class indices, label maps (1, ...) or target images (C, ...).
        patients: Patient id of each sample (None when the dataset has no patient feature).
        names: File name of each sample.
    """

    images: list[np.ndarray] = field(default_factory=list)
    targets: list[Any] = field(default_factory=list)
    patients: list[str | None] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class LoadedData:
    """A dataset loaded for one pipeline run."""

    name: str
    task: str
    splits: dict[str, SplitData]
    classes: list[str]
    channels: int
    spatial: tuple[int, ...] | None  # common spatial size, None when sizes differ
    num_labels: int  # segmentation: label values incl. background; else 0
    target_scale: float = 1.0  # regression: targets were divided by this

    @property
    def dims(self) -> int:
        """2 for images, 3 for volumes."""
        return self.splits[next(iter(self.splits))].images[0].ndim - 1


PATIENT_FEATURES = ("patient", "patient_id", "patientid", "subject", "case")


def normalize(x: np.ndarray, how: str) -> np.ndarray:
    """Normalize one channels-first image: "minmax" to [0, 1], "zscore", "divby255" or "none".

    Raises:
        DataError: for an unknown method.
    """
    x = x.astype(np.float32, copy=False)
    if how == "minmax":
        lo, hi = float(x.min()), float(x.max())
        return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    if how == "zscore":
        sd = float(x.std())
        return (x - float(x.mean())) / sd if sd > 0 else x - float(x.mean())
    if how == "divby255":
        return x / 255.0
    if how == "none":
        return x
    raise DataError(f"unknown normalization {how!r}")


def image_to_chw(img: Any) -> np.ndarray:
    """An ECVL Image as a channels-first float32 array (C, H, W) / (C, D, H, W)."""
    import deephealth.ecvl as ecvl

    return ecvl.ImageToTensor(img).numpy()


def resize_chw(x: np.ndarray, gt: np.ndarray | None, size: tuple[int, ...], gt_interp: str):
    """Resize channels-first `x` (and `gt`) to numpy-order `size` with ECVL's AugResizeDim."""
    import deephealth.ecvl as ecvl

    if x.shape[1:] == tuple(size) and (gt is None or gt.shape[1:] == tuple(size)):
        return x, gt
    dims = [size[-1], size[-2], *([size[0]] if len(size) == 3 else [])]  # (w, h[, d])
    aug = ecvl.AugResizeDim(dims, "linear", gt_interp)
    xs, gs = aug.apply_arrays(
        np.moveaxis(x, 0, -1),
        None if gt is None else np.moveaxis(gt, 0, -1),
        np.random.default_rng(0),
    )
    return np.moveaxis(xs, -1, 0), None if gs is None else np.moveaxis(gs, -1, 0)


def write_array(path: str | Path, array: np.ndarray) -> None:
    """Write a numpy-ordered 2D image (H, W) or 3D volume (D, H, W) with ECVL's `ImWrite`.

    The format follows the extension (PNG/TIFF for images, NIfTI for volumes).
    """
    import deephealth.ecvl as ecvl

    if array.ndim == 2:
        img = ecvl.Image.from_cv(np.ascontiguousarray(array))
    else:
        img = ecvl.Image.fromarray(array.transpose(2, 1, 0)[..., None], "xyzc", ecvl.ColorType.GRAY)
    ecvl.ImWrite(str(path), img)


def _patient_index(features: list[str]) -> int | None:
    lowered = [f.lower() for f in features]
    for name in PATIENT_FEATURES:
        if name in lowered:
            return lowered.index(name)
    return None


def load_dataset(
    path: str | Path,
    task: str,
    input_size: list[int] | None = None,
    how: str = "minmax",
    splits: tuple[str, ...] = ("training", "validation", "test"),
    target_scale: float | None = None,
) -> LoadedData:
    """Read, resize and normalize every sample of the given splits.

    Args:
        path: DeepHealth dataset YAML.
        task: "classification", "segmentation" or "regression".
        input_size: Spatial size (numpy order) to resize to; None keeps the stored size.
        how: Intensity normalization (see `normalize`).
        splits: Split names to load; "training", when asked for, is required, the others are
            loaded when present.
        target_scale: Regression: divide targets by this (default: the training maximum).

    Returns:
        The loaded data.

    Raises:
        DataError: when the YAML is invalid (every problem listed), a split is missing, a sample
            has no label of the kind the task needs, or a file cannot be read.
    """
    import deephealth.ecvl as ecvl

    try:
        ds = ecvl.Dataset(str(path))
    except Exception as err:  # ECVL's format errors list every problem
        raise DataError(f"dataset {path}: {err}") from None
    names = [s.split_name_ for s in ds.split_]
    if "training" in splits and "training" not in names:
        raise DataError(f"dataset {path} has no 'training' split (splits: {names})")
    pidx = _patient_index(list(ds.features_))
    gt_interp = "linear" if task == "regression" else "nearest"
    out: dict[str, SplitData] = {}
    for split in ds.split_:
        if split.split_name_ not in splits:
            continue
        data = SplitData()
        for i in split.samples_indices_:
            sample = ds.samples_[i]
            try:
                x = image_to_chw(sample.LoadImage("none"))
                gt = None
                if task == "classification":
                    if not sample.label_:
                        raise DataError(f"sample {i} ({sample.location_[0]}) has no class label")
                    target: Any = int(sample.label_[0])
                else:
                    if sample.label_path_ is None:
                        raise DataError(
                            f"sample {i} ({sample.location_[0]}) has no ground-truth image for {task}"
                        )
                    gt = image_to_chw(sample.LoadImage("none", is_gt=True))
            except DataError:
                raise
            except Exception as err:
                raise DataError(f"dataset {path}, sample {i}: {err}") from None
            if input_size:
                x, gt = resize_chw(x, gt, tuple(input_size), gt_interp)
            if task == "segmentation":
                gt = gt[:1]
                target = (
                    (gt > 127).astype(np.uint8)
                    if gt.max() > 1 and len(np.unique(gt)) <= 2
                    else gt.astype(np.uint8)
                )
            elif task == "regression":
                target = gt.astype(np.float32)
            data.images.append(normalize(x, how))
            data.targets.append(target)
            values = sample.values_ or {}
            data.patients.append(None if pidx is None else values.get(pidx))
            data.names.append(Path(sample.location_[0]).name)
        out[split.split_name_] = data
    if "training" in splits and not out.get("training"):
        raise DataError(f"dataset {path}: the training split is empty")
    loaded = [s for s in out.values() if len(s)]
    if not loaded:
        raise DataError(f"dataset {path}: no samples in the splits {list(splits)}")
    first = loaded[0].images[0]
    shapes = {im.shape for s in out.values() for im in s.images}
    if len({s[0] for s in shapes}) != 1:
        raise DataError(f"dataset {path}: images have different channel counts {sorted(shapes)}")
    spatial = first.shape[1:] if len(shapes) == 1 else None
    num_labels = 0
    scale = 1.0
    if task == "segmentation":
        num_labels = max(2, int(max(t.max() for s in out.values() for t in s.targets)) + 1)
    if task == "regression":
        scale = target_scale or float(max(float(np.abs(t).max()) for t in loaded[0].targets)) or 1.0
        for s in out.values():
            s.targets = [t / scale for t in s.targets]
    return LoadedData(
        name=ds.name_ or Path(path).stem,
        task=task,
        splits=out,
        classes=list(ds.classes_),
        channels=int(first.shape[0]),
        spatial=spatial,
        num_labels=num_labels,
        target_scale=scale,
    )
