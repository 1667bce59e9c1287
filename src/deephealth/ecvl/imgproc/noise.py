"""Random noise and dropout (pyecvl AdditiveLaplaceNoise, AdditivePoissonNoise, Salt, Pepper,
SaltAndPepper, CoarseDropout, plus AdditiveGaussianNoise).

Each function takes ``seed`` (an int, a ``numpy.random.Generator`` or None for fresh entropy), so a
run is reproducible. Results keep the pixel type, saturating. They work on any layout; "per
channel" means each value along c is drawn independently, otherwise one draw covers all channels of
a pixel.
"""

from __future__ import annotations

import math

import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import Image, saturate_cast
from deephealth.ecvl.imgproc._common import like, rng_of, type_max

Seed = int | np.random.Generator | None


def _check(src: Image, name: str) -> None:
    if not isinstance(src, Image) or src.IsEmpty():
        raise EcvlError(f"{name}: the image is empty")


def _add(src: Image, dst: Image, noise: np.ndarray) -> None:
    dst._assign(like(src, saturate_cast(src.data.astype(np.float64) + noise, src.data.dtype)))


def AdditiveGaussianNoise(
    src: Image, dst: Image, std_dev: float, mean: float = 0.0, seed: Seed = None
) -> None:
    """Add normal noise of ``mean`` and ``std_dev`` to every value."""
    _check(src, "AdditiveGaussianNoise")
    _add(src, dst, rng_of(seed).normal(mean, std_dev, src.data.shape))


def AdditiveLaplaceNoise(src: Image, dst: Image, std_dev: float, seed: Seed = None) -> None:
    """Add Laplace noise of standard deviation ``std_dev`` (scale ``std_dev / sqrt(2)``)."""
    _check(src, "AdditiveLaplaceNoise")
    if std_dev < 0:
        raise EcvlError("AdditiveLaplaceNoise: std_dev must be >= 0")
    _add(src, dst, rng_of(seed).laplace(0.0, std_dev / math.sqrt(2.0), src.data.shape))


def AdditivePoissonNoise(src: Image, dst: Image, lambda_: float, seed: Seed = None) -> None:
    """Add Poisson samples of rate ``lambda_`` (non-negative, as imgaug/ECVL)."""
    _check(src, "AdditivePoissonNoise")
    if lambda_ < 0:
        raise EcvlError("AdditivePoissonNoise: lambda must be >= 0")
    _add(src, dst, rng_of(seed).poisson(lambda_, src.data.shape).astype(np.float64))


def _draw_mask(src: Image, p: float, per_channel: bool, rng: np.random.Generator) -> np.ndarray:
    shape = list(src.data.shape)
    if not per_channel and "c" in src.channels:
        shape[src.channels.index("c")] = 1
    return rng.random(shape) < p


def _set(
    src: Image,
    dst: Image,
    p: float,
    per_channel: bool,
    seed: Seed,
    salt: float,
    pepper: float,
    name: str,
) -> None:
    _check(src, name)
    if not 0 <= p <= 1:
        raise EcvlError(f"{name}: p must be in [0, 1], got {p}")
    rng = rng_of(seed)
    out = src.data.copy(order="K")
    hit = np.broadcast_to(_draw_mask(src, p, per_channel, rng), out.shape)
    if salt == pepper:
        out[hit] = salt
    else:  # salt and pepper: each hit picks one of the two with equal chance
        white = np.broadcast_to(_draw_mask(src, 0.5, per_channel, rng), out.shape)
        out[hit & white] = salt
        out[hit & ~white] = pepper
    dst._assign(like(src, out))


def Salt(src: Image, dst: Image, p: float, per_channel: bool = False, seed: Seed = None) -> None:
    """Set a fraction ``p`` of the pixels to white (the type's maximum, 1.0 for floats)."""
    m = type_max(src.data.dtype)
    _set(src, dst, p, per_channel, seed, m, m, "Salt")


def Pepper(src: Image, dst: Image, p: float, per_channel: bool = False, seed: Seed = None) -> None:
    """Set a fraction ``p`` of the pixels to 0."""
    _set(src, dst, p, per_channel, seed, 0.0, 0.0, "Pepper")


def SaltAndPepper(
    src: Image, dst: Image, p: float, per_channel: bool = False, seed: Seed = None
) -> None:
    """Set a fraction ``p`` of the pixels to white or 0 (half each on average)."""
    _set(src, dst, p, per_channel, seed, type_max(src.data.dtype), 0.0, "SaltAndPepper")


def CoarseDropout(
    src: Image, dst: Image, p: float, drop_size: float, per_channel: bool = False, seed: Seed = None
) -> None:
    """Zero rectangular blocks: the image is divided into blocks of ``drop_size`` × its width and
    height, and each block is dropped with probability ``p`` (per channel if asked)."""
    _check(src, "CoarseDropout")
    if not 0 <= p <= 1 or not 0 < drop_size <= 1:
        raise EcvlError(
            f"CoarseDropout: need 0 <= p <= 1 and 0 < drop_size <= 1, got {p}, {drop_size}"
        )
    ch = src.channels
    if "x" not in ch or "y" not in ch:
        raise EcvlError(f"CoarseDropout: needs x and y axes, layout is {ch!r}")
    rng = rng_of(seed)
    shape = src.data.shape
    xa, ya = ch.index("x"), ch.index("y")
    bw = max(1, int(round(shape[xa] * drop_size)))
    bh = max(1, int(round(shape[ya] * drop_size)))
    grid: list[int] = [1] * len(shape)
    grid[xa], grid[ya] = math.ceil(shape[xa] / bw), math.ceil(shape[ya] / bh)
    if per_channel and "c" in ch:
        grid[ch.index("c")] = shape[ch.index("c")]
    keep = rng.random(grid) >= p
    big = np.repeat(np.repeat(keep, bw, axis=xa), bh, axis=ya)
    big = big[tuple(slice(0, n) if i in (xa, ya) else slice(None) for i, n in enumerate(shape))]
    dst._assign(like(src, np.where(big, src.data, src.data.dtype.type(0))))
