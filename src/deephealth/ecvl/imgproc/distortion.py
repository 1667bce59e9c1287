"""Random non-rigid distortions with pyecvl names: GridDistortion, ElasticTransform,
OpticalDistortion (the albumentations/imgaug algorithms, on ``cv2.remap``).

Each function builds a pair of sampling maps and remaps the image with OpenCV. The map builders
(``grid_maps``, ``elastic_maps``, ``optical_maps``) are public so that a caller can apply the same
distortion to an image and its mask. ``seed`` makes a call reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import Image
from deephealth.ecvl.imgproc._common import BorderType, InterpolationType, cv_view, rng_of, wrap

Seed = int | np.random.Generator | None


def remap(
    src: Image,
    dst: Image,
    map_x: np.ndarray,
    map_y: np.ndarray,
    interp: InterpolationType,
    border_type: BorderType,
    border_value: float,
    name: str = "remap",
) -> None:
    """``dst(y, x) = src(map_y[y, x], map_x[y, x])`` with OpenCV (maps of shape ``(H, W)``)."""
    arr = cv_view(src, name)
    c = arr.shape[2] if arr.ndim == 3 else 1
    out = cv2.remap(arr, map_x.astype(np.float32), map_y.astype(np.float32), int(interp),
                    borderMode=int(border_type), borderValue=[float(border_value)] * max(c, 4))  # fmt: skip
    dst._assign(wrap(src, out))


def grid_maps(
    width: int,
    height: int,
    num_steps: int,
    distort_limit: Sequence[float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Sampling maps of a grid distortion: along each axis the image is cut into ``num_steps``
    equal cells, each stretched by a random factor ``1 + u`` (``u`` uniform in ``distort_limit``);
    the cells are then rescaled to cover the image, so the borders stay in place."""

    def axis(n: int) -> np.ndarray:
        dst = np.linspace(0.0, n - 1.0, num_steps + 1)
        widths = np.diff(dst) * (1.0 + rng.uniform(distort_limit[0], distort_limit[1], num_steps))
        widths = np.maximum(widths, 1e-6)
        src = np.concatenate([[0.0], np.cumsum(widths)])
        src *= (n - 1.0) / src[-1]
        return np.interp(np.arange(n, dtype=np.float64), dst, src).astype(np.float32)

    xs, ys = axis(width), axis(height)
    return np.tile(xs, (height, 1)), np.tile(ys[:, None], (1, width))


def GridDistortion(
    src: Image,
    dst: Image,
    num_steps: int = 5,
    distort_limit: Sequence[float] = (-0.3, 0.3),
    interp: InterpolationType = InterpolationType.linear,
    border_type: BorderType = BorderType.BORDER_REFLECT_101,
    border_value: float = 0,
    seed: Seed = None,
) -> None:
    """Distort the image by stretching the cells of a ``num_steps`` grid (see :func:`grid_maps`)."""
    if num_steps < 1 or len(distort_limit) != 2:
        raise EcvlError("GridDistortion: num_steps >= 1 and distort_limit = [min, max] are needed")
    mx, my = grid_maps(src.Width(), src.Height(), num_steps, distort_limit, rng_of(seed))
    remap(src, dst, mx, my, interp, border_type, border_value, "GridDistortion")


def elastic_maps(
    width: int, height: int, alpha: float, sigma: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sampling maps of an elastic deformation (Simard et al. 2003): uniform [-1, 1] displacement
    fields smoothed by a Gaussian of ``sigma`` and scaled by ``alpha`` pixels."""
    dx = rng.uniform(-1.0, 1.0, (height, width)).astype(np.float32)
    dy = rng.uniform(-1.0, 1.0, (height, width)).astype(np.float32)
    dx = cv2.GaussianBlur(dx, (0, 0), sigma) * alpha
    dy = cv2.GaussianBlur(dy, (0, 0), sigma) * alpha
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return xs + dx, ys + dy


def ElasticTransform(
    src: Image,
    dst: Image,
    alpha: float = 34,
    sigma: float = 4,
    interp: InterpolationType = InterpolationType.linear,
    border_type: BorderType = BorderType.BORDER_REFLECT_101,
    border_value: float = 0,
    seed: Seed = None,
) -> None:
    """Elastic deformation with strength ``alpha`` and smoothness ``sigma`` (see :func:`elastic_maps`)."""
    if sigma <= 0:
        raise EcvlError(f"ElasticTransform: sigma must be positive, got {sigma}")
    mx, my = elastic_maps(src.Width(), src.Height(), alpha, sigma, rng_of(seed))
    remap(src, dst, mx, my, interp, border_type, border_value, "ElasticTransform")


def optical_maps(
    width: int, height: int, k: float, dx: float, dy: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sampling maps of a barrel (``k < 0``) / pincushion (``k > 0``) lens distortion: the radial
    model ``r' = r (1 + k r^2 + k r^4)`` of OpenCV's camera calibration (focal length = image
    size), about the image centre shifted by ``(dx, dy)`` pixels."""
    cx, cy = (width - 1) * 0.5 + dx, (height - 1) * 0.5 + dy
    u = (np.arange(width, dtype=np.float64) - cx) / width
    v = (np.arange(height, dtype=np.float64) - cy) / height
    uu, vv = np.meshgrid(u, v)
    r2 = uu * uu + vv * vv
    factor = 1.0 + k * r2 + k * r2 * r2
    return (uu * factor * width + cx).astype(np.float32), (vv * factor * height + cy).astype(
        np.float32
    )


def OpticalDistortion(
    src: Image,
    dst: Image,
    distort_limit: Sequence[float] = (-0.3, 0.3),
    shift_limit: Sequence[float] = (-0.1, 0.1),
    interp: InterpolationType = InterpolationType.linear,
    border_type: BorderType = BorderType.BORDER_REFLECT_101,
    border_value: float = 0,
    seed: Seed = None,
) -> None:
    """Lens distortion with ``k`` uniform in ``distort_limit`` and a centre shift uniform in
    ``shift_limit`` × the image size (see :func:`optical_maps`)."""
    rng = rng_of(seed)
    k = rng.uniform(*distort_limit)
    w, h = src.Width(), src.Height()
    dx = rng.uniform(*shift_limit) * w
    dy = rng.uniform(*shift_limit) * h
    mx, my = optical_maps(w, h, k, dx, dy)
    remap(src, dst, mx, my, interp, border_type, border_value, "OpticalDistortion")
