"""Thresholds against OpenCV, numpy and scikit-image on real images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _ecvl_core_data import skimage_file
from skimage.filters import threshold_multiotsu, threshold_otsu

import deephealth.ecvl as ecvl
from deephealth.ecvl import EcvlError, Image, ThresholdingType


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    return cv2.imread(skimage_file("camera.png"), cv2.IMREAD_GRAYSCALE)


def test_threshold_matches_opencv(camera):
    out = Image()
    ecvl.Threshold(Image.from_cv(camera), out, 100, 255)
    np.testing.assert_array_equal(
        out.to_cv(), cv2.threshold(camera, 100, 255, cv2.THRESH_BINARY)[1]
    )
    ecvl.Threshold(Image.from_cv(camera), out, 100, 200, ThresholdingType.BINARY_INV)
    np.testing.assert_array_equal(
        out.to_cv(), cv2.threshold(camera, 100, 200, cv2.THRESH_BINARY_INV)[1]
    )
    f = camera.astype(np.float32) / 255
    ecvl.Threshold(Image.from_cv(f), out, 0.5, 1.0)
    np.testing.assert_array_equal(out.to_cv(), cv2.threshold(f, 0.5, 1.0, cv2.THRESH_BINARY)[1])


def test_multi_threshold(camera):
    out = Image()
    ecvl.MultiThreshold(Image.from_cv(camera), out, [50, 100, 200], 0, 255)
    levels = np.array([0, 85, 170, 255])
    np.testing.assert_array_equal(
        out.to_cv(), levels[np.digitize(camera, [50, 100, 200], right=True)]
    )
    with pytest.raises(EcvlError):
        ecvl.MultiThreshold(Image.from_cv(camera), out, [100, 50])


def test_otsu(camera):
    t = ecvl.OtsuThreshold(Image.from_cv(camera))
    assert abs(t - threshold_otsu(camera)) <= 1
    ts = ecvl.OtsuMultiThreshold(Image.from_cv(camera), 2)
    assert ts == [int(v) for v in threshold_multiotsu(camera, classes=3)]
    assert abs(ecvl.OtsuMultiThreshold(Image.from_cv(camera), 1)[0] - t) <= 1
    with pytest.raises(EcvlError, match="single-channel"):
        ecvl.OtsuThreshold(Image.from_cv(cv2.cvtColor(camera, cv2.COLOR_GRAY2BGR)))
    with pytest.raises(EcvlError, match="not supported"):
        ecvl.OtsuThreshold(Image.from_cv(camera.astype(np.float32)))
