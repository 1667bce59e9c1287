"""Joining images with pyecvl names: Stack (2D images → a volume), HConcat and VConcat.

Sources must share layout (others are rearranged to the first one's), type and the sizes of the
axes not joined; the result keeps the first image's colour type, spacings and metadata.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import Image, rearranged
from deephealth.ecvl.imgproc._common import like


def _arrays(srcs: Sequence[Image], name: str) -> list[np.ndarray]:
    if not srcs:
        raise EcvlError(f"{name}: no images given")
    first = srcs[0]
    out = []
    for i, s in enumerate(srcs):
        if s.IsEmpty():
            raise EcvlError(f"{name}: image {i} is empty")
        if s.channels != first.channels:
            s = rearranged(s, first.channels, copy=False)
        if s.data.dtype != first.data.dtype:
            raise EcvlError(f"{name}: image {i} is {s.data.dtype}, image 0 is {first.data.dtype}")
        out.append(s.data)
    return out


def _concat(srcs: Sequence[Image], dst: Image, axis_letter: str, name: str) -> None:
    arrays = _arrays(srcs, name)
    ch = srcs[0].channels
    if axis_letter not in ch:
        raise EcvlError(f"{name}: layout {ch!r} has no {axis_letter} axis")
    axis = ch.index(axis_letter)
    try:
        data = np.concatenate(arrays, axis=axis)
    except ValueError:
        raise EcvlError(
            f"{name}: sizes differ along the other axes: {[a.shape for a in arrays]}"
        ) from None
    dst._assign(like(srcs[0], data))


def HConcat(src: Sequence[Image], dst: Image) -> None:
    """Join images side by side (along x)."""
    _concat(src, dst, "x", "HConcat")


def VConcat(src: Sequence[Image], dst: Image) -> None:
    """Join images top to bottom (along y)."""
    _concat(src, dst, "y", "VConcat")


def Stack(src: Sequence[Image], dst: Image) -> None:
    """Stack 2D images of equal size along a new z axis: ``"xyc"`` images → an ``"xyzc"`` volume
    (z spacing 1)."""
    arrays = _arrays(src, "Stack")
    ch = src[0].channels
    if "z" in ch:
        raise EcvlError(f"Stack: images already have a z axis (layout {ch!r})")
    if any(a.shape != arrays[0].shape for a in arrays):
        raise EcvlError(f"Stack: image sizes differ: {[a.shape for a in arrays]}")
    pos = ch.index("c") if "c" in ch else len(ch)
    data = np.stack(arrays, axis=pos)
    spacings = list(src[0].spacings)
    spacings.insert(pos, 1.0)
    out = like(src[0], data, channels=ch[:pos] + "z" + ch[pos:], spacings=spacings)
    dst._assign(out)
