"""Non-rigid distortions: grid, elastic and optical (lens) distortion, image + ground truth.

Each augmentation draws one displacement map per application and remaps the image with ``interp``
and the ground truth with nearest interpolation through the *same* map, so they stay aligned.
Volumes get the same in-plane map on every slice.
"""

from __future__ import annotations

import cv2
import numpy as np

from deephealth.ecvl.augment._arrays import BORDER, INTERP, cv_apply
from deephealth.ecvl.augment.base import Augmentation, Param

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

        def remap(flag: int, value: float):
            return lambda a: cv2.remap(a, mx, my, flag, borderMode=border, borderValue=value)

        x = cv_apply(remap(INTERP[self.get("interp")], bval), x)
        if gt is not None:
            gt = cv_apply(remap(cv2.INTER_NEAREST, 0), gt)
        return x, gt


def _grid_axis(n: int, steps: np.ndarray) -> np.ndarray:
    num = len(steps) - 1
    step = n // num if num else n
    out = np.zeros(n, np.float32)
    prev = 0.0
    for i, s in enumerate(steps):
        start = i * step
        if start >= n:
            break
        end = n if i == len(steps) - 1 else min(start + step, n)
        cur = prev + step * s
        out[start:end] = np.linspace(prev, cur, end - start, endpoint=False, dtype=np.float32)
        prev = cur
    return np.clip(out, 0, n - 1)


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
        lo, hi = self.get("distort_limit")
        xs = _grid_axis(w, 1.0 + rng.uniform(lo, hi, n + 1))
        ys = _grid_axis(h, 1.0 + rng.uniform(lo, hi, n + 1))
        return np.broadcast_to(xs, (h, w)).copy(), np.broadcast_to(ys[:, None], (h, w)).copy()


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
        sigma = max(v["sigma"], 1e-3)
        dx = rng.uniform(-1, 1, (h, w)).astype(np.float32)
        dy = rng.uniform(-1, 1, (h, w)).astype(np.float32)
        dx = cv2.GaussianBlur(dx, (0, 0), sigma) * v["alpha"]
        dy = cv2.GaussianBlur(dy, (0, 0), sigma) * v["alpha"]
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        return gx + dx, gy + dy


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
        k = v["distort_limit"]
        lo, hi = self.get("shift_limit")
        dx, dy = rng.uniform(lo, hi, 2)
        cam = np.array([[w, 0, w * (0.5 + dx)], [0, h, h * (0.5 + dy)], [0, 0, 1]], np.float32)
        dist = np.array([k, k, 0, 0, 0], np.float32)
        return cv2.initUndistortRectifyMap(cam, dist, None, None, (w, h), cv2.CV_32FC1)
