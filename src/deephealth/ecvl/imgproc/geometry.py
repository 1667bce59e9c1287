"""2D geometric transforms with pyecvl names: resize, flip, mirror, rotate, transpose, crop, pad.

All are OpenCV calls on the image's OpenCV view. Resizing updates the spacings so that the
physical extent is kept; the other transforms keep them (Transpose swaps x and y).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import ColorType, Image
from deephealth.ecvl.imgproc._common import (
    BorderType,
    InterpolationType,
    cv_view,
    single_channel,
    wrap,
)


def ResizeDim(
    src: Image,
    dst: Image,
    newdims: Sequence[int],
    interp: InterpolationType = InterpolationType.linear,
) -> None:
    """Resize to ``newdims = [width, height]`` (``cv2.resize``); spacings scale accordingly. As in
    pyecvl, a volume takes ``[x, y, z]`` (see :func:`~deephealth.ecvl.imgproc.volume.ResizeDim3D`)
    and a 2D image ``[w, h, c]``: ``c`` equal to the channels keeps them, ``c = 1`` gives gray.

    Raises:
        EcvlError: Bad size, or an image that is neither 2D nor a volume.
    """
    if len(newdims) == 3 and "z" in src.channels:
        from deephealth.ecvl.imgproc.volume import ResizeDim3D

        ResizeDim3D(src, dst, newdims, interp)
        return
    arr = cv_view(src, "ResizeDim")
    colortype = None
    if len(newdims) == 3 and newdims[2] > 0:  # [w, h, c] as ECVL's dims: c kept, or 1 = gray
        c = arr.shape[2] if arr.ndim == 3 else 1
        if int(newdims[2]) != c and int(newdims[2]) != 1:
            raise EcvlError(
                f"ResizeDim: newdims {list(newdims)} asks {newdims[2]} channels of a {c}-channel image"
            )
        if int(newdims[2]) == 1 and c > 1:
            arr, colortype = single_channel(src, arr), ColorType.GRAY
        newdims = newdims[:2]
    if len(newdims) != 2 or min(newdims) <= 0:
        raise EcvlError(f"ResizeDim: newdims must be [width, height] > 0, got {list(newdims)}")
    w, h = int(newdims[0]), int(newdims[1])
    out = cv2.resize(arr, (w, h), interpolation=int(interp))
    sx, sy = src.spacings[src.channels.index("x")], src.spacings[src.channels.index("y")]
    sp = [sx * arr.shape[1] / w, sy * arr.shape[0] / h, 1.0]
    dst._assign(wrap(src, out, colortype=colortype, spacings=sp))


def ResizeScale(
    src: Image,
    dst: Image,
    scales: Sequence[float],
    interp: InterpolationType = InterpolationType.linear,
) -> None:
    """Resize by ``scales = [sx, sy]`` (``[sx, sy, sz]`` for volumes); the new size is
    ``round(W * sx), round(H * sy)``."""
    dims = [src.Width(), src.Height()] + ([src.Depth()] if len(scales) == 3 else [])
    if (
        len(scales) not in (2, 3)
        or min(scales) <= 0
        or (len(scales) == 3 and "z" not in src.channels)
    ):
        raise EcvlError(
            f"ResizeScale: scales must be [sx, sy] (or [sx, sy, sz]) > 0, got {list(scales)}"
        )
    ResizeDim(src, dst, [max(1, round(d * f)) for d, f in zip(dims, scales)], interp)


def Flip2D(src: Image, dst: Image) -> None:
    """Flip upside down (reverse the rows, ``cv2.flip(…, 0)``)."""
    dst._assign(wrap(src, cv2.flip(cv_view(src, "Flip2D"), 0)))


def Mirror2D(src: Image, dst: Image) -> None:
    """Mirror left-right (reverse the columns, ``cv2.flip(…, 1)``)."""
    dst._assign(wrap(src, cv2.flip(cv_view(src, "Mirror2D"), 1)))


def Transpose(src: Image, dst: Image) -> None:
    """Swap rows and columns (``cv2.transpose``); x and y spacings swap too."""
    out = cv2.transpose(cv_view(src, "Transpose"))
    sx, sy = src.spacings[src.channels.index("x")], src.spacings[src.channels.index("y")]
    dst._assign(wrap(src, out, spacings=[sy, sx, 1.0]))


def _rotation(
    arr: np.ndarray, m: np.ndarray, size: tuple[int, int], interp: InterpolationType
) -> np.ndarray:
    return cv2.warpAffine(
        arr, m, size, flags=int(interp), borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def Rotate2D(
    src: Image,
    dst: Image,
    angle: float,
    center: Sequence[float] | None = None,
    scale: float = 1.0,
    interp: InterpolationType = InterpolationType.linear,
) -> None:
    """Rotate by ``angle`` degrees clockwise (as ECVL) about ``center`` ([x, y], default the image
    centre ``[(W-1)/2, (H-1)/2]``), keeping the size; uncovered pixels are 0 (``cv2.getRotationMatrix2D`` + ``warpAffine``)."""
    arr = cv_view(src, "Rotate2D")
    h, w = arr.shape[:2]
    c = ((w - 1) / 2.0, (h - 1) / 2.0) if not center else (float(center[0]), float(center[1]))
    m = cv2.getRotationMatrix2D(c, -float(angle), float(scale))  # ECVL: clockwise
    dst._assign(wrap(src, _rotation(arr, m, (w, h), interp)))


def RotateFullImage2D(
    src: Image,
    dst: Image,
    angle: float,
    scale: float = 1.0,
    interp: InterpolationType = InterpolationType.linear,
) -> None:
    """Rotate by ``angle`` degrees clockwise (as ECVL), enlarging the canvas to hold the whole image."""
    arr = cv_view(src, "RotateFullImage2D")
    h, w = arr.shape[:2]
    rad = math.radians(angle)
    cos, sin = abs(math.cos(rad)) * scale, abs(math.sin(rad)) * scale
    nw, nh = int(round(w * cos + h * sin)), int(round(w * sin + h * cos))
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), -float(angle), float(scale))
    m[0, 2] += (nw - w) / 2.0
    m[1, 2] += (nh - h) / 2.0
    dst._assign(wrap(src, _rotation(arr, m, (nw, nh), interp)))


def CenterCrop(src: Image, dst: Image, size: Sequence[int]) -> None:
    """Crop the central ``size = [width, height]`` region.

    Raises:
        EcvlError: The crop is larger than the image.
    """
    arr = cv_view(src, "CenterCrop")
    h, w = arr.shape[:2]
    cw, ch = int(size[0]), int(size[1])
    if cw > w or ch > h or cw <= 0 or ch <= 0:
        raise EcvlError(f"CenterCrop: size {[cw, ch]} does not fit in image {w}x{h}")
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    dst._assign(wrap(src, arr[y0 : y0 + ch, x0 : x0 + cw].copy()))


def Pad(
    src: Image,
    dst: Image,
    padding: Sequence[int],
    border_type: BorderType = BorderType.BORDER_CONSTANT,
    border_value: float = 0,
) -> None:
    """Pad by ``padding``: one value (all sides), two (top/bottom, left/right) or four
    (top, bottom, left, right), with ``cv2.copyMakeBorder``."""
    arr = cv_view(src, "Pad")
    p = [int(v) for v in padding]
    if len(p) == 1:
        p = p * 4
    elif len(p) == 2:
        p = [p[0], p[0], p[1], p[1]]
    if len(p) != 4 or min(p) < 0:
        raise EcvlError(
            f"Pad: padding must have 1, 2 or 4 non-negative values, got {list(padding)}"
        )
    c = arr.shape[2] if arr.ndim == 3 else 1
    out = cv2.copyMakeBorder(
        arr, p[0], p[1], p[2], p[3], int(border_type), value=[border_value] * max(c, 4)
    )
    dst._assign(wrap(src, out))


def RandomCrop(
    src: Image,
    dst: Image,
    size: Sequence[int],
    pad_if_needed: bool = False,
    border_type: BorderType = BorderType.BORDER_CONSTANT,
    border_value: float = 0,
    seed: int | np.random.Generator | None = None,
) -> None:
    """Crop a ``size = [width, height]`` window at a random position (pyecvl ``RandomCrop``).

    Args:
        src: Source 2D image.
        dst: Receives the crop.
        size: Window width and height.
        pad_if_needed: Pad a smaller image (centred, with ``border_type``) instead of failing.
        border_type: Padding mode when ``pad_if_needed``.
        border_value: Padding value for ``BORDER_CONSTANT``.
        seed: Seed or Generator for the position (fresh entropy when None).

    Raises:
        EcvlError: The window is larger than the image and ``pad_if_needed`` is False.
    """
    from deephealth.ecvl.imgproc._common import rng_of

    arr = cv_view(src, "RandomCrop")
    h, w = arr.shape[:2]
    cw, ch = int(size[0]), int(size[1])
    if cw <= 0 or ch <= 0:
        raise EcvlError(f"RandomCrop: size must be positive, got {[cw, ch]}")
    if cw > w or ch > h:
        if not pad_if_needed:
            raise EcvlError(
                f"RandomCrop: size {[cw, ch]} does not fit in image {w}x{h} "
                "(pass pad_if_needed=True to pad)"
            )
        py, px = max(ch - h, 0), max(cw - w, 0)
        c = arr.shape[2] if arr.ndim == 3 else 1
        arr = cv2.copyMakeBorder(
            arr, py // 2, py - py // 2, px // 2, px - px // 2, int(border_type),
            value=[border_value] * max(c, 4),
        )  # fmt: skip
        h, w = arr.shape[:2]
    rng = rng_of(seed)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    dst._assign(wrap(src, arr[y0 : y0 + ch, x0 : x0 + cw].copy()))
