"""Stain normalization (Macenko, Reinhard) and stain augmentation on real H&E and IHC images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.data import immunohistochemistry

from deephealth.ecvl.pathology import (
    MacenkoNormalizer,
    RandStainAugment,
    ReinhardNormalizer,
    macenko_stain_matrix,
)
from deephealth.ecvl.slide import OpenSlideImage

CMU = Path(__file__).resolve().parents[2] / ".data" / "cmu_small_region.svs"


@pytest.fixture(scope="module")
def he() -> np.ndarray:
    with OpenSlideImage(CMU) as slide:
        return slide.read_region(0, 800, 1200, 384, 384)


@pytest.fixture(scope="module")
def ihc() -> np.ndarray:
    return immunohistochemistry()[:384, :384]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _lab_stats(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    tissue = lab[..., 0] < 90
    return lab[tissue].mean(0), lab[tissue].std(0)


def test_macenko_stains_of_real_he(he: np.ndarray) -> None:
    stains = macenko_stain_matrix(he)
    assert stains.shape == (2, 3)
    np.testing.assert_allclose(np.linalg.norm(stains, axis=1), 1.0, atol=1e-5)
    # hematoxylin absorbs red most, eosin absorbs green most (Ruifrok's vectors)
    assert stains[0].argmax() == 0 and stains[1].argmax() == 1
    assert _cos(stains[:1], np.array([[0.65, 0.70, 0.29]]))[0] > 0.95


def test_macenko_gives_ihc_the_target_stains(he: np.ndarray, ihc: np.ndarray) -> None:
    out = MacenkoNormalizer().fit(he).transform(ihc)
    assert out.shape == ihc.shape and out.dtype == np.uint8
    assert (_cos(macenko_stain_matrix(out), macenko_stain_matrix(he)) > 0.99).all()
    assert (_cos(macenko_stain_matrix(ihc), macenko_stain_matrix(he)) < 0.95).any()


def test_macenko_of_the_target_onto_itself_is_close(he: np.ndarray) -> None:
    out = MacenkoNormalizer().fit(he).transform(he)
    assert np.abs(out.astype(int) - he).mean() < 10  # only the 3rd OD component is lost


def test_reinhard_matches_lab_statistics(he: np.ndarray, ihc: np.ndarray) -> None:
    out = ReinhardNormalizer().fit(he).transform(ihc)
    mean_t, std_t = _lab_stats(he)
    mean_o, std_o = _lab_stats(out)
    mean_s, _ = _lab_stats(ihc)
    assert np.abs(mean_o - mean_t).max() < 2.0
    assert np.abs(std_o - std_t).max() < 2.0
    assert np.abs(mean_s - mean_t).max() > 15  # they were far apart before


def test_normalizers_need_fit(he: np.ndarray) -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        MacenkoNormalizer().transform(he)
    with pytest.raises(RuntimeError, match="before fit"):
        ReinhardNormalizer().transform(he)
    with pytest.raises(ValueError, match="stained pixels"):
        macenko_stain_matrix(np.full((32, 32, 3), 250, np.uint8))


@pytest.mark.parametrize("method", ["hed", "macenko"])
def test_stain_augmentation(he: np.ndarray, method: str) -> None:
    assert np.array_equal(RandStainAugment(0.0, 0.0, method=method)(he), he)
    aug = RandStainAugment(0.3, 0.1, method=method, seed=1)
    a = aug(he)
    assert a.shape == he.shape and 3 < np.abs(a.astype(int) - he).mean() < 60
    again = RandStainAugment(0.3, 0.1, method=method, seed=1)(he)
    np.testing.assert_array_equal(a, again)  # seeded
    assert not np.array_equal(aug(he), a)  # a new draw per call
    white = np.full((16, 16, 3), 255, np.uint8)
    assert RandStainAugment(0.3, 0.1, seed=2)(white).min() >= 254  # glass stays white
