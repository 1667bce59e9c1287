"""Stack, HConcat, VConcat and DrawEllipse."""

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


def test_concat_matches_opencv(astro):
    a, b = astro[:, :200].copy(), astro[:, 200:].copy()
    out = Image()
    ecvl.HConcat([Image.from_cv(a), Image.from_cv(b)], out)
    np.testing.assert_array_equal(out.to_cv(), cv2.hconcat([a, b]))
    ecvl.VConcat([Image.from_cv(astro[:100].copy()), Image.from_cv(astro[100:].copy())], out)
    np.testing.assert_array_equal(out.to_cv(), astro)
    planar = Image()
    ecvl.RearrangeChannels(Image.from_cv(b), planar, "cxy")  # other layouts are rearranged
    ecvl.HConcat([Image.from_cv(a), planar], out)
    np.testing.assert_array_equal(out.to_cv(), astro)
    with pytest.raises(EcvlError, match="sizes differ"):
        ecvl.VConcat([Image.from_cv(a), Image.from_cv(b)], out)
    with pytest.raises(EcvlError):
        ecvl.HConcat([], out)


def test_stack(astro):
    out = Image()
    ecvl.Stack([Image.from_cv(astro), Image.from_cv(astro[::-1].copy())], out)
    assert out.channels == "xyzc" and out.dims_ == [512, 512, 2, 3]
    np.testing.assert_array_equal(out.data[:, :, 1, :], astro[::-1].transpose(1, 0, 2))
    with pytest.raises(EcvlError):
        ecvl.Stack([Image.from_cv(astro), Image.from_cv(astro[:10].copy())], out)


def test_draw_ellipse(astro):
    img = Image.from_cv(astro.copy())
    ecvl.DrawEllipse(img, [200, 150], [50, 30], 20, [0, 0, 255], 2)
    ref = cv2.ellipse(astro.copy(), (200, 150), (50, 30), 20, 0, 360, (0, 0, 255), 2)
    np.testing.assert_array_equal(img.to_cv(), ref)
    planar = Image.fromarray(np.zeros((512, 512, 3), np.uint8, order="F"), "xyc")  # planar memory
    assert not planar.to_cv().flags.c_contiguous
    ecvl.DrawEllipse(planar, [100, 100], [10, 20], 0, [1, 2, 3], -1)
    filled = cv2.ellipse(
        np.zeros((512, 512, 3), np.uint8), (100, 100), (10, 20), 0, 0, 360, (1, 2, 3), -1
    )
    np.testing.assert_array_equal(planar.to_cv(), filled)
