"""Array plumbing shared by the augmentations: Image ↔ canonical arrays, OpenCV dispatch.

Augmentations work on *canonical* arrays: ``(H, W, C)`` for 2D images and ``(D, H, W, C)`` for
volumes (reversed spatial axes, channels last), which is OpenCV's order for a 2D image and a stack
of OpenCV images for a volume. :func:`image_to_array` gets this view from any Image layout without
copying, :func:`array_to_image` stores a result back as ``"xyc"`` / ``"xyzc"``, and
:func:`cv_apply` runs an OpenCV function on any channel count, pixel type and dimensionality.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from deephealth.ecvl.errors import EcvlError

INTERP = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "area": cv2.INTER_AREA,
    "lanczos4": cv2.INTER_LANCZOS4,
}
BORDER = {
    "constant": cv2.BORDER_CONSTANT,
    "replicate": cv2.BORDER_REPLICATE,
    "reflect": cv2.BORDER_REFLECT,
    "wrap": cv2.BORDER_WRAP,
    "reflect_101": cv2.BORDER_REFLECT_101,
    "transparent": cv2.BORDER_TRANSPARENT,
}
NP_PAD = {
    "constant": "constant",
    "replicate": "edge",
    "reflect": "symmetric",
    "wrap": "wrap",
    "reflect_101": "reflect",
    "transparent": "edge",
}
_CV_TYPES = {np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64)}


def image_to_array(img: Any) -> np.ndarray:
    """The canonical view ``(H, W, C)`` / ``(D, H, W, C)`` of an Image (no copy).

    Raises:
        EcvlError: The layout has no x or y, or has time/other axes.
    """
    ch = img.channels
    if "x" not in ch or "y" not in ch or set(ch) - set("xyzc"):
        raise EcvlError(f"augmentations need a layout of x, y[, z][, c]; got {ch!r}")
    order = [ch.index(a) for a in "zyx" if a in ch]
    data = img.data
    if "c" in ch:
        return data.transpose([*order, ch.index("c")])
    return data.transpose(order)[..., None]


def array_to_image(arr: np.ndarray, img: Any) -> None:
    """Store canonical ``arr`` into ``img`` (layout ``"xyc"`` or ``"xyzc"``), keeping spacings."""
    by_letter = dict(zip(img.channels, img.spacings))
    if arr.ndim == 3:
        img.data, layout = arr.transpose(1, 0, 2), "xyc"
    else:
        img.data, layout = arr.transpose(2, 1, 0, 3), "xyzc"
    img.channels = layout
    img.spacings = [float(by_letter.get(a, 1.0)) for a in layout]


def spatial_shape(arr: np.ndarray) -> tuple[int, ...]:
    """Spatial sizes of a canonical array in x, y[, z] order (ECVL's dims order)."""
    return tuple(reversed(arr.shape[:-1]))


def cv_apply(fn: Callable[[np.ndarray], np.ndarray], arr: np.ndarray) -> np.ndarray:
    """Run a 2D OpenCV function on a canonical array of any channel count, type and dimension.

    Volumes are processed slice by slice; more than four channels in groups of four; pixel types
    OpenCV lacks (int8, int32, int64) go through float64 (exact for labels) and back.

    Args:
        fn: Takes an ``(H, W)`` or ``(H, W, c≤4)`` contiguous array, returns an OpenCV image.
        arr: Canonical input.

    Returns:
        The canonical result, same type as ``arr``.
    """
    if arr.ndim == 4:
        return np.stack([cv_apply(fn, s) for s in arr])
    dtype = arr.dtype
    work = arr if dtype in _CV_TYPES else arr.astype(np.float64)
    c = work.shape[2]
    if c == 1:
        out = fn(np.ascontiguousarray(work[:, :, 0]))
    elif c <= 4:
        out = fn(np.ascontiguousarray(work))
    else:
        parts = []
        for i in range(0, c, 4):
            part = fn(np.ascontiguousarray(work[:, :, i : i + 4]))
            parts.append(part if part.ndim == 3 else part[:, :, None])
        out = np.concatenate(parts, axis=2)
    if out.ndim == 2:
        out = out[:, :, None]
    if out.dtype != dtype:
        out = np.rint(out).astype(dtype) if dtype.kind in "iub" else out.astype(dtype)
    return out


def resize_axis0(arr: np.ndarray, size: int, nearest: bool) -> np.ndarray:
    """Resize axis 0 (depth) of ``arr`` to ``size`` samples, linear or nearest, pixel-centre aligned."""
    n = arr.shape[0]
    if n == size:
        return arr
    pos = (np.arange(size) + 0.5) * (n / size) - 0.5
    if nearest:
        return arr[np.clip(np.floor(pos + 0.5).astype(int), 0, n - 1)]
    pos = np.clip(pos, 0, n - 1)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (pos - i0).reshape((-1,) + (1,) * (arr.ndim - 1))
    out = arr[i0] * (1 - w) + arr[i1] * w
    return np.rint(out).astype(arr.dtype) if arr.dtype.kind in "iub" else out.astype(arr.dtype)


def new_image(arr: np.ndarray, colortype: Any = None) -> Any:
    """A new Image (``"xyc"`` / ``"xyzc"``) viewing canonical ``arr`` without a copy."""
    from deephealth.ecvl.image import ColorType, Image

    data = arr.transpose(1, 0, 2) if arr.ndim == 3 else arr.transpose(2, 1, 0, 3)
    layout = "xyc" if arr.ndim == 3 else "xyzc"
    return Image.fromarray(data, layout, ColorType.none if colortype is None else colortype)


def via_imgproc_2d(fn: Callable[..., None], arr: np.ndarray, *args: Any, **kw: Any) -> np.ndarray:
    """Run a 2D ECVL processing function ``fn(src, dst, *args)`` on a canonical array.

    The array is wrapped as an ``"xyc"`` Image without copying; volumes go slice by slice and other
    channel counts / pixel types are handled by :func:`cv_apply`.
    """
    from deephealth.ecvl.image import Image

    def call(a: np.ndarray) -> np.ndarray:
        dst = Image()
        fn(Image.from_cv(a), dst, *args, **kw)
        return dst.to_cv()

    return cv_apply(call, arr)


def via_imgproc_nd(fn: Callable[..., None], arr: np.ndarray, *args: Any, **kw: Any) -> np.ndarray:
    """Run an n-dimensional ECVL processing function ``fn(src, dst, *args)`` on a canonical array.

    The array is wrapped (no copy) with layout ``"yxc"`` / ``"zyxc"``; the result comes back canonical.
    """
    from deephealth.ecvl.image import Image

    dst = Image()
    fn(Image.fromarray(arr, "yxc" if arr.ndim == 3 else "zyxc"), dst, *args, **kw)
    return image_to_array(dst)
