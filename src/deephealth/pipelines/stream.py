"""Streaming a DeepHealth dataset into a pipeline: bounded memory whatever the dataset's size.

Every pipeline task reads its samples through one path, ECVL's `DLDataset`:
decode (OpenCV / ECVL readers) → deterministic preprocessing written as ECVL text
(`AugToFloat32` + `AugResizeDim` when `input_size` is set; cached on disk as `.npy` when
`loader.cache` is set, keyed by the dataset file and the exact preprocessing text, so a changed
preprocessing never reads stale entries) → the per-image `transform` (intensity normalization and
the task's target conversion, which must see the whole image; with patches, its output is held in
RAM up to `loader.hold_mb`, least recently used dropped first, so one decode serves the several
patches an image gives per epoch) → patch sampling (segmentation by
patches) → the random training augmentations → batches, assembled by `BatchPipeline`'s worker
threads with at most `batch_size * queue * workers` samples loaded ahead. Nothing holds a split.

`StreamingDataset` opens a dataset for one run (metadata only: split indices, classes, patients,
the image geometry from the first sample); `TrainBatches` is the re-iterable loader `eddl.fit`
reads (one shuffled epoch per iteration, this rank's share under `--nproc N`, resumable
mid-epoch); `StreamingDataset.batches` streams a split in order for evaluation. Random draws are
keyed by (seed, split, epoch, sample, occurrence), so results do not depend on the worker count.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.distenv import detect
from deephealth.pipelines.data import DataError, normalize

PATIENT_FEATURES = ("patient", "patient_id", "patientid", "subject", "case")
Transform = Callable[[np.ndarray, np.ndarray | None], tuple[np.ndarray, np.ndarray | None]]


@dataclass
class Batch:
    """A batch of samples as the loader yields it.

    Attributes:
        x: Model inputs, float32 (N, C, ...).
        y: Raw targets (N, ...): one-hot classes, label maps (N, 1, ...) or target images;
            None when the split has no labels.
        indices: Dataset index of each sample.
        split: Split name.
    """

    x: np.ndarray
    y: np.ndarray | None
    indices: list[int]
    split: str


def default_workers() -> int:
    """Loader threads when the config says 0 ("auto"): half the cores, 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def _patient_index(features: list[str]) -> int | None:
    lowered = [f.lower() for f in features]
    for name in PATIENT_FEATURES:
        if name in lowered:
            return lowered.index(name)
    return None


