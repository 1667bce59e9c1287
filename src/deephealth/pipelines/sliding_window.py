"""Sliding-window inference with blended overlaps, for images and volumes larger than the patches a
segmentation model was trained on.

The image is covered by windows of the patch size whose starts step by `window * (1 - overlap)`
(the last window is pushed back to end at the border, so no window leaves the image); images
smaller than a window are zero-padded. Windows are predicted in batches by any callable (the torch
model or an onnxruntime session), and overlapping predictions are averaged with per-pixel weights:
constant, or a Gaussian centred on the window that down-weights the less reliable window borders
(as nnU-Net and MONAI do).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

BLENDS = ("gaussian", "constant")


def window_starts(size: int, window: int, overlap: float) -> list[int]:
    """Start offsets of the windows covering `size` along one axis.

    Args:
        size: Length of the axis.
        window: Window length (<= size).
        overlap: Fraction of the window shared by neighbours, in [0, 1).

    Returns:
        Sorted starts; the last one is `size - window`.
    """
    if window >= size:
        return [0]
    step = max(1, int(window * (1 - overlap)))
    starts = list(range(0, size - window, step))
    starts.append(size - window)
    return starts


def blend_weights(
    window: Sequence[int], blend: str = "gaussian", sigma: float = 0.125
) -> np.ndarray:
    """Per-pixel weights of one window: Gaussian (sigma = `sigma` × side) or constant ones.

    Raises:
        ValueError: for an unknown blend.
    """
    if blend == "constant":
        return np.ones(tuple(window), dtype=np.float32)
    if blend != "gaussian":
        raise ValueError(f"unknown blend {blend!r}; use one of {BLENDS}")
    axes = []
    for w in window:
        x = np.arange(w, dtype=np.float64) - (w - 1) / 2
        axes.append(np.exp(-0.5 * (x / max(sigma * w, 1e-6)) ** 2))
    weights = axes[0]
    for a in axes[1:]:
        weights = np.multiply.outer(weights, a)
    weights = weights / weights.max()
    return np.maximum(weights, 1e-3).astype(np.float32)


def sliding_window_inference(
    image: np.ndarray,
    window: Sequence[int],
    predict: Callable[[np.ndarray], np.ndarray],
    overlap: float = 0.5,
    blend: str = "gaussian",
    batch_size: int = 4,
) -> np.ndarray:
    """Predict a whole image or volume window by window and blend the overlaps.

    Args:
        image: Channels-first array (C, H, W) or (C, D, H, W).
        window: Window (patch) size per spatial axis.
        predict: Maps a batch (N, C, *window) to (N, K, *window).
        overlap: Overlap between neighbouring windows, in [0, 1).
        blend: "gaussian" or "constant".
        batch_size: Windows per call of `predict`.

    Returns:
        The blended prediction (K, *spatial), float32.

    Raises:
        ValueError: when the window rank differs from the image's, on a bad overlap or blend, or
            when `predict` returns an unexpected shape.
    """
    image = np.asarray(image)
    spatial = image.shape[1:]
    window = tuple(int(w) for w in window)
    if len(window) != len(spatial) or any(w <= 0 for w in window):
        raise ValueError(f"window {list(window)} does not fit an image of spatial shape {spatial}")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    weights = blend_weights(window, blend)
    padded_shape = tuple(max(s, w) for s, w in zip(spatial, window))
    if padded_shape != spatial:
        pads = [(0, 0)] + [(0, p - s) for s, p in zip(spatial, padded_shape)]
        image = np.pad(image, pads)
    starts = list(
        itertools.product(*[window_starts(s, w, overlap) for s, w in zip(padded_shape, window)])
    )
    out: np.ndarray | None = None
    norm = np.zeros(padded_shape, dtype=np.float32)
    for i in range(0, len(starts), batch_size):
        chunk = starts[i : i + batch_size]
        slices = [tuple(slice(s, s + w) for s, w in zip(st, window)) for st in chunk]
        batch = np.stack([image[(slice(None), *sl)] for sl in slices]).astype(np.float32)
        pred = np.asarray(predict(batch), dtype=np.float32)
        if pred.ndim != batch.ndim or pred.shape[0] != len(chunk) or pred.shape[2:] != window:
            raise ValueError(
                f"predict returned shape {pred.shape} for a batch of shape {batch.shape}; "
                f"expected ({len(chunk)}, K, {', '.join(map(str, window))})"
            )
        if out is None:
            out = np.zeros((pred.shape[1], *padded_shape), dtype=np.float32)
        for p, sl in zip(pred, slices):
            out[(slice(None), *sl)] += p * weights
            norm[sl] += weights
    assert out is not None
    out /= norm
    return out[(slice(None), *[slice(0, s) for s in spatial])]
