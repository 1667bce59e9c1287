"""DLDataset (pyecvl names): a Dataset that yields augmented batches as torch tensors.

Batches are float32 tensors ``N×C×H×W`` (``N×C×D×H×W`` for volumes). Labels are one-hot vectors
(multi-hot for multi-label) for classification and ground-truth tensors for segmentation; a split
without labels yields ``None``. ``Start``/``GetBatch``/``Stop`` follow ECVL; iterating the object
runs one epoch of the current split, so it drops into a plain PyTorch loop. Each sample's random
draws come from ``(seed, split, epoch, sample)``, so a run replays exactly whatever the worker count.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from deephealth.distenv import detect
from deephealth.ecvl.augment.base import Augmentation
from deephealth.ecvl.augment.factory import AugmentationFactory
from deephealth.ecvl.augment.rng import global_seed, keyed_rng
from deephealth.ecvl.dataset.cache import HeldSamples, PreprocessCache, split_deterministic
from deephealth.ecvl.dataset.dataset import Dataset
from deephealth.ecvl.dataset.errors import DatasetError, SampleLoadError
from deephealth.ecvl.dataset.model import Split, SplitType
from deephealth.ecvl.dataset.pipeline import BatchPipeline
from deephealth.ecvl.dataset.reader import color_name, read_sample_array
from deephealth.ecvl.dataset.samplers import PatchSampler, class_balanced_order
from deephealth.ecvl.image import ColorType

_DEFAULT_SEED: list[int | None] = [None]


def _torch() -> Any:
    import torch

    return torch


def _as_aug(a: Any) -> Augmentation | None:
    if a is None or isinstance(a, Augmentation):
        return a
    if isinstance(a, str):
        return AugmentationFactory.create(a)
    raise DatasetError(f"an augmentation, its text or None is needed, got {type(a).__name__}")


class DatasetAugmentations:
    """Augmentations per split (pyecvl ``DatasetAugmentations``).

    Args:
        augs: A list in split order (training, validation, test as in the file), or a mapping from
            split name / SplitType to augmentation. Items may be Augmentation objects, their ECVL
            text, or None (no augmentation).
    """

    def __init__(self, augs: Sequence[Any] | Mapping[Any, Any] | None = None) -> None:
        self.by_index: list[Augmentation | None] = []
        self.by_name: dict[str, Augmentation | None] = {}
        if isinstance(augs, Mapping):
            for k, v in augs.items():
                name = k.name if isinstance(k, SplitType) else str(k)
                self.by_name[name] = _as_aug(v)
        elif augs is not None:
            self.by_index = [_as_aug(a) for a in augs]

    def get(self, index: int, name: str) -> Augmentation | None:
        """The augmentation of the split with ``index`` and ``name`` (None if none)."""
        if self.by_name:
            return self.by_name.get(name)
        return self.by_index[index] if index < len(self.by_index) else None

    def Apply(self, st: Any, img: Any, gt: Any = None) -> None:
        """Apply the augmentation of split ``st`` (index, name or SplitType) to an Image."""
        if isinstance(st, SplitType):
            idx, name = int(st), st.name
        elif isinstance(st, int):
            idx, name = st, SplitType(st).name if 0 <= st < 3 else str(st)
        else:
            name = str(st)
            idx = SplitType[name].value if name in SplitType.__members__ else -1
        aug = self.get(idx, name)
        if aug is not None:
            aug.Apply(img, gt)

    def IsEmpty(self) -> bool:
        """Whether no split has an augmentation."""
        return not any(self.by_index) and not any(self.by_name.values())


class DLDataset(Dataset):
    """DeepHealth deep-learning dataset (pyecvl ``DLDataset``).

    Args:
        filename: Dataset YAML file.
        batch_size: Samples per batch.
        augs: :class:`DatasetAugmentations`, or what its constructor takes, or None.
        ctype: Colour of the images (ColorType or name: RGB, BGR, GRAY, none = as stored).
        ctype_gt: Colour of the ground truths.
        num_workers: Parallel workers (0 loads in the calling thread).
        queue_ratio_size: The queue holds ``batch_size * queue_ratio_size * num_workers`` samples.
        drop_last: Per split (list), for all (bool) or by name (mapping): drop the last short batch.
        verify: Check every file before starting (see ``ValidateDataset``).
        seed: Seed of shuffling and augmentation; default the one given to ``SetSplitSeed`` or
            ``AugmentationParam.SetSeed``, else random.
        backend: ``"thread"`` (default, fastest with OpenCV) or ``"process"``.
        shuffle: Shuffle the training split each epoch when iterating.
        cache_dir: Folder for the on-disk cache of deterministic preprocessing (None: off).
        sampler: ``"balanced"`` for class-balanced training epochs, or a callable
            ``(indices, dataset, rng) -> order``.
        patch_sampler: A :class:`PatchSampler` applied before the augmentations.
        transform: A deterministic ``(x, gt) -> (x, gt)`` function on canonical arrays, applied
            after the (cached) preprocessing and before the patch sampler and the random
            augmentations (e.g. per-image normalisation that must see the whole image).
        gt_fn: The ground truth of a sample without a ground-truth image, as a canonical array
            (spatial..., channels), from the sample index and the image's spatial shape (e.g.
            its boxes drawn as masks, which then follow every augmentation); None: no ground
            truth for such samples.
        remote_cache: Folder for downloaded http(s) images.
        hold_bytes: Keep up to this many bytes of preprocessed samples in RAM for reuse (least
            recently used dropped first; 0: off), in front of the disk cache: with a patch
            sampler, one decode then serves every patch drawn from a held image.
        rank: This process's rank in a distributed job (default: from the launcher's
            environment, see ``deephealth.distenv``).
        world_size: Number of processes (default: from the environment). With several, each
            rank loads its own share of every epoch: shuffled (training) epochs are cut to a
            multiple of ``world_size`` so every rank runs the same number of batches (at most
            ``world_size - 1`` random samples wait for the next epoch); other splits are shared
            out exactly, every sample once.
    """

    def __init__(
        self,
        filename: str | os.PathLike,
        batch_size: int,
        augs: Any = None,
        ctype: Any = ColorType.RGB,
        ctype_gt: Any = ColorType.GRAY,
        num_workers: int = 1,
        queue_ratio_size: int = 1,
        drop_last: Any = None,
        verify: bool = False,
        *,
        seed: int | None = None,
        backend: str = "thread",
        shuffle: bool = True,
        cache_dir: str | os.PathLike | None = None,
        sampler: str | Callable[..., list[int]] | None = None,
        patch_sampler: PatchSampler | None = None,
        remote_cache: str | os.PathLike | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        transform: Callable[..., tuple[np.ndarray, np.ndarray | None]] | None = None,
        gt_fn: Callable[[int, tuple[int, ...]], np.ndarray] | None = None,
        hold_bytes: int = 0,
    ) -> None:
        super().__init__(filename, verify)
        self.held_ = HeldSamples(hold_bytes) if hold_bytes > 0 else None
        self.transform_ = transform
        self.gt_fn_ = gt_fn
        env = detect()
        self.rank_ = env.rank if rank is None else int(rank)
        self.world_size_ = env.world_size if world_size is None else int(world_size)
        if not 0 <= self.rank_ < self.world_size_:
            raise DatasetError(
                f"rank {self.rank_} is outside a job of {self.world_size_} processes"
            )
        if not self.split_:
            self.split_ = [Split("training", list(range(len(self.samples_))))]
        if int(batch_size) <= 0:
            raise DatasetError(f"batch_size must be positive, got {batch_size}")
        self.batch_size_ = int(batch_size)
        self.ctype_, self.ctype_gt_ = ctype, ctype_gt
        self.num_workers_ = max(0, int(num_workers))
        self.queue_ratio_size_ = max(1, int(queue_ratio_size))
        if backend not in ("thread", "process"):
            raise DatasetError(f"backend must be 'thread' or 'process', got {backend!r}")
        if isinstance(sampler, str) and sampler != "balanced":
            raise DatasetError(f"sampler must be 'balanced' or a callable, got {sampler!r}")
        self.backend_ = backend
        self.shuffle_ = bool(shuffle)
        self.sampler_ = sampler
        self.patch_sampler_ = patch_sampler
        self.remote_cache_ = None if remote_cache is None else os.fspath(remote_cache)
        self.cache_dir_ = None if cache_dir is None else os.fspath(cache_dir)
        if seed is None:
            seed = _DEFAULT_SEED[0] if _DEFAULT_SEED[0] is not None else global_seed()
        if seed is None:
            seed = int.from_bytes(os.urandom(4), "little")
        self.seed_ = int(seed)
        self._set_drop_last(drop_last)
        self.current_batch_ = [0] * len(self.split_)
        self._orders = [self._share(list(s.samples_indices_), False) for s in self.split_]
        self._epochs = [0] * len(self.split_)
        self._pipeline: BatchPipeline | None = None
        self._pipeline_split = -1
        self._resize_dims: list[int] | None = None
        self.SetAugmentations(augs)
        self.SetBatchSize(self.batch_size_)
        n = {"GRAY": 1, "RGB": 3, "BGR": 3}.get(color_name(ctype), -1)
        self.n_channels_ = n
        self.n_channels_gt_ = {"GRAY": 1, "RGB": 3, "BGR": 3}.get(color_name(ctype_gt), -1)

    # -------------------------------------------------------------------------- configuration
    def _set_drop_last(self, drop_last: Any) -> None:
        for i, s in enumerate(self.split_):
            if drop_last is None:
                s.drop_last_ = False
            elif isinstance(drop_last, bool):
                s.drop_last_ = drop_last
            elif isinstance(drop_last, Mapping):
                s.drop_last_ = bool(drop_last.get(s.split_name_, False))
            else:
                values = list(drop_last)
                if values and len(values) != len(self.split_):
                    raise DatasetError(
                        f"drop_last has {len(values)} entries for {len(self.split_)} splits"
                    )
                s.drop_last_ = bool(values[i]) if values else False

    def SetAugmentations(self, da: Any) -> None:
        """Set the per-split augmentations (DatasetAugmentations or what it takes)."""
        self.augs_ = da if isinstance(da, DatasetAugmentations) else DatasetAugmentations(da)
        self._prefix: list[Augmentation | None] = []
        self._rest: list[Augmentation | None] = []
        self._caches: list[PreprocessCache | None] = []
        for i, s in enumerate(self.split_):
            aug = self.augs_.get(i, s.split_name_)
            prefix, rest = split_deterministic(aug)
            self._prefix.append(prefix)
            self._rest.append(rest)
            cache = None
            if self.cache_dir_ is not None:
                key = "\n".join([
                    os.path.abspath(self.filename_), color_name(self.ctype_),
                    color_name(self.ctype_gt_), prefix.to_text() if prefix else "",
                ])  # fmt: skip
                cache = PreprocessCache(self.cache_dir_, key)
            self._caches.append(cache)

    def SetBatchSize(self, bs: int) -> None:
        """Set the batch size (recomputes every split's number of batches)."""
        if int(bs) <= 0:
            raise DatasetError(f"batch_size must be positive, got {bs}")
        self.batch_size_ = int(bs)
        for s in self.split_:
            s.SetNumBatches(self.batch_size_)
            s.SetLastBatch(self.batch_size_)

    def SetWorkers(self, num_workers: int) -> None:
        """Set the number of parallel workers (takes effect at the next ``Start``)."""
        self.num_workers_ = max(0, int(num_workers))

    @staticmethod
    def SetSplitSeed(seed: int) -> None:
        """Default seed for shuffling/augmentation of DLDatasets created afterwards."""
        _DEFAULT_SEED[0] = int(seed)

    def GetNumBatches(self, split: Any = -1) -> int:
        """Number of batches of a split (index, name or SplitType; -1 = current), on this rank."""
        i = self._split_index(split)
        if self.world_size_ == 1:
            return self.split_[i].num_batches_
        n = len(self._orders[i])
        return n // self.batch_size_ if self.split_[i].drop_last_ else -(-n // self.batch_size_)

    def GetQueueSize(self) -> int:
        """Samples loaded and waiting in the queue."""
        return 0 if self._pipeline is None else self._pipeline.queue_size()

    # -------------------------------------------------------------------------------- epochs
    def ResetBatch(self, split: Any = -1, shuffle: bool = False) -> None:
        """Reset a split's batch counter and start a new epoch (new draws), optionally shuffled."""
        i = self._split_index(split)
        self.current_batch_[i] = 0
        self._epochs[i] += 1
        indices = list(self.split_[i].samples_indices_)
        if shuffle:
            rng = keyed_rng(self.seed_, 1, i, self._epochs[i])
            if self.sampler_ == "balanced":
                labels = [s.label_ for s in self.samples_]
                indices = class_balanced_order(indices, labels, rng)
            elif callable(self.sampler_):
                indices = list(self.sampler_(indices, self, rng))
            else:
                indices = [indices[k] for k in rng.permutation(len(indices))]
        self._orders[i] = self._share(indices, shuffle)

    def _share(self, indices: list[int], equal: bool) -> list[int]:
        """This rank's samples of an epoch order (all of them in a single process)."""
        if self.world_size_ == 1:
            return indices
        if equal:
            indices = indices[: len(indices) - len(indices) % self.world_size_]
        return indices[self.rank_ :: self.world_size_]

    def ResetAllBatches(self, shuffle: bool = False) -> None:
        """Reset every split (see ``ResetBatch``)."""
        for i in range(len(self.split_)):
            self.ResetBatch(i, shuffle)

    # -------------------------------------------------------------------------------- loading
    def _read(self, split: int, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        s = self.samples_[index]
        x = read_sample_array(s, self.ctype_, False, self.remote_cache_, index)
        gt = None
        if s.label_path_ is not None:
            gt = read_sample_array(s, self.ctype_gt_, True, self.remote_cache_, index)
        elif self.gt_fn_ is not None:
            gt = self.gt_fn_(index, tuple(x.shape[:-1]))
        prefix = self._prefix[split]
        if prefix is not None:
            x, gt = prefix.apply_arrays(x, gt, keyed_rng(self.seed_, 0, index))
        return x, gt

    def _preprocessed(self, split: int, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        if self.held_ is not None:  # the transform is deterministic: its output is held
            return self.held_.get((split, index), lambda: self._transformed(split, index))
        return self._transformed(split, index)

    def _transformed(self, split: int, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        cache = self._caches[split]
        if cache is not None:
            x, gt = cache.get(index, lambda: self._read(split, index))
        else:
            x, gt = self._read(split, index)
        if self.transform_ is not None:
            x, gt = self.transform_(x, gt)
        return x, gt

    def _labelled(self, index: int, x: np.ndarray, gt: np.ndarray | None) -> tuple[Any, Any]:
        s = self.samples_[index]
        if s.label_ is not None:
            y = np.zeros(len(self.classes_), np.float32)
            y[s.label_] = 1.0
        elif gt is not None:
            y = np.moveaxis(gt, -1, 0)
        else:
            y = None
        return np.moveaxis(x, -1, 0), y

    def load_sample(self, job: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray | None]:
        """Load, augment and label one sample: ``job = (split, epoch, sample index)``.

        Returns:
            ``(x, y)``: channel-first image and label (one-hot, ground truth or None).

        Raises:
            SampleLoadError: With the sample index and location.
        """
        split, epoch, index = job
        s = self.samples_[index]
        try:
            x, gt = self._preprocessed(split, index)
            rng = keyed_rng(self.seed_, 2, split, epoch, index)
            if self.patch_sampler_ is not None:
                x, gt = self.patch_sampler_(x, gt, rng)
            rest = self._rest[split]
            if rest is not None:
                x, gt = rest.apply_arrays(x, gt, rng)
        except SampleLoadError as e:
            if e.index < 0:
                raise SampleLoadError(index, s.location_, e.cause) from e
            raise
        except Exception as e:
            raise SampleLoadError(index, s.location_, f"{type(e).__name__}: {e}") from e
        return self._labelled(index, x, gt)

    def LoadPreprocessed(self, job: tuple[int, int, int]) -> tuple[Any, Any]:
        """As :meth:`load_sample` with only the deterministic part: decode, the split's leading
        deterministic augmentations (cached when a cache folder is set) and ``transform``; no
        patch sampling, no random augmentation (for evaluation and prediction)."""
        split, _, index = job
        try:
            x, gt = self._preprocessed(split, index)
        except SampleLoadError as e:
            if e.index < 0:
                raise SampleLoadError(index, self.samples_[index].location_, e.cause) from e
            raise
        except Exception as e:
            loc = self.samples_[index].location_
            raise SampleLoadError(index, loc, f"{type(e).__name__}: {e}") from e
        return self._labelled(index, x, gt)

    def _describe(self, job: tuple[int, int, int]) -> tuple[int, Any]:
        return job[2], self.samples_[job[2]].location_

    def _jobs(self, split: int) -> list[tuple[int, int, int]]:
        sp = self.split_[split]
        order = self._orders[split]
        n = len(order) - len(order) % self.batch_size_ if sp.drop_last_ else len(order)
        start = self.current_batch_[split] * self.batch_size_
        epoch = self._epochs[split]
        return [(split, epoch, idx) for idx in order[start:n]]

    def Start(self, split_index: int = -1) -> None:
        """Start the workers producing batches of a split (default: the current one).

        Raises:
            DatasetError: Already started.
        """
        if self._pipeline is not None:
            raise DatasetError("DLDataset already started; call Stop() first")
        i = self._split_index(split_index)
        self._pipeline_split = i
        max_ahead = self.batch_size_ * self.queue_ratio_size_ * max(1, self.num_workers_)
        self._pipeline = BatchPipeline(
            self._jobs(i), self.batch_size_, self.load_sample, self.num_workers_, max_ahead,
            self.backend_, self._describe,
        )  # fmt: skip
        self._pipeline.start()

    def Stop(self) -> None:
        """Stop the workers."""
        if self._pipeline is not None:
            self._pipeline.stop()
            self._pipeline = None

    def GetBatch(self) -> tuple[list[Any], Any, Any]:
        """The next batch of the started split: ``(samples, x, y)``.

        Raises:
            DatasetError: Not started, or the split has no more batches.
            SampleLoadError: A sample of the batch failed (names it; workers are stopped).
        """
        if self._pipeline is None:
            raise DatasetError("call Start() before GetBatch()")
        try:
            jobs, x, y = self._pipeline.get()
        except StopIteration:
            raise DatasetError("no more batches in this split; call ResetBatch()") from None
        except SampleLoadError:
            self._pipeline = None
            raise
        self.current_batch_[self._pipeline_split] += 1
        return [self.samples_[j[2]] for j in jobs], x, y

    def LoadBatch(self, images: Any = None, labels: Any = None) -> tuple[Any, Any]:
        """Load the next batch of the current split synchronously (no workers).

        As pyecvl, the batch can be written into caller's buffers: ``eddl.Tensor``, torch tensors
        or numpy arrays of shape ``[batch_size, C, H, W]`` (a larger first axis gets the first rows
        of a short last batch).

        Args:
            images: Optional tensor to fill (its shape must match the batch).
            labels: Optional tensor to fill.

        Returns:
            ``(images, labels)``: the buffers given, else torch tensors.

        Raises:
            DatasetError: No more batches in the split, or a buffer of the wrong shape.
        """
        i = self.current_split_
        jobs = self._jobs(i)[: self.batch_size_]
        if not jobs:
            raise DatasetError("no more batches in this split; call ResetBatch()")
        pipe = BatchPipeline(jobs, self.batch_size_, self.load_sample, 0, describe=self._describe)
        _, x, y = pipe.get()
        from deephealth.ecvl.tensor_bridge import TensorBridgeError, fill

        try:
            if images is not None:
                x = fill(images, x, "image")
            if labels is not None and y is not None:
                y = fill(labels, y, "label")
        except TensorBridgeError as e:
            raise DatasetError(f"LoadBatch: {e}") from None
        self.current_batch_[i] += 1  # only once the batch reached the caller
        return x, y

    @property
    def resize_dims_(self) -> list[int]:
        """``[height, width]`` (``[depth, height, width]`` for volumes) of the batches, as pyecvl:
        the size of the first sample of the current split after its augmentations."""
        if self._resize_dims is None:
            split = self.current_split_
            indices = self.split_[split].samples_indices_ or list(range(len(self.samples_)))
            if not indices:
                raise DatasetError("resize_dims_: the dataset has no samples")
            x, _ = self.load_sample((split, 0, indices[0]))
            self._resize_dims = [int(d) for d in x.shape[1:]]
        return list(self._resize_dims)

    @resize_dims_.setter
    def resize_dims_(self, dims: Sequence[int]) -> None:
        self._resize_dims = [int(d) for d in dims]

    def SetNumChannels(self, n_channels: int, n_channels_gt: int = 1) -> None:
        """Set the channels of images and ground truths (pyecvl; for custom loading code)."""
        self.n_channels_, self.n_channels_gt_ = int(n_channels), int(n_channels_gt)

    def ToTensorPlane(self, label: Sequence[int]) -> Any:
        """The one-hot (multi-hot) label vector of ``label`` as an ``eddl.Tensor`` (pyecvl)."""
        from deephealth.ecvl.tensor_bridge import eddl_tensor

        torch = _torch()
        y = torch.zeros(len(self.classes_))
        y[list(label)] = 1.0
        return eddl_tensor(y)

    @staticmethod
    def sleep_for(delta: Any) -> None:
        """Block the calling thread for ``delta`` (a ``datetime.timedelta`` or seconds), as pyecvl."""
        seconds = delta.total_seconds() if isinstance(delta, datetime.timedelta) else float(delta)
        time.sleep(max(0.0, seconds))

    # ---------------------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        """One epoch of the current split as ``(x, y)`` batches (shuffled for training)."""
        split = self.current_split_
        shuffle = self.shuffle_ and self.split_[split].split_name_ == "training"
        self.Stop()
        self.ResetBatch(split, shuffle)
        self.Start(split)
        try:
            for _ in range(self.GetNumBatches(split)):
                _, x, y = self.GetBatch()
                yield x, y
        finally:
            self.Stop()

    def __len__(self) -> int:
        return self.GetNumBatches()

    def __del__(self) -> None:
        try:
            self.Stop()
        except Exception:
            pass
