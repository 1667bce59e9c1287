"""Colour conversions, gamma, histogram equalization and CLAHE on real images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _ecvl_core_data import skimage_file
from skimage.exposure import adjust_gamma

import deephealth.ecvl as ecvl
from deephealth.ecvl import ColorType, EcvlError, Image


@pytest.fixture(scope="module")
def astro() -> np.ndarray:
    return cv2.imread(skimage_file("astronaut.png"))


def test_change_color_space(astro):
    src = Image.from_cv(astro)
    out = Image()
    ecvl.ChangeColorSpace(src, out, ColorType.RGB)
    assert out.colortype is ColorType.RGB
    np.testing.assert_array_equal(out.to_cv(), astro[:, :, ::-1])
    ecvl.ChangeColorSpace(src, out, ColorType.GRAY)
    ref = astro.astype(float) @ [0.114, 0.587, 0.299]  # ITU-R BT.601 luma of B, G, R
    assert out.Channels() == 1 and np.abs(out.to_cv() - ref).max() <= 1.0
    ecvl.ChangeColorSpace(src, out, ColorType.HSV)
    np.testing.assert_array_equal(out.to_cv(), cv2.cvtColor(astro, cv2.COLOR_BGR2HSV))
    ecvl.ChangeColorSpace(src, out, ColorType.YCbCr)
    ycrcb = cv2.cvtColor(astro, cv2.COLOR_BGR2YCrCb)
    np.testing.assert_array_equal(out.to_cv(), ycrcb[:, :, [0, 2, 1]])  # Y, Cb, Cr
    back = Image()
    ecvl.ChangeColorSpace(out, back, ColorType.BGR)
    assert np.abs(back.to_cv().astype(int) - astro).max() <= 3
    gray = Image.from_cv(cv2.cvtColor(astro, cv2.COLOR_BGR2GRAY))
    ecvl.ChangeColorSpace(gray, out, ColorType.RGBA)
    assert out.Channels() == 4 and (out.to_cv()[:, :, 3] == 255).all()
    with pytest.raises(EcvlError, match="channels"):
        ecvl.ChangeColorSpace(Image.from_cv(astro, ColorType.GRAY), out, ColorType.RGB)
    with pytest.raises(EcvlError):
        ecvl.ChangeColorSpace(Image.from_cv(astro, ColorType.none), out, ColorType.RGB)


def test_gamma_matches_skimage(astro):
    out = Image()
    for gamma in (0.5, 2.2):
        ecvl.GammaContrast(Image.from_cv(astro), out, gamma)
        assert np.abs(out.to_cv().astype(int) - adjust_gamma(astro, gamma)).max() <= 1
    f = Image.from_cv(astro.astype(np.float32) / 255)
    ecvl.GammaContrast(f, out, 2.0)
    np.testing.assert_allclose(out.to_cv(), (astro.astype(np.float32) / 255) ** 2, rtol=1e-6)


def test_histogram_equalization_formula():
    moon = cv2.imread(skimage_file("moon.png"), cv2.IMREAD_GRAYSCALE)
    out = Image()
    ecvl.HistogramEqualization(Image.from_cv(moon), out)
    hist = np.bincount(moon.ravel(), minlength=256)
    cdf = hist.cumsum()
    cmin = cdf[hist > 0][0]
    lut = np.clip(np.round((cdf - cmin) * 255.0 / (moon.size - cmin)), 0, 255).astype(np.uint8)
    assert np.abs(out.to_cv().astype(int) - lut[moon]).max() <= 1
    assert out.to_cv().std() > moon.std()


def test_clahe_raises_local_contrast(astro):
    moon = cv2.imread(skimage_file("moon.png"), cv2.IMREAD_GRAYSCALE)
    out = Image()
    ecvl.CLAHE(Image.from_cv(moon), out, 2.0, [8, 8])
    np.testing.assert_array_equal(out.to_cv(), cv2.createCLAHE(2.0, (8, 8)).apply(moon))
    assert out.to_cv().std() > moon.std()
    ecvl.CLAHE(Image.from_cv(astro), out)  # colour: on the luma only
    assert out.Channels() == 3 and out.colortype is ColorType.BGR
    with pytest.raises(EcvlError):
        ecvl.HistogramEqualization(Image.from_cv(moon.astype(np.float32)), out)
