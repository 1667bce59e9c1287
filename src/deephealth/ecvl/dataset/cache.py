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
from collections.abc import Callable
from pathlib import Path

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
