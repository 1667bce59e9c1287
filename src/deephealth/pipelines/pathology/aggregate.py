"""Aggregating patch predictions into one label per slide.

The tiles of a slide each get class probabilities; a slide label comes from their mean
(``"mean"``), a majority vote of the tiles' argmax (``"vote"``), the mean of the ``top_k``
most confident tiles per class (``"topk"``, for lesions that cover a small part of the slide)
or the maximum (``"max"``). Classes listed in ``ignore`` (e.g. background) do not compete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METHODS = ("mean", "vote", "topk", "max")


@dataclass(frozen=True)
class SlideLabel:
    """A slide-level prediction.

    Attributes:
        label: winning class name.
        index: its index in ``classes``.
        scores: per-class score used for the decision.
        classes: class names.
    """

    label: str
    index: int
    scores: dict[str, float]
    classes: tuple[str, ...]


def aggregate_predictions(
    probabilities: np.ndarray,
    classes: Sequence[str],
    *,
    method: str = "mean",
    top_k: int = 10,
    ignore: Sequence[str] = (),
) -> SlideLabel:
    """Aggregate ``(N, C)`` tile probabilities into a :class:`SlideLabel`.

    Args:
        probabilities: one row per tile.
        classes: class names, ``C`` of them.
        method: ``"mean"``, ``"vote"``, ``"topk"`` or ``"max"``.
        top_k: tiles per class averaged by ``"topk"``.
        ignore: class names that cannot win (their scores are still reported).

    Raises:
        ValueError: unknown method, no tiles, or a class-count mismatch.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got '{method}'")
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] != len(classes):
        raise ValueError(f"need (N > 0, {len(classes)}) probabilities, got shape {p.shape}")
    if method == "mean":
        scores = p.mean(axis=0)
    elif method == "vote":
        allowed = np.array([c not in ignore for c in classes])
        masked = np.where(allowed, p, -np.inf)
        scores = np.bincount(masked.argmax(axis=1), minlength=len(classes)) / len(p)
    elif method == "topk":
        k = min(top_k, len(p))
        scores = np.sort(p, axis=0)[-k:].mean(axis=0)
    else:
        scores = p.max(axis=0)
    ranked = np.where([c in ignore for c in classes], -np.inf, scores)
    index = int(np.argmax(ranked))
    return SlideLabel(
        classes[index], index, {c: float(s) for c, s in zip(classes, scores)}, tuple(classes)
    )
