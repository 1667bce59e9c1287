"""The bridge from ECVL Images to torch tensors: ImageToTensor, TensorToImage, TensorToView, MakeGrid.

Batches cross from ECVL to EDDL (and to plain PyTorch) as float32 torch tensors laid out ``CHW``
(``CDHW`` for volumes; ``N`` first for batches). This is the only ECVL module that imports torch, and
it does so inside the functions, so ``import deephealth.ecvl`` stays light.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deephealth.ecvl.augment._arrays import image_to_array
from deephealth.ecvl.errors import EcvlError


def _torch() -> Any:
    import torch

    return torch


def array_to_chw(arr: np.ndarray) -> np.ndarray:
    """Canonical ``(H, W, C)`` / ``(D, H, W, C)`` array → ``(C, H, W)`` / ``(C, D, H, W)`` view."""
    return np.moveaxis(arr, -1, 0)


def ImageToTensor(img: Any, t: Any = None, offset: int | None = None) -> Any:
    """Convert an Image to a float32 tensor ``C×H×W`` (``C×D×H×W`` for volumes).

    Args:
        img: An Image with layout x, y[, z][, c] in any order.
        t: Optional existing batch tensor ``N×C×H×W``; the image is written at index ``offset``.
        offset: Index in ``t`` (required with ``t``).

    Returns:
        The new tensor, or ``t``.

    Raises:
        EcvlError: ``t`` and ``offset`` not given together, or shapes that do not match.
    """
    torch = _torch()
    chw = array_to_chw(image_to_array(img))
    if t is None and offset is None:
        return torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))
    if t is None or offset is None:
        raise EcvlError("ImageToTensor: give both t and offset, or neither")
    if tuple(t.shape[1:]) != chw.shape:
        raise EcvlError(f"ImageToTensor: image {chw.shape} does not fit tensor {tuple(t.shape)}")
    t[offset].copy_(torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32)))
    return t


def _layout(ndim: int) -> tuple[str, tuple[int, ...]]:
    # tensor axes → Image layout: CHW → xyc, NCHW → xyco, CDHW → xyzc, NCDHW → xyzco
    table = {
        3: ("xyc", (2, 1, 0)),
        4: ("xyco", (3, 2, 1, 0)),
        5: ("xyzco", (4, 3, 2, 1, 0)),
    }
    if ndim not in table:
        raise EcvlError(f"a tensor of C×H×W, N×C×H×W or N×C×D×H×W is needed, got {ndim} axes")
    return table[ndim]


def TensorToView(t: Any) -> Any:
    """An Image sharing memory with a CPU tensor (``C×H×W`` → ``"xyc"``, ``N×C×H×W`` → ``"xyco"``).

    Raises:
        EcvlError: Unsupported number of axes.
    """
    from deephealth.ecvl.image import ColorType, Image

    arr = t.detach().cpu().numpy()
    layout, perm = _layout(arr.ndim)
    return Image.fromarray(arr.transpose(perm), layout, ColorType.none)


def TensorToImage(t: Any) -> Any:
    """A float32 Image copied from a tensor (see :func:`TensorToView` for the layouts)."""
    view = TensorToView(t)
    view.data = np.array(view.data, dtype=np.float32, copy=True)
    return view


def MakeGrid(t: Any, cols: int = 8, normalize: bool = False) -> Any:
    """Tile a batch ``N×C×H×W`` into one ``"xyc"`` float32 Image, ``cols`` images per row.

    Args:
        t: Batch tensor.
        cols: Images per row.
        normalize: Rescale the grid to ``[0, 1]``.

    Raises:
        EcvlError: The tensor is not ``N×C×H×W``.
    """
    from deephealth.ecvl.image import ColorType, Image

    arr = t.detach().cpu().numpy().astype(np.float32)
    if arr.ndim != 4:
        raise EcvlError(f"MakeGrid needs an N×C×H×W tensor, got shape {tuple(arr.shape)}")
    n, c, h, w = arr.shape
    cols = max(1, min(int(cols), n))
    rows = -(-n // cols)
    grid = np.zeros((rows * h, cols * w, c), np.float32)
    for i in range(n):
        r, k = divmod(i, cols)
        grid[r * h : (r + 1) * h, k * w : (k + 1) * w] = arr[i].transpose(1, 2, 0)
    if normalize and grid.size:
        lo, hi = float(grid.min()), float(grid.max())
        grid = (grid - lo) / (hi - lo) if hi > lo else np.zeros_like(grid)
    ct = ColorType.GRAY if c == 1 else ColorType.RGB if c == 3 else ColorType.none
    return Image.fromarray(grid.transpose(1, 0, 2), "xyc", ct)
