"""Sampling beyond ECVL: class-balanced epoch orders and patch sampling from 3D volumes.

``class_balanced_order`` draws an epoch's sample order with probabilities inversely proportional to
class frequency (with replacement), so rare classes are seen as often as common ones.
``PatchSampler`` crops fixed-size patches from images or volumes, uniformly or centred on labelled
voxels of the ground truth with probability ``pos_ratio`` (label-weighted), for segmentation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deephealth.ecvl.augment.crop import crop_view
from deephealth.ecvl.errors import EcvlError


def class_balanced_order(
    indices: Sequence[int], labels: Sequence[list[int] | None], rng: np.random.Generator
) -> list[int]:
    """An epoch order over ``indices`` drawn with inverse class frequency (with replacement).

    Args:
        indices: Sample indices of the split.
        labels: Label list of every sample of the dataset (first label counts; None = no class).
        rng: Generator of this epoch.

    Returns:
        ``len(indices)`` sample indices.
    """
    idx = np.asarray(indices)
    if idx.size == 0:
        return []
    cls = np.array([(labels[i][0] if labels[i] else -1) for i in idx])
    values, counts = np.unique(cls, return_counts=True)
    freq = dict(zip(values.tolist(), counts.tolist()))
    w = np.array([1.0 / freq[c] for c in cls.tolist()])
    return rng.choice(idx, size=idx.size, replace=True, p=w / w.sum()).tolist()


class PatchSampler:
    """Crop a patch of ``size`` from a canonical image and its ground truth.

    Args:
        size: Patch size ``(w, h)`` or ``(w, h, d)``.
        label_weighted: Centre patches on labelled (non-zero) ground-truth voxels with probability
            ``pos_ratio``; otherwise (and when the ground truth is empty) sample uniformly.
        pos_ratio: Share of label-centred patches.

    Example:
        >>> import numpy as np
        >>> x, gt = np.zeros((40, 40, 40, 1)), np.zeros((40, 40, 40, 1))
        >>> PatchSampler((16, 16, 16))(x, gt, np.random.default_rng(0))[0].shape
        (16, 16, 16, 1)
    """

    def __init__(
        self, size: Sequence[int], label_weighted: bool = False, pos_ratio: float = 0.5
    ) -> None:
        self.size = tuple(int(s) for s in size)
        if len(self.size) not in (2, 3) or min(self.size) <= 0:
            raise EcvlError(f"PatchSampler: size must be 2 or 3 positive ints, got {size}")
        if not 0.0 <= pos_ratio <= 1.0:
            raise EcvlError(f"PatchSampler: pos_ratio must be in [0, 1], got {pos_ratio}")
        self.label_weighted, self.pos_ratio = bool(label_weighted), float(pos_ratio)

    def __call__(
        self, x: np.ndarray, gt: np.ndarray | None, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the patch of ``x`` (and ``gt``)."""
        dims = tuple(reversed(x.shape[:-1]))  # x, y[, z]
        size = self.size[: len(dims)]
        if any(s > d for s, d in zip(size, dims)):
            raise EcvlError(f"PatchSampler: patch {size} larger than image {dims}")
        start = None
        if self.label_weighted and gt is not None and rng.random() < self.pos_ratio:
            fg = np.flatnonzero(np.any(gt != 0, axis=-1))
            if fg.size:
                centre = np.unravel_index(int(fg[rng.integers(fg.size)]), gt.shape[:-1])
                centre_xyz = tuple(reversed([int(c) for c in centre]))
                start = tuple(
                    int(np.clip(c - s // 2, 0, d - s)) for c, s, d in zip(centre_xyz, size, dims)
                )
        if start is None:
            start = tuple(int(rng.integers(0, d - s + 1)) for d, s in zip(dims, size))
        return crop_view(x, start, size), None if gt is None else crop_view(gt, start, size)
