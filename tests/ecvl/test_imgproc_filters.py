"""Filters against SciPy / numpy references on real images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.ndimage as ndi
from _ecvl_core_data import skimage_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import DataType, EcvlError, Image, MorphType


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    return cv2.imread(skimage_file("camera.png"), cv2.IMREAD_GRAYSCALE)


def test_filter2d_and_separable(camera):
    f = camera.astype(np.float32)
    ker = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32)
    out = Image()
    ecvl.Filter2D(Image.from_cv(f), out, ker)
    np.testing.assert_allclose(
        out.to_cv(), ndi.correlate(f, ker, mode="mirror"), rtol=1e-5, atol=1e-3
    )
    ker_img = Image.fromarray(ker.T[:, :, None].copy(), "xyc")  # the same kernel as an ECVL Image
    ecvl.Filter2D(Image.from_cv(f), out, ker_img)
    np.testing.assert_allclose(
        out.to_cv(), ndi.correlate(f, ker, mode="mirror"), rtol=1e-5, atol=1e-3
    )
    ecvl.Filter2D(Image.from_cv(camera), out, ker, DataType.int16)
    assert out.data.dtype == np.int16
    kx, ky = [1, 2, 1], [1, 0, -1]
    ecvl.SeparableFilter2D(Image.from_cv(f), out, kx, ky)
    np.testing.assert_allclose(
        out.to_cv(), ndi.correlate(f, np.outer(ky, kx), mode="mirror"), atol=1e-3
    )


def test_blurs(camera):
    f = camera.astype(np.float32)
    out = Image()
    ecvl.GaussianBlur(Image.from_cv(f), out, 2.0)
    np.testing.assert_allclose(
        out.to_cv(), ndi.gaussian_filter(f, 2.0, mode="mirror", truncate=4.0), atol=0.05
    )
    ecvl.GaussianBlur(Image.from_cv(f), out, 5, 5, 1.0)
    np.testing.assert_allclose(
        out.to_cv(), ndi.gaussian_filter(f, 1.0, mode="mirror", truncate=2.0), atol=0.6
    )
    with pytest.raises(EcvlError):
        ecvl.GaussianBlur(Image.from_cv(f), out, 4, 4, 1.0)
    ecvl.MedianBlur(Image.from_cv(camera), out, 5)
    np.testing.assert_array_equal(out.to_cv(), ndi.median_filter(camera, 5, mode="nearest"))
    ecvl.MedianBlur(Image.from_cv(f), out, 7)  # float, large window: SciPy path
    np.testing.assert_array_equal(out.to_cv(), ndi.median_filter(f, 7, mode="nearest"))
    ecvl.AverageBlur(Image.from_cv(f), out, [3, 5])
    np.testing.assert_allclose(out.to_cv(), ndi.uniform_filter(f, (5, 3), mode="mirror"), atol=1e-3)
    with pytest.raises(EcvlError):
        ecvl.MedianBlur(Image.from_cv(camera), out, 4)


@pytest.mark.parametrize("op", list(MorphType)[:7])
def test_morphology_matches_scipy(camera, op):
    k = np.ones((3, 3), np.uint8)
    out = Image()
    ecvl.Morphology(Image.from_cv(camera), out, op, k)
    ero = ndi.grey_erosion(camera, size=(3, 3), mode="nearest")
    dil = ndi.grey_dilation(camera, size=(3, 3), mode="nearest")
    opened = ndi.grey_dilation(ero, size=(3, 3), mode="nearest")
    closed = ndi.grey_erosion(dil, size=(3, 3), mode="nearest")
    ref = {
        MorphType.MORPH_ERODE: ero,
        MorphType.MORPH_DILATE: dil,
        MorphType.MORPH_OPEN: opened,
        MorphType.MORPH_CLOSE: closed,
        MorphType.MORPH_GRADIENT: dil - ero,
        MorphType.MORPH_TOPHAT: camera - opened,
        MorphType.MORPH_BLACKHAT: closed - camera,
    }[op]
    np.testing.assert_array_equal(out.to_cv(), ref)


def test_inpaint_restores_a_hole(camera):
    mask = np.zeros_like(camera)
    mask[200:210, 300:310] = 1
    damaged = camera.copy()
    damaged[mask > 0] = 255
    out = Image()
    ecvl.Inpaint(Image.from_cv(damaged), out, Image.from_cv(mask), 3)
    res = out.to_cv().astype(int)
    np.testing.assert_array_equal(res[mask == 0], camera[mask == 0])
    err_before = np.abs(damaged.astype(int) - camera)[mask > 0].mean()
    err_after = np.abs(res - camera)[mask > 0].mean()
    assert err_after < err_before / 4


def test_integral_and_nms(camera):
    out = Image()
    ecvl.IntegralImage(Image.from_cv(camera), out)
    ref = np.zeros((513, 513))
    ref[1:, 1:] = camera.astype(np.float64).cumsum(0).cumsum(1)
    assert out.dims_ == [513, 513, 1]
    np.testing.assert_array_equal(out.to_cv(), ref)
    ecvl.NonMaximaSuppression(Image.from_cv(camera), out)
    mx = ndi.maximum_filter(camera, size=3, mode="nearest")
    np.testing.assert_array_equal(out.to_cv(), np.where(camera == mx, camera, 0))
    with pytest.raises(EcvlError):
        ecvl.IntegralImage(Image.from_cv(camera), out, DataType.uint8)
