"""3D transforms of volumes: resize, resample to a spacing, flip, centre crop and pad (SciPy/numpy).

They work on any layout holding x, y and z (usually ``"xyzc"``); other axes (c, t) are carried
along. Sizes and paddings are given in x, y, z order. Resizing interpolates with
``scipy.ndimage.zoom`` in grid mode (pixel-area alignment, as ``cv2.resize``) and updates spacings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import Image, saturate_cast
from deephealth.ecvl.imgproc._common import SPLINE_ORDER, InterpolationType, like

_XYZ = "xyz"


def _axes(src: Image, name: str) -> list[int]:
    if src.IsEmpty():
        raise EcvlError(f"{name}: the image is empty")
    missing = [a for a in _XYZ if a not in src.channels]
    if missing:
        raise EcvlError(f"{name}: needs a volume with x, y, z axes; layout is {src.channels!r}")
    return [src.channels.index(a) for a in _XYZ]


def ResizeDim3D(
    src: Image,
    dst: Image,
    newdim: Sequence[int],
    interp: InterpolationType = InterpolationType.linear,
) -> None:
    """Resize a volume to ``newdim = [x, y, z]`` voxels; spacings scale to keep the extent.

    Raises:
        EcvlError: Not a volume or a bad size.
    """
    import scipy.ndimage as ndi

    axes = _axes(src, "ResizeDim3D")
    if len(newdim) != 3 or min(newdim) <= 0:
        raise EcvlError(f"ResizeDim3D: newdim must be [x, y, z] > 0, got {list(newdim)}")
    shape = list(src.data.shape)
    zoom = [1.0] * len(shape)
    for a, n in zip(axes, newdim):
        zoom[a] = int(n) / shape[a]
    order = SPLINE_ORDER[InterpolationType(interp)]
    data = src.data
    work = data if data.dtype.kind == "f" else data.astype(np.float32)
    out = ndi.zoom(work, zoom, order=order, mode="nearest", grid_mode=True, prefilter=order > 1)
    out = saturate_cast(out, data.dtype)
    spacings = [s / z for s, z in zip(src.spacings, zoom)]
    dst._assign(like(src, out, spacings=spacings))


def ResampleSpacing(
    src: Image,
    dst: Image,
    spacings: Sequence[float],
    interp: InterpolationType = InterpolationType.linear,
) -> None:
    """Resample a volume to the target voxel ``spacings = [sx, sy, sz]`` (mm), keeping its extent."""
    axes = _axes(src, "ResampleSpacing")
    if len(spacings) != 3 or min(spacings) <= 0:
        raise EcvlError(f"ResampleSpacing: spacings must be [sx, sy, sz] > 0, got {list(spacings)}")
    newdim = [
        max(1, round(src.data.shape[a] * src.spacings[a] / s)) for a, s in zip(axes, spacings)
    ]
    ResizeDim3D(src, dst, newdim, interp)
    for a, s in zip(axes, spacings):
        dst.spacings[a] = float(s)


def Flip3D(src: Image, dst: Image, axes: str = "z") -> None:
    """Reverse the volume along each axis letter in ``axes`` (e.g. ``"x"``, ``"yz"``)."""
    bad = [a for a in axes if a not in src.channels]
    if bad or not axes:
        raise EcvlError(f"Flip3D: axes {axes!r} not in layout {src.channels!r}")
    out = np.flip(src.data, [src.channels.index(a) for a in axes]).copy(order="K")
    dst._assign(like(src, out))


def CenterCrop3D(src: Image, dst: Image, size: Sequence[int]) -> None:
    """Crop the central ``size = [x, y, z]`` block.

    Raises:
        EcvlError: The block is larger than the volume.
    """
    axes = _axes(src, "CenterCrop3D")
    shape = src.data.shape
    index: list[slice] = [slice(None)] * len(shape)
    for a, n in zip(axes, size):
        if not 0 < int(n) <= shape[a]:
            raise EcvlError(
                f"CenterCrop3D: size {list(size)} does not fit in {[shape[i] for i in axes]}"
            )
        start = (shape[a] - int(n)) // 2
        index[a] = slice(start, start + int(n))
    dst._assign(like(src, src.data[tuple(index)].copy(order="K")))


def Pad3D(
    src: Image, dst: Image, padding: Sequence[int], mode: str = "constant", value: float = 0
) -> None:
    """Pad a volume by ``padding``: one value (all sides), three (each axis, both sides) or six
    (x before/after, y before/after, z before/after). ``mode`` is a ``numpy.pad`` mode."""
    axes = _axes(src, "Pad3D")
    p = [int(v) for v in padding]
    if len(p) == 1:
        p = p * 6
    elif len(p) == 3:
        p = [p[0], p[0], p[1], p[1], p[2], p[2]]
    if len(p) != 6 or min(p) < 0:
        raise EcvlError(
            f"Pad3D: padding must have 1, 3 or 6 non-negative values, got {list(padding)}"
        )
    widths = [(0, 0)] * src.data.ndim
    for i, a in enumerate(axes):
        widths[a] = (p[2 * i], p[2 * i + 1])
    kw = {"constant_values": value} if mode == "constant" else {}
    dst._assign(like(src, np.pad(src.data, widths, mode=mode, **kw)))


def _slice_order(nz: int, odd: bool, down: bool) -> list[int]:
    order = list(range(0, nz, 2)) + list(range(1, nz, 2)) if odd else list(range(nz))
    return [nz - 1 - z for z in order] if down else order


def SliceTimingCorrection(src: Image, dst: Image, odd: bool = False, down: bool = False) -> None:
    """Shift each slice's voxel time series to the middle of the TR (pyecvl, fMRI).

    Slice ``z`` acquired ``k``-th of ``nz`` is moved by ``k / nz - 0.5`` of a TR with
    Hanning-windowed sinc interpolation (half-width 8 samples, weights normalised so a constant
    series stays constant). The result is float32 (float64 stays float64).

    Args:
        src: ``"xyzt"`` image (other orders of those four axes too).
        dst: Receives the corrected image.
        odd: Interleaved acquisition ``0, 2, 4, ..., 1, 3, 5, ...``.
        down: Slices acquired from the top (last z) to the bottom.

    Raises:
        EcvlError: The layout is not x, y, z, t.
    """
    if sorted(src.channels) != sorted("xyzt"):
        raise EcvlError(f"SliceTimingCorrection: needs an 'xyzt' image; layout is {src.channels!r}")
    data = np.moveaxis(src.data, [src.channels.index(a) for a in "xyzt"], [0, 1, 2, 3])
    ft = np.float64 if data.dtype == np.float64 else np.float32
    nz, nt = data.shape[2], data.shape[3]
    out = np.empty(data.shape, ft)
    t = np.arange(nt, dtype=np.float64)
    half = 8
    for rank, z in enumerate(_slice_order(nz, odd, down)):
        shift = rank / nz - 0.5
        d = (t + shift)[:, None] - t[None, :]  # output time i samples input time k at d[i, k]
        w = np.sinc(d) * np.where(np.abs(d) < half, 0.5 + 0.5 * np.cos(np.pi * d / half), 0.0)
        w /= w.sum(axis=1, keepdims=True)
        out[:, :, z, :] = data[:, :, z, :].astype(np.float64) @ w.T
    back = np.moveaxis(out, [0, 1, 2, 3], [src.channels.index(a) for a in "xyzt"])
    dst._assign(like(src, back))
