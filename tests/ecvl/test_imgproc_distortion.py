"""Grid, elastic and optical distortions: identity at zero strength, reproducible, SciPy reference."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi
from _ecvl_core_data import skimage_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import EcvlError, Image
from deephealth.ecvl.imgproc.distortion import elastic_maps, grid_maps, optical_maps


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    return cv2.imread(skimage_file("camera.png"), cv2.IMREAD_GRAYSCALE)


def _run(fn, arr, **kw):
    out = Image()
    fn(Image.from_cv(arr), out, **kw)
    return out.to_cv()


def test_zero_strength_is_identity(camera):
    np.testing.assert_array_equal(
        _run(ecvl.GridDistortion, camera, distort_limit=(0, 0), seed=0), camera
    )
    np.testing.assert_array_equal(_run(ecvl.ElasticTransform, camera, alpha=0, seed=0), camera)
    np.testing.assert_array_equal(
        _run(ecvl.OpticalDistortion, camera, distort_limit=(0, 0), shift_limit=(0, 0), seed=0),
        camera,
    )


@pytest.mark.parametrize("fn", [ecvl.GridDistortion, ecvl.ElasticTransform, ecvl.OpticalDistortion])
def test_reproducible_and_effective(camera, fn):
    a = _run(fn, camera, seed=3)
    b = _run(fn, camera, seed=3)
    c = _run(fn, camera, seed=4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == camera.shape and not np.array_equal(a, camera) and not np.array_equal(a, c)
    assert abs(float(a.mean()) - float(camera.mean())) < 20  # same picture, moved about


@pytest.mark.parametrize(
    "fn,maps,kw",
    [
        (
            ecvl.ElasticTransform,
            lambda rng: elastic_maps(512, 512, 34, 4, rng),
            {"alpha": 34, "sigma": 4},
        ),
        (ecvl.GridDistortion, lambda rng: grid_maps(512, 512, 5, (-0.3, 0.3), rng), {}),
    ],
)
def test_remap_matches_scipy_map_coordinates(camera, fn, maps, kw):
    f = camera.astype(np.float32)
    mx, my = maps(np.random.default_rng(5))
    out = _run(fn, f, seed=np.random.default_rng(5), **kw)
    ref = ndi.map_coordinates(f, [my, mx], order=1, mode="mirror")
    inner = (slice(20, -20), slice(20, -20))  # away from the border handling
    np.testing.assert_allclose(out[inner], ref[inner], atol=0.05)


def test_optical_maps_follow_the_radial_model():
    k, w, h = 0.2, 300, 200
    mx, my = optical_maps(w, h, k, 0.0, 0.0)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    u, v = (np.arange(w) - cx) / w, (np.arange(h) - cy) / h
    r2 = u[None, :] ** 2 + v[:, None] ** 2
    np.testing.assert_allclose(mx, u[None, :] * (1 + k * r2 + k * r2**2) * w + cx, atol=1e-3)
    assert abs(mx[100, 150] - 150) < 1e-3  # near the centre pixels stay put
    assert mx[100, 0] < 0  # pincushion (k > 0): the border samples from outside


def test_errors(camera):
    with pytest.raises(EcvlError):
        ecvl.ElasticTransform(Image.from_cv(camera), Image(), sigma=0)
    with pytest.raises(EcvlError):
        ecvl.GridDistortion(Image.from_cv(camera), Image(), num_steps=0)
