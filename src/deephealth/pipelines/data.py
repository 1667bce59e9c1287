"""Array helpers shared by the pipelines: per-image normalization, ECVL image ↔ channels-first
arrays, resizing with ECVL's `AugResizeDim`, writing predictions, and the pipelines' `DataError`.

Datasets are never loaded whole: `pipelines.stream` streams them through ECVL's DLDataset. (The
former load-everything path survives only as the reference of tests and benchmarks,
`pipelines.inmemory`.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deephealth.errors import DataError


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
