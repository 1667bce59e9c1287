"""2D geometry (resize, flip, mirror, rotate, transpose, crop, pad) against numpy / scikit-image."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _ecvl_core_data import skimage_file
from skimage.transform import resize as sk_resize

import deephealth.ecvl as ecvl
from deephealth.ecvl import EcvlError, Image, InterpolationType


@pytest.fixture(scope="module")
def chelsea() -> np.ndarray:
    return cv2.imread(skimage_file("chelsea.png"))  # 451 x 300, BGR


def _img(arr, spacings=None):
    return Image.from_cv(arr, spacings=spacings)


def test_resize_matches_skimage_and_updates_spacing(chelsea):
    out = Image()
    src = _img(chelsea, [0.5, 0.25, 1.0])
    ecvl.ResizeDim(src, out, [902, 600], InterpolationType.linear)
    assert out.dims_ == [902, 600, 3] and out.spacings == [0.25, 0.125, 1.0]
    ref = sk_resize(
        chelsea, (600, 902), order=1, anti_aliasing=False, preserve_range=True, mode="edge"
    )
    assert np.abs(out.to_cv().astype(float) - ref).max() <= 1.0
    ecvl.ResizeScale(src, out, [0.5, 0.5], InterpolationType.nearest)
    assert out.dims_ == [226, 150, 3]
    np.testing.assert_array_equal(
        out.to_cv(), cv2.resize(chelsea, (226, 150), interpolation=cv2.INTER_NEAREST)
    )
    planar = Image.fromarray(
        np.ascontiguousarray(chelsea.transpose(2, 1, 0)), "cxy"
    )  # other layout
    ecvl.ResizeDim(planar, out, [100, 80])
    np.testing.assert_array_equal(out.to_cv(), cv2.resize(chelsea, (100, 80)))
    with pytest.raises(EcvlError):
        ecvl.ResizeDim(src, out, [0, 10])


def test_flip_mirror_transpose(chelsea):
    out = Image()
    ecvl.Flip2D(_img(chelsea), out)
    np.testing.assert_array_equal(out.to_cv(), chelsea[::-1])
    ecvl.Mirror2D(_img(chelsea), out)
    np.testing.assert_array_equal(out.to_cv(), chelsea[:, ::-1])
    ecvl.Transpose(_img(chelsea, [0.5, 2.0, 1.0]), out)
    np.testing.assert_array_equal(out.to_cv(), chelsea.transpose(1, 0, 2))
    assert out.spacings == [2.0, 0.5, 1.0]
    inplace = _img(chelsea.copy())
    ecvl.Flip2D(inplace, inplace)  # dst may be src
    np.testing.assert_array_equal(inplace.to_cv(), chelsea[::-1])


def test_rotations_match_rot90(chelsea):
    sq = np.ascontiguousarray(chelsea[:300, :300])
    out = Image()
    ecvl.Rotate2D(_img(sq), out, 90, None, 1.0, InterpolationType.nearest)
    np.testing.assert_array_equal(out.to_cv(), np.rot90(sq, -1))  # clockwise, as ECVL
    ecvl.RotateFullImage2D(_img(chelsea), out, 90, 1.0, InterpolationType.nearest)
    assert out.dims_ == [300, 451, 3]
    np.testing.assert_array_equal(out.to_cv(), np.rot90(chelsea, -1))
    ecvl.Rotate2D(_img(chelsea), out, 30)
    assert out.dims_ == [451, 300, 3] and (out.to_cv()[0, 0] == 0).all()  # corner uncovered


def test_center_crop_and_pad(chelsea):
    out = Image()
    ecvl.CenterCrop(_img(chelsea), out, [101, 50])
    np.testing.assert_array_equal(out.to_cv(), chelsea[125:175, 175:276])
    with pytest.raises(EcvlError, match="does not fit"):
        ecvl.CenterCrop(_img(chelsea), out, [500, 10])
    ecvl.Pad(_img(chelsea), out, [1, 2, 3, 4], ecvl.BorderType.BORDER_CONSTANT, 7)
    np.testing.assert_array_equal(
        out.to_cv(), np.pad(chelsea, ((1, 2), (3, 4), (0, 0)), constant_values=7)
    )
    ecvl.Pad(_img(chelsea), out, [5], ecvl.BorderType.BORDER_REFLECT_101)
    np.testing.assert_array_equal(
        out.to_cv(), np.pad(chelsea, ((5, 5), (5, 5), (0, 0)), mode="reflect")
    )
    ecvl.Pad(_img(chelsea), out, [2, 3], ecvl.BorderType.BORDER_REPLICATE)
    np.testing.assert_array_equal(
        out.to_cv(), np.pad(chelsea, ((2, 2), (3, 3), (0, 0)), mode="edge")
    )
    with pytest.raises(EcvlError):
        ecvl.Pad(_img(chelsea), out, [1, 2, 3])


def test_2d_functions_reject_volumes_and_empty():
    vol = Image([4, 4, 4, 1], ecvl.DataType.uint8, "xyzc")
    with pytest.raises(EcvlError, match="2D"):
        ecvl.Flip2D(vol, Image())
    with pytest.raises(EcvlError, match="empty"):
        ecvl.Mirror2D(Image(), Image())
    with pytest.raises(EcvlError, match="not supported"):
        ecvl.ResizeDim(Image([4, 4, 1], ecvl.DataType.int64, "xyc"), Image(), [2, 2])
