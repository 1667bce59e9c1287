"""Views: data tensors of a foreign graph that are a rearrangement of one layer's output.

Recurrent ops work time-major, so exporters wrap them in Transposes that move the batch axis, and
select states with Squeeze/Gather. Such tensors cannot be layers (a layer's batch axis is first),
so they are kept as views: a layer plus an index array with the view's shape (batch size 2) whose
entries are flat positions in the layer's (2, *shape) output. Movement ops (Transpose, Reshape,
Squeeze, Unsqueeze, Gather, Slice, Flatten) act on the index array with ONNX's reference runtime.
A view becomes a layer again when an op needs data: as the layer itself, or a Select, Permute
and/or Reshape of it, found from the index array; anything else is refused.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from deephealth.eddl.layers.base import Layer

VIEW_BATCH = 2
MOVEMENT_OPS = {"Transpose", "Reshape", "Squeeze", "Unsqueeze", "Gather", "Slice", "Flatten"}


def identity_view(layer: Layer) -> np.ndarray:
    """The index array of a layer's own output, batch first."""
    n = math.prod(layer.output_shape)
    return np.arange(VIEW_BATCH * n, dtype=np.int64).reshape(VIEW_BATCH, *layer.output_shape)


def batch_axis(layer: Layer, idx: np.ndarray) -> int | None:
    """The axis of `idx` that runs over the batch, or None when the batch is mixed or dropped."""
    n = math.prod(layer.output_shape)
    for axis, size in enumerate(idx.shape):
        if size != VIEW_BATCH:
            continue
        a, b = np.take(idx, 0, axis=axis), np.take(idx, 1, axis=axis)
        if np.array_equal(b - a, np.full_like(a, n)) and (a < n).all():
            return axis
    return None


def decompose(shape: tuple[int, ...], m: np.ndarray) -> tuple[list[str], list[int] | None] | None:
    """Express index map `m` over a sample of `shape` as Select(box) then Permute(perm).

    Returns:
        (Select indices, permutation or None), or None when `m` is no such map. The result still
        needs a Reshape to `m.shape`.
    """
    coords = np.unravel_index(m.reshape(-1), shape)
    lo = [int(c.min()) for c in coords]
    hi = [int(c.max()) + 1 for c in coords]
    box = [h - low for low, h in zip(lo, hi)]
    if math.prod(box) != m.size:
        return None
    strides = np.cumprod([1, *shape[::-1]])[::-1][1:]
    base = np.zeros(box, dtype=np.int64)
    for axis, (start, size) in enumerate(zip(lo, box)):
        rng = (np.arange(size) + start) * strides[axis]
        base = base + rng.reshape([size if i == axis else 1 for i in range(len(box))])
    select = [f"{a}:{b}" for a, b in zip(lo, hi)]
    flat = m.reshape(-1)
    for perm in itertools.permutations(range(len(box))):
        if np.array_equal(base.transpose(perm).reshape(-1), flat):
            return select, (None if list(perm) == sorted(perm) else list(perm))
    return None
