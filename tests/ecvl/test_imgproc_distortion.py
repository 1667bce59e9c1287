"""Grid, elastic and optical distortions: identity at zero strength, reproducible, SciPy reference."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi
from _ecvl_core_data import skimage_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import EcvlError, Image
from deephealth.ecvl.imgproc.distortion import elastic_maps


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


def test_elastic_matches_scipy_map_coordinates(camera):
    f = camera.astype(np.float32)
    mx, my = elastic_maps(512, 512, 34, 4, np.random.default_rng(5))
    out = _run(ecvl.ElasticTransform, f, alpha=34, sigma=4, seed=np.random.default_rng(5))
    ref = ndi.map_coordinates(f, [my, mx], order=1, mode="mirror")
    inner = (slice(20, -20), slice(20, -20))  # away from the border handling
    np.testing.assert_allclose(out[inner], ref[inner], atol=0.05)


def test_errors(camera):
    with pytest.raises(EcvlError):
        ecvl.ElasticTransform(Image.from_cv(camera), Image(), sigma=0)
    with pytest.raises(EcvlError):
        ecvl.GridDistortion(Image.from_cv(camera), Image(), num_steps=0)
