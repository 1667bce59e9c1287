"""Noise and dropout augmentations: Laplace and Poisson noise, salt/pepper, coarse dropout.

They change pixel values only, so they touch the image and never the ground truth. Integer images
saturate to their type's range (as ECVL does); salt is the type's maximum (1.0 for float images).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from deephealth.ecvl.augment._arrays import saturate, value_max
from deephealth.ecvl.augment.base import Augmentation, Param


class AugAdditiveLaplaceNoise(Augmentation):
    """Add Laplace noise with a random standard deviation (pyecvl AugAdditiveLaplaceNoise).

    Args:
        std_dev: Range ``[min, max]`` of the noise standard deviation (≈ 255*0.05 for uint8).
    """

    spec = (Param("std_dev", "range"),)

    def _transform(self, x, gt, v, rng):
        noise = rng.laplace(0.0, v["std_dev"] / np.sqrt(2.0), x.shape).astype(np.float32)
        return saturate(x + noise, x.dtype), gt


class AugAdditivePoissonNoise(Augmentation):
    """Add Poisson noise of random sign with a random lambda (pyecvl AugAdditivePoissonNoise).

    Args:
        lambda_: Range ``[min, max]`` of lambda (0 to 10 is typical); ``lambda`` in text.
    """

    spec = (Param("lambda", "range"),)

    def __init__(self, *args, **kwargs):
        if "lambda_" in kwargs:
            kwargs["lambda"] = kwargs.pop("lambda_")
        super().__init__(*args, **kwargs)

    def _transform(self, x, gt, v, rng):
        noise = rng.poisson(v["lambda"], x.shape).astype(np.float32)
        noise *= rng.choice(np.array([-1.0, 1.0], np.float32), x.shape)
        return saturate(x + noise, x.dtype), gt


class _ImpulseNoise(Augmentation):
    """Set random pixels to white (salt) and/or black (pepper)."""

    spec = (Param("p", "range"), Param("per_channel", "prob"))
    extra_draws = ("seed",)
    salt_share: ClassVar[float] = 1.0

    def _transform(self, x, gt, v, rng):
        per_channel = v["per_channel"] <= self.get("per_channel") and self.get("per_channel") > 0
        shape = x.shape if per_channel else x.shape[:-1] + (1,)
        hit = rng.random(shape) < v["p"]
        out = np.array(x, copy=True)
        if self.salt_share >= 1.0:
            np.putmask(out, np.broadcast_to(hit, x.shape), value_max(x.dtype))
            return out, gt
        if self.salt_share <= 0.0:
            np.putmask(out, np.broadcast_to(hit, x.shape), 0)
            return out, gt
        salt = rng.random(shape) < self.salt_share
        np.putmask(out, np.broadcast_to(hit & salt, x.shape), value_max(x.dtype))
        np.putmask(out, np.broadcast_to(hit & ~salt, x.shape), 0)
        return out, gt


class AugSalt(_ImpulseNoise):
    """Set a random fraction ``p`` of pixels to white (pyecvl AugSalt).

    Args:
        p: Range ``[min, max]`` of the probability of a pixel turning white.
        per_channel: Probability of drawing channels independently.
    """

    salt_share = 1.0


class AugPepper(_ImpulseNoise):
    """Set a random fraction ``p`` of pixels to black (pyecvl AugPepper).

    Args:
        p: Range ``[min, max]`` of the probability of a pixel turning black.
        per_channel: Probability of drawing channels independently.
    """

    salt_share = 0.0


class AugSaltAndPepper(_ImpulseNoise):
    """Set a random fraction ``p`` of pixels to white or black (pyecvl AugSaltAndPepper).

    Args:
        p: Range ``[min, max]`` of the probability of a pixel changing.
        per_channel: Probability of drawing channels independently.
    """

    salt_share = 0.5


class AugCoarseDropout(Augmentation):
    """Zero random rectangles on a grid (pyecvl AugCoarseDropout).

    Args:
        p: Range ``[min, max]`` of the probability of each rectangle being dropped.
        drop_size: Range ``[min, max]`` of the rectangle size, as a fraction of the image sides.
        per_channel: Probability of dropping channels independently.
    """

    spec = (Param("p", "range"), Param("drop_size", "range"), Param("per_channel", "prob"))

    def _transform(self, x, gt, v, rng):
        h, w, c = x.shape[-3], x.shape[-2], x.shape[-1]
        rh = max(1, int(v["drop_size"] * h))
        rw = max(1, int(v["drop_size"] * w))
        gh, gw = -(-h // rh), -(-w // rw)
        per_channel = v["per_channel"] <= self.get("per_channel") and self.get("per_channel") > 0
        keep = rng.random((gh, gw, c if per_channel else 1)) >= v["p"]
        keep = np.repeat(np.repeat(keep, rh, axis=0), rw, axis=1)[:h, :w]
        return x * keep.astype(x.dtype), gt
