"""Non-rigid distortions: grid, elastic and optical (lens) distortion, image + ground truth.

Each augmentation draws one pair of sampling maps per application with the map builders of
:mod:`deephealth.ecvl.imgproc.distortion` and remaps the image with ``interp`` and the ground truth
with nearest interpolation through the *same* maps (``imgproc.distortion.remap``), so they stay
aligned. Volumes get the same in-plane maps on every slice.
"""

from __future__ import annotations

import numpy as np

from deephealth.ecvl.augment._arrays import BORDER, INTERP, via_imgproc_2d
from deephealth.ecvl.augment.base import Augmentation, Param
from deephealth.ecvl.imgproc import distortion as _dist

_BORDER_PARAMS = (
    Param("interp", "interp", "linear"),
    Param("border_type", "border", "reflect_101"),
    Param("border_value", "number", 0.0),
)


class _RemapBase(Augmentation):
    """Draws ``(map_x, map_y)`` in :meth:`_maps` and remaps image and ground truth with it."""

    def _maps(self, h: int, w: int, v: dict, rng: np.random.Generator):
        raise NotImplementedError

    def _transform(self, x, gt, v, rng):
        h, w = x.shape[-3], x.shape[-2]
        mx, my = self._maps(h, w, v, rng)
        border = BORDER[self.get("border_type")]
        bval = self.get("border_value")
        x = via_imgproc_2d(_dist.remap, x, mx, my, INTERP[self.get("interp")], border, bval)
        if gt is not None:
            gt = via_imgproc_2d(_dist.remap, gt, mx, my, INTERP["nearest"], border, 0)
        return x, gt


class AugGridDistortion(_RemapBase):
    """Stretch the cells of a random grid (pyecvl AugGridDistortion).

    Args:
        num_steps: Range ``[min, max]`` of grid cells per side.
        distort_limit: Range ``[min, max]`` of relative stretch of each grid line.
        interp: Interpolation for the image.
        border_type: Pixel extrapolation outside the image.
        border_value: Value for ``border_type="constant"``.
    """

    spec = (Param("num_steps", "range"), Param("distort_limit", "range"), *_BORDER_PARAMS)

    def _maps(self, h, w, v, rng):
        n = max(1, int(round(v["num_steps"])))
        return _dist.grid_maps(w, h, n, self.get("distort_limit"), rng)


class AugElasticTransform(_RemapBase):
    """Elastic deformation by a smoothed random displacement field (pyecvl AugElasticTransform).

    Args:
        alpha: Range ``[min, max]`` of the displacement scale (pixels).
        sigma: Range ``[min, max]`` of the Gaussian smoothing of the field.
        interp: Interpolation for the image.
        border_type: Pixel extrapolation outside the image.
        border_value: Value for ``border_type="constant"``.
    """

    spec = (Param("alpha", "range"), Param("sigma", "range"), *_BORDER_PARAMS)

    def _maps(self, h, w, v, rng):
        return _dist.elastic_maps(w, h, v["alpha"], max(v["sigma"], 1e-3), rng)


class AugOpticalDistortion(_RemapBase):
    """Barrel/pincushion lens distortion with a shifted centre (pyecvl AugOpticalDistortion).

    Args:
        distort_limit: Range ``[min, max]`` of the radial distortion coefficient.
        shift_limit: Range ``[min, max]`` of the centre shift, as a fraction of width/height.
        interp: Interpolation for the image.
        border_type: Pixel extrapolation outside the image.
        border_value: Value for ``border_type="constant"``.
    """

    spec = (Param("distort_limit", "range"), Param("shift_limit", "range"), *_BORDER_PARAMS)

    def _maps(self, h, w, v, rng):
        lo, hi = self.get("shift_limit")
        dx, dy = rng.uniform(lo, hi, 2)
        return _dist.optical_maps(w, h, v["distort_limit"], dx * w, dy * h)
