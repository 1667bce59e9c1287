"""The bridge from ECVL Images to EDDL tensors: ImageToTensor, TensorToImage, TensorToView, MakeGrid.

As pyecvl, :func:`ImageToTensor` returns a ``deephealth.eddl.Tensor`` (``C×H×W`` float32; ``C×D×H×W``
for volumes), and the other functions take an ``eddl.Tensor``, a torch tensor or a numpy array.
:func:`TensorToImage`/:func:`TensorToView` lay a ``C×H×W`` tensor out as ``"xyc"`` and an
``N×C×H×W`` batch as ``"xyo"`` with ``o = N·C`` (ECVL's layouts; ``N×C×D×H×W`` gives ``"xyzco"``).
This is the only ECVL module that imports torch or EDDL, and it does so inside the functions, so
``import deephealth.ecvl`` stays light.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deephealth.ecvl.augment._arrays import image_to_array
from deephealth.ecvl.errors import EcvlError


class TensorBridgeError(EcvlError, ValueError):
    """Bad arguments to the bridge (pyecvl raises ValueError there)."""


def _torch() -> Any:
    import torch

    return torch


def eddl_tensor(t: Any) -> Any:
    """An ``eddl.Tensor`` sharing the memory of the torch tensor ``t`` (no copy)."""
    from deephealth.eddl.tensor import Tensor

    return Tensor.wrap(t)


def torch_of(t: Any) -> Any:
    """The torch tensor behind an ``eddl.Tensor``, a torch tensor or a numpy array (no copy)."""
    torch = _torch()
    inner = getattr(t, "torch", None)
    if isinstance(inner, torch.Tensor):
        return inner
    if isinstance(t, torch.Tensor):
        return t
    if isinstance(t, np.ndarray):
        return torch.from_numpy(t)
    raise TensorBridgeError(f"expected an eddl.Tensor, a torch tensor or an array, got {type(t)}")


def numpy_of(t: Any) -> np.ndarray:
    """The CPU numpy array of a tensor (a view of CPU memory; GPU tensors are copied)."""
    if isinstance(t, np.ndarray):
        return t
    return torch_of(t).detach().cpu().numpy()


def fill(dst: Any, src: Any, what: str) -> Any:
    """Copy the batch ``src`` (torch) into ``dst`` (eddl.Tensor, torch tensor or numpy array).

    A ``dst`` with a larger first axis (the short last batch) gets the first rows.

    Returns:
        ``dst``.

    Raises:
        TensorBridgeError: Shapes that do not match, naming ``what``.
    """
    src_shape = tuple(src.shape)
    if isinstance(dst, np.ndarray):
        target = dst
    else:
        target = torch_of(dst)
    shape = tuple(target.shape)
    if shape[1:] != src_shape[1:] or shape[0] < src_shape[0]:
        raise TensorBridgeError(f"the {what} batch has shape {list(src_shape)}; got {list(shape)}")
    part = target if shape[0] == src_shape[0] else target[: src_shape[0]]
    if isinstance(part, np.ndarray):
        np.copyto(part, src.numpy(), casting="unsafe")
    else:
        part.copy_(src)
    return dst


def array_to_chw(arr: np.ndarray) -> np.ndarray:
    """Canonical ``(H, W, C)`` / ``(D, H, W, C)`` array → ``(C, H, W)`` / ``(C, D, H, W)`` view."""
    return np.moveaxis(arr, -1, 0)


def ImageToTensor(img: Any, t: Any = None, offset: int | None = None) -> Any:
    """Convert an Image to a float32 ``eddl.Tensor`` ``C×H×W`` (``C×D×H×W`` for volumes).

    Args:
        img: An Image with layout x, y[, z][, c] in any order.
        t: Optional existing batch tensor ``N×C×H×W`` (eddl.Tensor or torch); the image is written
            at index ``offset``.
        offset: Index in ``t`` (required with ``t``).

    Returns:
        The new tensor, or ``t``.

    Raises:
        TensorBridgeError: ``t`` and ``offset`` not given together, or shapes that do not match.
    """
    torch = _torch()
    chw = array_to_chw(image_to_array(img))
    if t is None and offset is None:
        return eddl_tensor(torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32)))
    if t is None or offset is None:
        raise TensorBridgeError("ImageToTensor: give both t and offset, or neither")
    target = torch_of(t)
    src = torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))
    if tuple(target.shape[1:]) == chw.shape:
        target[offset].copy_(src)
        return t
    # ECVL: ``offset`` counts images of this size from the start of the tensor's memory
    n = src.numel()
    if not target.is_contiguous() or (int(offset) + 1) * n > target.numel() or offset < 0:
        raise TensorBridgeError(
            f"ImageToTensor: image {chw.shape} at offset {offset} does not fit tensor "
            f"{tuple(target.shape)}"
        )
    target.view(-1)[int(offset) * n : (int(offset) + 1) * n].copy_(src.view(-1))
    return t


def _image_view(arr: np.ndarray) -> tuple[np.ndarray, str]:
    # tensor axes → Image layout: CHW → xyc, NCHW → xyo (o = N·C, as ECVL), NCDHW → xyzco
    if arr.ndim == 3:
        return arr.transpose(2, 1, 0), "xyc"
    if arr.ndim == 4:
        n, c, h, w = arr.shape
        return arr.reshape(n * c, h, w).transpose(2, 1, 0), "xyo"
    if arr.ndim == 5:
        return arr.transpose(4, 3, 2, 1, 0), "xyzco"
    raise TensorBridgeError(
        f"a tensor of C×H×W, N×C×H×W or N×C×D×H×W is needed, got {arr.ndim} axes"
    )


def TensorToView(t: Any) -> Any:
    """An Image sharing memory with a CPU tensor (``C×H×W`` → ``"xyc"``, ``N×C×H×W`` → ``"xyo"``).

    The view does not own its pixels (``IsOwner()`` is False), as ECVL's.

    Raises:
        TensorBridgeError: Unsupported number of axes.
    """
    from deephealth.ecvl.image import ColorType, Image

    data, layout = _image_view(numpy_of(t))
    img = Image.fromarray(data, layout, ColorType.none)
    img.owner_ = False
    return img


def TensorToImage(t: Any) -> Any:
    """A float32 Image copied from a tensor (see :func:`TensorToView` for the layouts)."""
    from deephealth.ecvl.image import ColorType, Image

    data, layout = _image_view(numpy_of(t))
    return Image.fromarray(np.array(data, dtype=np.float32, copy=True), layout, ColorType.none)


def MakeGrid(t: Any, cols: int = 8, normalize: bool = False) -> Any:
    """Tile a batch ``N×C×H×W`` into one ``"xyc"`` float32 Image, ``cols`` images per row.

    Args:
        t: Batch tensor (eddl.Tensor, torch tensor or numpy array).
        cols: Images per row.
        normalize: Rescale the grid to ``[0, 1]``.

    Raises:
        TensorBridgeError: The tensor is not ``N×C×H×W``.
    """
    from deephealth.ecvl.image import ColorType, Image

    arr = numpy_of(t).astype(np.float32)
    if arr.ndim != 4:
        raise TensorBridgeError(f"MakeGrid needs an N×C×H×W tensor, got shape {tuple(arr.shape)}")
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
