"""On-disk cache of decoded samples after their deterministic preprocessing.

The leading deterministic augmentations of a split (resize, centre crop, type conversion,
normalisation ...) give the same result every epoch. With a cache folder, DLDataset runs them once,
stores the result as ``.npy`` (memory-mapped on later reads) and runs only the random remainder in
later epochs. The cache key covers the dataset file, colour types and the preprocessing text, so a
changed pipeline never reads stale entries.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.ecvl.augment.base import Augmentation
from deephealth.ecvl.augment.containers import SequentialAugmentationContainer


def split_deterministic(
    aug: Augmentation | None,
) -> tuple[Augmentation | None, Augmentation | None]:
    """Split ``aug`` into its deterministic prefix and the random rest (either may be None)."""
    if aug is None:
        return None, None
    if isinstance(aug, SequentialAugmentationContainer):
        members = list(aug.augs_)
        k = 0
        while k < len(members) and members[k].deterministic:
            k += 1
        prefix = SequentialAugmentationContainer(members[:k]) if k else None
        rest = SequentialAugmentationContainer(members[k:]) if k < len(members) else None
        return prefix, rest
    return (aug, None) if aug.deterministic else (None, aug)


class PreprocessCache:
    """A folder of preprocessed samples, one ``.npy`` per sample (and ground truth).

    Args:
        folder: Cache root.
        key: Text identifying the dataset and preprocessing (hashed into a subfolder).
    """

    def __init__(self, folder: str | os.PathLike, key: str) -> None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        self.folder = Path(folder) / digest
        self.folder.mkdir(parents=True, exist_ok=True)

    def _save(self, path: Path, arr: np.ndarray) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-", suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, np.ascontiguousarray(arr))
        os.replace(tmp, path)

    def get(
        self, index: int, compute: Callable[[], tuple[np.ndarray, np.ndarray | None]]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The cached ``(x, gt)`` of sample ``index``, computing and storing it on a miss."""
        px, pg, pn = (self.folder / f"{index}{s}" for s in (".npy", "_gt.npy", "_nogt"))
        if px.exists() and (pg.exists() or pn.exists()):
            x = np.load(px, mmap_mode="r")
            return x, (np.load(pg, mmap_mode="r") if pg.exists() else None)
        x, gt = compute()
        if gt is not None:
            self._save(pg, gt)
        else:
            pn.touch()
        self._save(px, x)
        return x, gt


class HeldSamples:
    """Preprocessed samples kept in RAM for reuse, at most ``max_bytes`` of them (least recently
    used dropped first): patch training draws several patches per image and epoch, and one decode
    then serves them all while the memory stays bounded whatever the dataset's size.

    Thread-safe (the loader's workers share it). The arrays handed out are read-only views.

    Args:
        max_bytes: Most bytes of arrays held; a sample larger than this is computed, not held.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self.bytes = 0
        self.hits = self.misses = 0
        self._items: OrderedDict[Any, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, key: Any, compute: Callable[[], tuple[np.ndarray, np.ndarray | None]]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The held ``(x, gt)`` of ``key``, computed (outside the lock) and held on a miss."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        x, gt = (_read_only(a) for a in compute())
        size = _nbytes(x) + _nbytes(gt)
        if size > self.max_bytes:
            return x, gt
        with self._lock:
            if key not in self._items:
                self._items[key] = (x, gt)
                self.bytes += size
            while self.bytes > self.max_bytes:
                _, (ox, og) = self._items.popitem(last=False)
                self.bytes -= _nbytes(ox) + _nbytes(og)
        return x, gt


def _nbytes(a: Any) -> int:
    return int(getattr(a, "nbytes", 0))


def _read_only(a: Any) -> Any:
    if not isinstance(a, np.ndarray):
        return a
    view = a.view()
    view.flags.writeable = False
    return view
