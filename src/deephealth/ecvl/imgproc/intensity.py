"""Intensity transforms: Normalize, ScaleTo, ScaleFromTo (pyecvl) and, for medical images, CT
windowing with presets, z-score normalization within a mask and percentile clipping.

They work on images of any dimensionality and layout (2D or volumes). Normalize and z-score give
float32 (float64 stays float64); ScaleTo/ScaleFromTo keep the pixel type (saturating).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import DataType, Image, saturate_cast
from deephealth.ecvl.imgproc._common import like

#: CT windows as (level, width) in Hounsfield units.
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "subdural": (75.0, 215.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "abdomen": (50.0, 400.0),
    "liver": (30.0, 150.0),
}


def _float_type(dtype: np.dtype) -> type:
    return np.float64 if dtype == np.float64 else np.float32


def _check(src: Image, name: str) -> None:
    if not isinstance(src, Image) or src.IsEmpty():
        raise EcvlError(f"{name}: the image is empty")


def _per_channel(src: Image, values: float | Sequence[float]) -> np.ndarray | float:
    """Scalars stay scalars; per-channel lists broadcast along the c axis."""
    if np.isscalar(values):
        return float(values)  # type: ignore[arg-type]
    vals = np.asarray(values, dtype=np.float64)
    if vals.size == 1:  # one value in a list applies to every channel, as ECVL
        return float(vals.ravel()[0])
    if "c" not in src.channels or vals.size != src.Channels():
        raise EcvlError(
            f"{len(vals)} per-channel values for an image with {src.Channels()} channels"
        )
    shape = [1] * src.data.ndim
    shape[src.channels.index("c")] = vals.size
    return vals.reshape(shape)


def Normalize(
    src: Image, dst: Image, mean: float | Sequence[float], std: float | Sequence[float]
) -> None:
    """``(src - mean) / std`` as float32 (float64 sources stay float64); per-channel lists allowed."""
    _check(src, "Normalize")
    m, s = _per_channel(src, mean), _per_channel(src, std)
    if np.any(np.asarray(s) == 0):
        raise EcvlError("Normalize: std must not be 0")
    ft = _float_type(src.data.dtype)
    out = ((src.data.astype(ft) - m) / s).astype(ft, copy=False)
    dst._assign(like(src, out))


def ScaleFromTo(
    src: Image, dst: Image, old_min: float, old_max: float, new_min: float, new_max: float
) -> None:
    """Map ``[old_min, old_max]`` linearly onto ``[new_min, new_max]`` keeping the pixel type."""
    _check(src, "ScaleFromTo")
    if old_max == old_min:
        raise EcvlError("ScaleFromTo: old_min and old_max must differ")
    f = (new_max - new_min) / (old_max - old_min)
    out = (src.data.astype(np.float64) - old_min) * f + new_min
    dst._assign(like(src, saturate_cast(out, src.data.dtype)))


def ScaleTo(src: Image, dst: Image, new_min: float, new_max: float) -> None:
    """Map the image's own ``[min, max]`` onto ``[new_min, new_max]`` keeping the pixel type."""
    _check(src, "ScaleTo")
    lo, hi = float(src.data.min()), float(src.data.max())
    if lo == hi:
        dst._assign(
            like(
                src,
                saturate_cast(np.full_like(src.data, new_min, dtype=np.float64), src.data.dtype),
            )
        )
        return
    ScaleFromTo(src, dst, lo, hi, new_min, new_max)


def CTWindow(
    src: Image,
    dst: Image,
    window: str | tuple[float, float],
    dst_type: DataType = DataType.float32,
) -> None:
    """Apply a CT window: clip to ``[level - width/2, level + width/2]`` HU and scale to [0, 1]
    (float types) or [0, 255] (uint8).

    Args:
        src: Image in Hounsfield units (e.g. from ``DicomRead`` of a CT).
        dst: Result.
        window: A preset name from :data:`CT_WINDOWS` or ``(level, width)``.
        dst_type: ``float32``, ``float64`` or ``uint8``.

    Raises:
        EcvlError: Unknown preset, non-positive width or unsupported ``dst_type``.
    """
    _check(src, "CTWindow")
    if isinstance(window, str):
        if window not in CT_WINDOWS:
            raise EcvlError(f"CTWindow: unknown preset {window!r}; one of {sorted(CT_WINDOWS)}")
        level, width = CT_WINDOWS[window]
    else:
        level, width = (float(v) for v in window)
    if width <= 0:
        raise EcvlError(f"CTWindow: width must be positive, got {width}")
    lo = level - width / 2.0
    unit = (np.clip(src.data.astype(np.float64), lo, lo + width) - lo) / width
    dst_type = DataType(dst_type)
    if dst_type is DataType.uint8:
        out = saturate_cast(unit * 255.0, np.uint8)
    elif dst_type in (DataType.float32, DataType.float64):
        out = unit.astype(dst_type.dtype)
    else:
        raise EcvlError(
            f"CTWindow: dst_type must be float32, float64 or uint8, not {dst_type.name}"
        )
    dst._assign(like(src, out))


def _mask_array(src: Image, mask: Any, name: str) -> np.ndarray | None:
    if mask is None:
        return None
    m = mask.data if isinstance(mask, Image) else np.asarray(mask)
    if isinstance(mask, Image) and mask.channels != src.channels:
        from deephealth.ecvl.image import rearranged

        m = rearranged(mask, src.channels, copy=False).data
    m = m.astype(bool)
    try:
        m = np.broadcast_to(m, src.data.shape)
    except ValueError:
        raise EcvlError(
            f"{name}: mask shape {m.shape} does not match image {src.data.shape}"
        ) from None
    if not m.any():
        raise EcvlError(f"{name}: the mask is empty")
    return m


def ZScoreNormalize(src: Image, dst: Image, mask: Image | np.ndarray | None = None) -> None:
    """``(src - mean) / std`` with mean and std taken inside ``mask`` (all pixels by default);
    float32 result (float64 stays float64). A constant region gives std 1 (no division by 0)."""
    _check(src, "ZScoreNormalize")
    m = _mask_array(src, mask, "ZScoreNormalize")
    ft = _float_type(src.data.dtype)
    data = src.data.astype(ft)
    vals = data if m is None else data[m]
    mean, std = float(vals.mean(dtype=np.float64)), float(vals.std(dtype=np.float64))
    out = ((data - ft(mean)) / ft(std if std > 0 else 1.0)).astype(ft, copy=False)
    dst._assign(like(src, out))


def PercentileClip(
    src: Image,
    dst: Image,
    lower: float = 0.5,
    upper: float = 99.5,
    mask: Image | np.ndarray | None = None,
) -> None:
    """Clip intensities to the ``lower`` and ``upper`` percentiles (taken inside ``mask``), keeping
    the pixel type."""
    _check(src, "PercentileClip")
    if not 0 <= lower < upper <= 100:
        raise EcvlError(f"PercentileClip: need 0 <= lower < upper <= 100, got {lower}, {upper}")
    m = _mask_array(src, mask, "PercentileClip")
    vals = src.data if m is None else src.data[m]
    method = "nearest" if src.data.dtype.kind in "ui" else "linear"
    lo, hi = np.percentile(vals, [lower, upper], method=method)
    out = np.clip(src.data, lo, hi).astype(src.data.dtype, copy=False)
    dst._assign(like(src, out))
