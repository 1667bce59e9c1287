"""Labelling, contours, moments, statistics and maxima against scikit-image / OpenCV / numpy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _ecvl_core_data import skimage_file
from skimage.measure import label, moments, moments_central

import deephealth.ecvl as ecvl
from deephealth.ecvl import EcvlError, Image


@pytest.fixture(scope="module")
def coins_mask() -> np.ndarray:
    coins = cv2.imread(skimage_file("coins.png"), cv2.IMREAD_GRAYSCALE)
    return (coins > 110).astype(np.uint8)


def test_connected_components_match_skimage(coins_mask):
    out = Image()
    n = ecvl.ConnectedComponentsLabeling(Image.from_cv(coins_mask), out)
    ref, n_ref = label(coins_mask, connectivity=2, return_num=True)
    assert n == n_ref + 1 and out.data.dtype == np.int32
    labels = out.to_cv()
    # same partition: a one-to-one map between the label sets
    pairs = set(zip(labels.ravel().tolist(), ref.ravel().tolist()))
    assert len(pairs) == n and len({a for a, _ in pairs}) == n


def test_find_contours(coins_mask):
    contours = ecvl.FindContours(Image.from_cv(coins_mask))
    filled = np.zeros_like(coins_mask)
    cv2.drawContours(filled, [c.reshape(-1, 1, 2) for c in contours], -1, 1, -1)
    assert len(contours) == label(filled, connectivity=2).max()
    for c in contours[:20]:
        xs, ys = c[:, 0], c[:, 1]
        assert coins_mask[ys, xs].all()  # every contour point is a foreground pixel


def test_moments_match_skimage():
    cam = cv2.imread(skimage_file("camera.png"), cv2.IMREAD_GRAYSCALE)[100:164, 200:280]
    m = Image()
    ecvl.Moments(Image.from_cv(cam), m, 3, type_=ecvl.DataType.float64)
    ref = moments(cam.astype(np.float64), order=3)  # ref[p, q]: rows^p cols^q
    assert m.channels == "xy" and m.dims_ == [4, 4]
    np.testing.assert_allclose(m.data, ref.T, rtol=1e-9)
    low = np.add.outer(np.arange(4), np.arange(4)) <= 3  # scikit-image keeps p + q <= order
    ecvl.CentralMoments(Image.from_cv(cam), m, None, 3)
    ref = moments_central(cam.astype(np.float64), order=3).T
    np.testing.assert_allclose(m.data[low], ref[low], rtol=1e-7, atol=1e-3)
    ecvl.CentralMoments(Image.from_cv(cam), m, [10.0, 20.0], 3)
    ref = moments_central(cam.astype(np.float64), (20.0, 10.0), order=3).T
    np.testing.assert_allclose(m.data[low], ref[low], rtol=1e-9)
    with pytest.raises(EcvlError):
        ecvl.CentralMoments(Image.from_cv(np.zeros((4, 4), np.uint8)), m)


def test_mean_std_and_max_n():
    astro = cv2.imread(skimage_file("astronaut.png"))
    mean, std = ecvl.MeanStdDev(Image.from_cv(astro))
    m_ref, s_ref = cv2.meanStdDev(astro)
    np.testing.assert_allclose(mean, m_ref.ravel())
    np.testing.assert_allclose(std, s_ref.ravel())
    cam = cv2.imread(skimage_file("camera.png"), cv2.IMREAD_GRAYSCALE).astype(np.float32)
    cam += np.arange(cam.size, dtype=np.float32).reshape(cam.shape) * 1e-6  # unique values
    top = ecvl.GetMaxN(Image.from_cv(cam), 5)
    order = np.argsort(cam.ravel())[::-1][:5]
    assert top == [[int(i % 512), int(i // 512)] for i in order]
    with pytest.raises(EcvlError):
        ecvl.GetMaxN(Image.from_cv(cam), 0)
