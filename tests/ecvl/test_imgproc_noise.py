"""Noise and dropout: reproducible with a seed, right statistics, type kept and saturated."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _ecvl_core_data import skimage_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import EcvlError, Image


@pytest.fixture(scope="module")
def astro() -> np.ndarray:
    return cv2.imread(skimage_file("astronaut.png"))


def _run(fn, src, *args, **kw):
    out = Image()
    fn(src, out, *args, **kw)
    return out


def test_additive_noises_statistics(astro):
    flat = Image.from_cv(np.full((256, 256), 0.5, np.float32))
    g = _run(ecvl.AdditiveGaussianNoise, flat, 0.05, seed=1).data - 0.5
    assert abs(g.std() - 0.05) < 0.002 and abs(g.mean()) < 0.002
    lap = _run(ecvl.AdditiveLaplaceNoise, flat, 0.05, seed=1).data - 0.5
    assert abs(lap.std() - 0.05) < 0.003
    kurt = ((lap - lap.mean()) ** 4).mean() / lap.var() ** 2
    assert 5 < kurt < 7  # Laplace: kurtosis 6 (normal: 3)
    p = _run(
        ecvl.AdditivePoissonNoise, Image.from_cv(np.zeros((256, 256), np.uint8)), 4.0, seed=2
    ).data
    assert abs(p.mean() - 4) < 0.05 and abs(p.var() - 4) < 0.2
    sat = _run(ecvl.AdditiveGaussianNoise, Image.from_cv(astro), 80, seed=3)
    assert sat.data.dtype == np.uint8 and sat.data.max() == 255 and sat.data.min() == 0


def test_seed_reproducibility(astro):
    a = _run(ecvl.AdditiveLaplaceNoise, Image.from_cv(astro), 10, seed=7)
    b = _run(ecvl.AdditiveLaplaceNoise, Image.from_cv(astro), 10, seed=7)
    c = _run(ecvl.AdditiveLaplaceNoise, Image.from_cv(astro), 10, seed=8)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)


def test_salt_pepper(astro):
    src = Image.from_cv(astro)
    s = _run(ecvl.Salt, src, 0.1, seed=0).to_cv()
    changed = (s != astro).any(axis=2)
    white = (s == 255).all(axis=2)
    assert 0.08 < white.mean() < 0.12 and not (changed & ~white).any()  # whole pixels turned white
    p = _run(ecvl.Pepper, src, 0.1, True, seed=0).to_cv()
    zero = p == 0
    assert 0.08 < zero[astro != 0].mean() < 0.12 and ((p == astro) | zero).all()
    assert (zero.any(axis=2) & ~zero.all(axis=2)).any()  # per channel: channels hit independently
    sp = _run(ecvl.SaltAndPepper, src, 0.2, seed=0).to_cv()
    fresh = (astro != 0).any(axis=2) & (astro != 255).any(axis=2)  # neither black nor white before
    w, b = (sp == 255).all(axis=2)[fresh].mean(), (sp == 0).all(axis=2)[fresh].mean()
    assert 0.08 < w < 0.12 and 0.08 < b < 0.12
    f = _run(ecvl.Salt, Image.from_cv(astro.astype(np.float32) / 255), 0.5, seed=0)
    assert f.data.max() == 1.0
    with pytest.raises(EcvlError):
        ecvl.Salt(src, Image(), 1.5)


def test_coarse_dropout(astro):
    out = _run(ecvl.CoarseDropout, Image.from_cv(astro), 0.5, 0.1, seed=0).to_cv()
    dropped = (out == 0).all(axis=2) & (astro != 0).any(axis=2)
    assert 0.3 < dropped.mean() < 0.7
    blocks = (out == 0).all(axis=2)[::51, ::51]  # block size 51 px: each block all-or-nothing
    for by in range(blocks.shape[0]):
        for bx in range(blocks.shape[1]):
            block = (out[by * 51 : by * 51 + 51, bx * 51 : bx * 51 + 51] == 0).all(axis=2)
            orig = (astro[by * 51 : by * 51 + 51, bx * 51 : bx * 51 + 51] == 0).all(axis=2)
            assert block.all() or not (block & ~orig).any()
    with pytest.raises(EcvlError):
        ecvl.CoarseDropout(Image.from_cv(astro), Image(), 0.5, 0)