class StreamingDataset:
    """A DeepHealth dataset opened for one pipeline run; samples are read when batches need them.

    Args:
        path: Dataset YAML.
        cfg: The validated pipeline config (`input_size`, `normalize`, `augmentations`, `seed`,
            `loader`).
        splits: Split names the run uses ("training" is required when listed).
        target_scale: Regression: divide targets by this (default: the training maximum).
        num_labels: Segmentation: label values incl. background (default: scanned).

    Raises:
        DataError: invalid YAML (every problem listed), a missing training split, an empty split.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        cfg: dict[str, Any],
        splits: tuple[str, ...] = ("training", "validation", "test"),
        target_scale: float | None = None,
        num_labels: int | None = None,
    ) -> None:
        from deephealth.ecvl.dataset import DLDataset
        from deephealth.ecvl.dataset.reader import read_sample_array

        self.path, self.cfg = Path(path), cfg
        loader = cfg.get("loader") or {}
        self.workers = int(loader.get("workers") or 0) or default_workers()
        self.queue = int(loader.get("queue") or 2)
        cache = loader.get("cache")
        self.cache_dir = None if not cache else str(cache)
        self.hold_mb = int(loader.get("hold_mb", 64) or 0)
        self.normalize_how = cfg.get("normalize", "minmax")
        self.target_fn: Transform | None = None  # set by the task (target conversion)
        self.target_scale = 1.0
        self.target_scale_given = target_scale
        self.num_labels = 0
        self.num_labels_given = num_labels
        try:
            probe = DLDataset(str(path), 1, ctype="none", num_workers=0, seed=0)
        except Exception as err:  # ECVL's format errors list every problem
            raise DataError(f"dataset {path}: {err}") from None
        names = [s.split_name_ for s in probe.split_]
        if "training" in splits and "training" not in names:
            raise DataError(f"dataset {path} has no 'training' split (splits: {names})")
        self.splits = {
            s.split_name_: list(s.samples_indices_) for s in probe.split_ if s.split_name_ in splits
        }
        if "training" in splits and not self.splits.get("training"):
            raise DataError(f"dataset {path}: the training split is empty")
        first_split = next((k for k, v in self.splits.items() if v), None)
        if first_split is None:
            raise DataError(f"dataset {path}: no samples in the splits {list(splits)}")
        first = self.splits[first_split][0]
        try:
            raw = read_sample_array(probe.samples_[first], "none", False, None, first)
        except Exception as err:
            raise DataError(f"dataset {path}, sample {first}: {err}") from None
        volume = raw.ndim == 4
        stored_c = raw.shape[-1]
        self.ctype = "GRAY" if volume or stored_c == 1 else ("BGR" if stored_c >= 3 else "none")
        self.name = probe.name_ or self.path.stem
        self.classes = list(probe.classes_)
        self.samples = probe.samples_
        self.pidx = _patient_index(list(probe.features_))
        self.features = list(probe.features_)
        self.feature_specs = list(getattr(probe, "feature_specs_", []))
        self.input_size = tuple(cfg["input_size"]) if cfg.get("input_size") else None
        self._probe = probe
        self._raw_shape = raw.shape
        self.ds: Any = None
        self._open = (DLDataset, str(path))

    # ------------------------------------------------------------------------------ opening
    def preprocessing_text(self, gt_interp: str) -> str:
        """The deterministic preprocessing as ECVL text (cached stage); empty when none."""
        if not self.input_size:
            return ""
        size = self.input_size
        dims = [size[-1], size[-2], *([size[0]] if len(size) == 3 else [])]
        dims_text = "(" + ", ".join(map(str, dims)) + ")"
        return (
            "AugToFloat32 divisor=1 divisor_gt=1\n"
            f'AugResizeDim dims={dims_text} interp="linear" gt_interp="{gt_interp}"\n'
        )

    def start(
        self, gt_interp: str = "nearest", patch_sampler: Any = None, gt_fn: Any = None
    ) -> None:
        """Open the DLDataset with the run's preprocessing, augmentations and patch sampler
        (`gt_fn`: ground truth of samples without a ground-truth image, see `DLDataset`).

        Raises:
            DataError: an augmentation text that does not parse (names the split).
        """
        import deephealth.ecvl as ecvl

        cls, path = self._open
        pre = self.preprocessing_text(gt_interp)
        augs: dict[str, Any] = {}
        user = (self.cfg.get("augmentations") or {}).get("training", "")
        if user.strip():
            try:
                ecvl.AugmentationFactory.create(user)
            except Exception as err:
                raise DataError(f"augmentations.training: {err}") from None
        for name in self.splits:
            body = pre + (_members(user) if name == "training" and user.strip() else "")
            if body.strip():
                augs[name] = "SequentialAugmentationContainer\n" + body + "end\n"
        env = detect()
        self.ds = cls(
            path, 1, augs, ctype=self.ctype, ctype_gt="GRAY", num_workers=0,
            seed=int(self.cfg.get("seed", 0)), cache_dir=self.cache_dir,
            patch_sampler=patch_sampler, transform=self._transform,
            rank=env.rank, world_size=env.world_size, gt_fn=gt_fn,
            hold_bytes=self.hold_mb << 20 if patch_sampler is not None else 0,
        )  # fmt: skip
        self._index = {s.split_name_: i for i, s in enumerate(self.ds.split_)}

    def _transform(self, x: np.ndarray, gt: np.ndarray | None) -> tuple[Any, Any]:
        x = normalize(x, self.normalize_how)
        if self.target_fn is not None:
            return self.target_fn(x, gt)
        return x, gt

    # ------------------------------------------------------------------------------ metadata
    @property
    def dims(self) -> int:
        """2 for images, 3 for volumes."""
        return 3 if len(self._raw_shape) == 4 else 2

    @property
    def channels(self) -> int:
        """Image channels the model sees."""
        return 1 if self.ctype == "GRAY" else (3 if self.ctype == "BGR" else self._raw_shape[-1])

    @property
    def spatial(self) -> tuple[int, ...]:
        """Spatial size (numpy order) of the model's input: `input_size` or the first sample's."""
        if self.input_size:
            return tuple(self.input_size)
        return tuple(self._raw_shape[:-1])

    def split_size(self, name: str) -> int:
        """Samples of a split (0 when absent)."""
        return len(self.splits.get(name, []))

    def patient(self, index: int) -> str | None:
        """Patient id of a sample (None when the dataset has no patient feature)."""
        if self.pidx is None:
            return None
        return (self.samples[index].values_ or {}).get(self.pidx)

    def rows(self, indices: list[int]) -> list[dict[str, str]]:
        """The feature values (per image, merged with per patient) of samples, name -> text."""
        names = self.features
        return [{names[k]: v for k, v in (self.samples[i].values_ or {}).items()} for i in indices]

    def sample_name(self, index: int) -> str:
        """File name of a sample."""
        return Path(self.samples[index].location_[0]).name

    # ------------------------------------------------------------------------------- reading
    def check_labels(self, split: str, kind: str) -> None:
        """Raise DataError naming the first sample of `split` without a class label ("class") or
        a ground-truth image ("image"); reads no file."""
        for index in self.splits.get(split, []):
            s = self.samples[index]
            missing = not s.label_ if kind == "class" else s.label_path_ is None
            if missing:
                what = (
                    "class label"
                    if kind == "class"
                    else f"ground-truth image for {self.cfg['task']}"
                )
                raise DataError(f"sample {index} ({s.location_[0]}) has no {what}")

    def read_targets(self, split: str) -> Iterator[np.ndarray]:
        """The raw ground-truth images of a split, streamed (for the task's statistics scan)."""
        from deephealth.ecvl.dataset.pipeline import BatchPipeline
        from deephealth.ecvl.dataset.reader import read_sample_array

        def load(index: int) -> tuple[np.ndarray, None]:
            s = self.samples[index]
            return read_sample_array(s, "GRAY", True, None, index).astype(np.float32), None

        jobs = self.splits.get(split, [])
        self.check_labels(split, "image")
        pipe = BatchPipeline(jobs, 1, load, self.workers, self.workers * 2)
        yield from _drain(pipe, lambda x, y: x[0].numpy())

    def batches(
        self, split: str, batch_size: int, jobs: list[tuple[int, int]] | None = None,
        augment: bool = False, shard: bool = False,
    ) -> Iterator[Batch]:  # fmt: skip
        """Stream a split's samples as batches.

        Args:
            split: Split name.
            batch_size: Samples per batch.
            jobs: (sample index, draw key) pairs in order (default: the split in file order).
            augment: Apply patch sampling and the random augmentations (training).
            shard: Keep this rank's share of every batch (distributed training).
        """
        from deephealth.ecvl.dataset.pipeline import BatchPipeline

        if self.ds is None:
            self.start()
        i = self._index[split]
        if jobs is None:
            jobs = [(idx, 0) for idx in self.splits.get(split, [])]
        full = [(i, key, idx) for idx, key in jobs]
        load = self.ds.load_sample if augment else self.ds.LoadPreprocessed
        env = detect()
        bs = batch_size
        if shard and env.is_distributed:
            full, bs = _rank_share(full, batch_size, env.rank, env.world_size)
        pipe = BatchPipeline(
            full, bs, load, self.workers, bs * self.queue * self.workers,
            describe=lambda job: (job[2], self.samples[job[2]].location_),
        )  # fmt: skip
        pos = 0
        for xb, yb in _drain(pipe, lambda x, y: (x, y)):
            n = len(xb)
            idx = [job[2] for job in full[pos : pos + n]]
            pos += n
            yield Batch(xb.numpy(), None if yb is None else yb.numpy(), idx, split)


def _members(text: str) -> str:
    """The body of an augmentation text as members of an enclosing sequential container."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if (
        lines
        and lines[0].strip() == "SequentialAugmentationContainer"
        and lines[-1].strip() == "end"
    ):
        lines = lines[1:-1]
    return "".join(ln.strip() + "\n" for ln in lines)


def _drain(pipe: Any, pick: Callable[[Any, Any], Any]) -> Iterator[Any]:
    """Start a BatchPipeline, yield `pick(x, y)` per batch, always stop the workers."""
    from deephealth.ecvl.dataset.errors import SampleLoadError

    pipe.start()
    try:
        for _ in range(pipe.num_batches):
            try:
                _, x, y = pipe.get()
            except SampleLoadError as err:
                raise DataError(str(err)) from None
            yield pick(x, y)
    finally:
        pipe.stop()


def _rank_share(jobs: list[Any], batch_size: int, rank: int, world: int) -> tuple[list[Any], int]:
    """This rank's contiguous share of every global batch (each sample once per epoch); global
    batches smaller than the world are skipped by every rank alike, as the in-memory path did.
    Returns (jobs, per-rank batch size)."""
    if batch_size % world:
        raise DataError(
            f"batch_size {batch_size} must be a multiple of the {world} processes of the job"
        )
    share = batch_size // world
    out = []
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        if len(chunk) < world:
            continue
        lo, hi = (len(chunk) * rank) // world, (len(chunk) * (rank + 1)) // world
        out.extend(chunk[lo:hi])
    return out, max(1, share)


class TrainBatches:
    """The re-iterable loader `eddl.fit` reads: one shuffled, augmented epoch per iteration.

    The epoch order comes from `numpy.random.default_rng([seed, epoch])`; `task.encode` turns the
    raw targets into the network's. `skip` batches are left out at the start of the next epoch
    (a run resumed mid-epoch).
    """

    def __init__(self, task: Any, batch_size: int, seed: int) -> None:
        self.task, self.batch_size, self.seed = task, batch_size, seed
        self.epoch = 0
        self.skip = 0
        self.position = 0  # batches handed out in the current epoch

    def order(self, epoch: int) -> list[tuple[int, int]]:
        """(sample index, draw key) of every training sample of an epoch, in order."""
        indices = self.task.data.splits["training"]
        n, size = len(indices), self.task.epoch_size()
        rng = np.random.default_rng([self.seed, epoch])
        reps = -(-size // n)
        perm = [
            (indices[int(i)], epoch * reps + k) for k in range(reps) for i in rng.permutation(n)
        ]
        return perm[:size]

    def state_dict(self) -> dict[str, int]:
        """The sampler's position: epoch and batches handed out (saved in checkpoints)."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue a checkpointed epoch: its first `position` batches are not drawn again."""
        self.epoch, self.skip = int(state["epoch"]), int(state["position"])

    def __len__(self) -> int:
        env = detect()
        size = self.task.epoch_size()
        if env.is_distributed:
            full, last = divmod(size, self.batch_size)
            return full + (1 if last >= env.world_size else 0)
        return -(-size // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        order = self.order(self.epoch)
        skip, self.skip = self.skip, 0
        env = detect()
        per_rank = self.batch_size
        if skip:
            order = order[skip * self.batch_size :]
        self.position = skip
        for batch in self.task.data.batches(
            "training", per_rank, order, augment=True, shard=env.is_distributed
        ):
            self.position += 1
            yield self.task.train_batch(batch)
