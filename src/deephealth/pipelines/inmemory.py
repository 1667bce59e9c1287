"""The former in-memory data path, kept only as the reference of tests and benchmarks.

Before streaming, `deephealth train` decoded every sample of every split into memory first
(`load_dataset`, through ECVL's `Sample.LoadImage`). Two things survive here, so tests and
`bench/bench_scale.py` can compare the streaming path against it:

- `load_dataset`: the old loader, unchanged (decode, resize, normalize every sample; returns
  lists of arrays) — its arrays are the reference the streamed samples must equal, and its peak
  memory is what the memory-bound test shows streaming avoids;
- `in_memory()`: a context manager under which `pipelines.run` holds each split's preprocessed
  samples in RAM (decoded once, before training, as the old path did) and otherwise runs the same
  code, so a run's metrics under it equal the streaming run's for the same seed.

Never used by the pipelines themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.pipelines.data import DataError, image_to_chw, normalize, resize_chw
from deephealth.pipelines.stream import PATIENT_FEATURES, StreamingDataset


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


class MemoryCache:
    """DLDataset's cache interface (`get(index, compute)`) over a dict in RAM: everything held."""

    def __init__(self) -> None:
        self.items: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

    def get(
        self, index: int, compute: Callable[[], tuple[np.ndarray, np.ndarray | None]]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The held sample, computed on first use."""
        if index not in self.items:
            x, gt = compute()
            self.items[index] = (np.array(x), None if gt is None else np.array(gt))
        return self.items[index]


def hold_in_memory(data: StreamingDataset) -> None:
    """Decode, preprocess and normalize every sample of `data` now and keep the float32 arrays in
    RAM, as the old path did; later reads only run patches and augmentations."""
    ds = data.ds
    transform, ds.transform_ = ds.transform_, None

    def read(split: int, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        x, gt = ds._read(split, index)
        return transform(x, gt) if transform is not None else (x, gt)

    for i, split in enumerate(ds.split_):
        cache = MemoryCache()
        ds._caches[i] = cache
        for index in split.samples_indices_:
            cache.get(index, lambda i=i, index=index: read(i, index))


@contextlib.contextmanager
def in_memory() -> Iterator[None]:
    """Run `pipelines.run` with every split held in memory (the former path) inside the block."""
    import deephealth.pipelines.run as run

    original = run.open_dataset

    def opened(*args: Any, **kwargs: Any) -> StreamingDataset:
        data = original(*args, **kwargs)
        start = data.start

        def start_and_hold(*a: Any, **k: Any) -> None:
            start(*a, **k)
            hold_in_memory(data)

        data.start = start_and_hold  # type: ignore[method-assign]
        return data

    run.open_dataset = opened
    try:
        yield
    finally:
        run.open_dataset = original
