"""Intensity augmentations and conversions: gamma, brightness, blur, normalisation, scaling, types.

They change pixel values only, through :mod:`deephealth.ecvl.imgproc` (gamma, blur, brightness,
normalisation, range mapping). The type conversions (``AugToFloat32``, ``AugDivBy255``) also apply
to the ground truth, as in ECVL; the others leave it untouched. Integer images are converted to
float32 where the result needs it (normalisation, scaling); gamma, brightness and blur keep the type.
``AugScaleTo`` uses one OpenCV pass (``scale_to``) instead of ``imgproc.ScaleTo``: it sits in most
training pipelines and is 15× faster that way.
"""

from __future__ import annotations

import cv2
import numpy as np

from deephealth.ecvl.augment._arrays import via_imgproc_2d, via_imgproc_nd
from deephealth.ecvl.augment.base import Augmentation, Param
from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.imgproc import arithmetic as _arith
from deephealth.ecvl.imgproc import color as _color
from deephealth.ecvl.imgproc import filters as _filters
from deephealth.ecvl.imgproc import intensity as _intensity


def _float(x: np.ndarray) -> np.ndarray:
    return x if x.dtype.kind == "f" else x.astype(np.float32)


class AugGammaContrast(Augmentation):
    """Gamma contrast ``out = max * (x / max) ** gamma`` with random gamma (pyecvl AugGammaContrast).

    Args:
        gamma: Range ``[min, max]`` of the exponent (0.5 to 2.0 is typical).
    """

    spec = (Param("gamma", "range"),)

    def _transform(self, x, gt, v, rng):
        return via_imgproc_2d(_color.GammaContrast, x, v["gamma"]), gt


class AugBrightness(Augmentation):
    """Add a random value ``beta`` to every pixel, saturating (pyecvl AugBrightness).

    Args:
        beta: Range ``[min, max]`` of the added value (0 to 100 is typical for uint8).
    """

    spec = (Param("beta", "range"),)

    def _transform(self, x, gt, v, rng):
        return via_imgproc_nd(lambda s, d, b: _arith.Add(s, b, d), x, v["beta"]), gt


class AugGaussianBlur(Augmentation):
    """Gaussian blur with random sigma (pyecvl AugGaussianBlur); volumes in-plane per slice.

    Args:
        sigma: Range ``[min, max]`` of the standard deviation in pixels.
    """

    spec = (Param("sigma", "range"),)

    def _transform(self, x, gt, v, rng):
        s = v["sigma"]
        if s <= 1e-3:
            return x, gt
        return via_imgproc_2d(_filters.GaussianBlur, x, s), gt


class AugNormalize(Augmentation):
    """Normalise ``(x - mean) / std``, globally or per channel (pyecvl AugNormalize).

    Args:
        mean: A number, or one mean per channel.
        std: A number, or one standard deviation per channel (same form as ``mean``).
    """

    spec = (Param("mean", "numvec"), Param("std", "numvec"))
    deterministic = True

    def _check(self) -> None:
        m, s = self.get("mean"), self.get("std")
        if isinstance(m, tuple) != isinstance(s, tuple) or (
            isinstance(m, tuple) and len(m) != len(s)
        ):
            raise EcvlError(f"AugNormalize: mean {m} and std {s} must have the same form")
        if np.any(np.asarray(s) == 0):
            raise EcvlError("AugNormalize: std must not be 0")

    def _transform(self, x, gt, v, rng):
        m, s = self.get("mean"), self.get("std")
        if isinstance(m, tuple) and len(m) != x.shape[-1]:
            raise EcvlError(
                f"AugNormalize: {len(m)} means for an image with {x.shape[-1]} channels"
            )
        return via_imgproc_nd(_intensity.Normalize, x, m, s), gt


class AugScaleTo(Augmentation):
    """Scale linearly so the image spans ``[new_min, new_max]`` (pyecvl AugScaleTo).

    Args:
        new_min: New minimum.
        new_max: New maximum.
    """

    spec = (Param("new_min", "number"), Param("new_max", "number"))
    deterministic = True

    def _transform(self, x, gt, v, rng):
        return scale_to(x, self.get("new_min"), self.get("new_max")), gt


_CV_NORM_TYPES = {np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64)}


def scale_to(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Min-max scale ``x`` to ``[lo, hi]`` as float32 (one OpenCV pass when the type allows)."""
    if x.dtype in _CV_NORM_TYPES and x.size:
        flat = x.reshape(x.shape[0], -1)
        out = cv2.normalize(flat, None, lo, hi, cv2.NORM_MINMAX, dtype=cv2.CV_32F)
        return out.reshape(x.shape)
    xf = _float(x)
    mn, mx = float(xf.min()), float(xf.max())
    a = (hi - lo) / (mx - mn) if mx > mn else 0.0
    return (xf * a + (lo - a * mn)).astype(np.float32)


class AugScaleFromTo(Augmentation):
    """Map ``[old_min, old_max]`` linearly onto ``[new_min, new_max]`` (pyecvl AugScaleFromTo).

    The parameter names are ECVL's (``old_min old_max new_min new_max``), in text and as keywords.

    Args:
        old_min: Source value mapped to ``new_min``.
        old_max: Source value mapped to ``new_max``.
        new_min: Target of ``old_min``.
        new_max: Target of ``old_max``.
    """

    spec = (
        Param("old_min", "number"),
        Param("old_max", "number"),
        Param("new_min", "number"),
        Param("new_max", "number"),
    )
    deterministic = True

    def _check(self) -> None:
        if self.get("old_max") == self.get("old_min"):
            raise EcvlError("AugScaleFromTo: old_min and old_max must differ")

    def _transform(self, x, gt, v, rng):
        f0, f1, t0, t1 = (self.get(k) for k in ("old_min", "old_max", "new_min", "new_max"))
        return via_imgproc_nd(_intensity.ScaleFromTo, _float(x), f0, f1, t0, t1), gt


class AugToFloat32(Augmentation):
    """Convert image and ground truth to float32, dividing by divisors (pyecvl AugToFloat32).

    Args:
        divisor: Divisor of the image.
        divisor_gt: Divisor of the ground truth.
    """

    spec = (Param("divisor", "number", 1.0), Param("divisor_gt", "number", 1.0))
    deterministic = True

    def _transform(self, x, gt, v, rng):
        d, dg = self.get("divisor"), self.get("divisor_gt")
        x = x.astype(np.float32) if d == 1 else x.astype(np.float32) * np.float32(1.0 / d)
        if gt is not None:
            gt = gt.astype(np.float32) if dg == 1 else gt.astype(np.float32) * np.float32(1.0 / dg)
        return x, gt


class AugDivBy255(Augmentation):
    """Divide image and ground truth by 255 (pyecvl AugDivBy255); integer input becomes float32."""

    deterministic = True

    def _transform(self, x, gt, v, rng):
        k = np.float32(1.0 / 255.0)
        return _float(x) * k, None if gt is None else _float(gt) * k
