"""Noise and dropout augmentations: Laplace and Poisson noise, salt/pepper, coarse dropout.

They change pixel values only, so they touch the image and never the ground truth. The work is done
by :mod:`deephealth.ecvl.imgproc.noise` with this application's generator as seed; integer images
saturate to their type's range (as ECVL does); salt is the type's maximum (1.0 for float images).
"""

from __future__ import annotations

from typing import ClassVar

from deephealth.ecvl.augment._arrays import via_imgproc_nd
from deephealth.ecvl.augment.base import Augmentation, Param
from deephealth.ecvl.imgproc import noise as _noise


class AugAdditiveLaplaceNoise(Augmentation):
    """Add Laplace noise with a random standard deviation (pyecvl AugAdditiveLaplaceNoise).

    Args:
        std_dev: Range ``[min, max]`` of the noise standard deviation (≈ 255*0.05 for uint8).
    """

    spec = (Param("std_dev", "range"),)

    def _transform(self, x, gt, v, rng):
        return via_imgproc_nd(_noise.AdditiveLaplaceNoise, x, v["std_dev"], seed=rng), gt


class AugAdditivePoissonNoise(Augmentation):
    """Add Poisson noise with a random lambda (pyecvl AugAdditivePoissonNoise).

    Args:
        lambda_: Range ``[min, max]`` of lambda (0 to 10 is typical); ``lambda`` in text.
    """

    spec = (Param("lambda", "range"),)

    def __init__(self, *args, **kwargs):
        if "lambda_" in kwargs:
            kwargs["lambda"] = kwargs.pop("lambda_")
        super().__init__(*args, **kwargs)

    def _transform(self, x, gt, v, rng):
        return via_imgproc_nd(_noise.AdditivePoissonNoise, x, v["lambda"], seed=rng), gt


class _ImpulseNoise(Augmentation):
    """Set random pixels to white (salt) and/or black (pepper)."""

    spec = (Param("p", "range"), Param("per_channel", "prob"))
    function: ClassVar[str] = ""

    def _transform(self, x, gt, v, rng):
        per_channel = v["per_channel"] <= self.get("per_channel") and self.get("per_channel") > 0
        fn = getattr(_noise, self.function)
        return via_imgproc_nd(fn, x, v["p"], per_channel, seed=rng), gt


class AugSalt(_ImpulseNoise):
    """Set a random fraction ``p`` of pixels to white (pyecvl AugSalt).

    Args:
        p: Range ``[min, max]`` of the probability of a pixel turning white.
        per_channel: Probability of drawing channels independently.
    """

    function = "Salt"


class AugPepper(_ImpulseNoise):
    """Set a random fraction ``p`` of pixels to black (pyecvl AugPepper).

    Args:
        p: Range ``[min, max]`` of the probability of a pixel turning black.
        per_channel: Probability of drawing channels independently.
    """

    function = "Pepper"


class AugSaltAndPepper(_ImpulseNoise):
    """Set a random fraction ``p`` of pixels to white or black (pyecvl AugSaltAndPepper).

    Args:
        p: Range ``[min, max]`` of the probability of a pixel changing.
        per_channel: Probability of drawing channels independently.
    """

    function = "SaltAndPepper"


class AugCoarseDropout(Augmentation):
    """Zero random rectangles on a grid (pyecvl AugCoarseDropout).

    Args:
        p: Range ``[min, max]`` of the probability of each rectangle being dropped.
        drop_size: Range ``[min, max]`` of the rectangle size, as a fraction of the image sides.
        per_channel: Probability of dropping channels independently.
    """

    spec = (Param("p", "range"), Param("drop_size", "range"), Param("per_channel", "prob"))

    def _transform(self, x, gt, v, rng):
        if v["p"] <= 0 or v["drop_size"] <= 0:
            return x, gt
        per_channel = v["per_channel"] <= self.get("per_channel") and self.get("per_channel") > 0
        size = min(v["drop_size"], 1.0)
        return via_imgproc_nd(_noise.CoarseDropout, x, v["p"], size, per_channel, seed=rng), gt
