"""Intensity transforms: Normalize, ScaleTo/FromTo, CT windows, z-score in a mask, percentile clip."""

from __future__ import annotations

import numpy as np
import pytest
from _ecvl_core_data import colin27, dicom_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import DataType, EcvlError, Image


@pytest.fixture(scope="module")
def ct() -> Image:
    return ecvl.DicomRead(dicom_file("CT_small.dcm"))  # Hounsfield units


def test_normalize(ct):
    out = Image()
    ecvl.Normalize(ct, out, 100.0, 50.0)
    assert out.data.dtype == np.float32 and out.channels == ct.channels
    np.testing.assert_allclose(out.data, (ct.data.astype(np.float32) - 100) / 50, rtol=1e-6)
    rgb = ecvl.ImRead(dicom_file("SC_rgb.dcm"))
    ecvl.Normalize(rgb, out, [10, 20, 30], [1, 2, 4])
    np.testing.assert_allclose(
        out.data, (rgb.data - np.array([10, 20, 30])) / np.array([1, 2, 4]), rtol=1e-6
    )
    with pytest.raises(EcvlError):
        ecvl.Normalize(rgb, out, [1, 2], [1, 1])
    with pytest.raises(EcvlError):
        ecvl.Normalize(ct, out, 0.0, 0.0)


def test_scale_to_and_from_to(ct):
    out = Image()
    ecvl.ScaleTo(ct, out, 0, 1000)
    assert out.data.dtype == np.int16 and out.data.min() == 0 and out.data.max() == 1000
    lo, hi = float(ct.data.min()), float(ct.data.max())
    np.testing.assert_array_equal(out.data, np.rint((ct.data - lo) * 1000 / (hi - lo)))
    ecvl.ScaleFromTo(ct, out, -1000, 1000, 0, 255)
    ref = np.clip(np.rint((ct.data.astype(float) + 1000) * 255 / 2000), -32768, 32767)
    np.testing.assert_array_equal(out.data, ref)
    with pytest.raises(EcvlError):
        ecvl.ScaleFromTo(ct, out, 1, 1, 0, 1)


@pytest.mark.parametrize("preset", sorted(ecvl.CT_WINDOWS))
def test_ct_window_presets(ct, preset):
    level, width = ecvl.CT_WINDOWS[preset]
    out = Image()
    ecvl.CTWindow(ct, out, preset)
    ref = np.clip((ct.data.astype(float) - (level - width / 2)) / width, 0, 1)
    np.testing.assert_allclose(out.data, ref, atol=1e-6)
    ecvl.CTWindow(ct, out, (level, width), DataType.uint8)
    assert np.abs(out.data.astype(float) - ref * 255).max() <= 0.5 + 1e-9


def test_ct_window_values_and_errors(ct):
    assert ecvl.CT_WINDOWS["brain"] == (40.0, 80.0) and ecvl.CT_WINDOWS["lung"] == (-600.0, 1500.0)
    with pytest.raises(EcvlError, match="unknown preset"):
        ecvl.CTWindow(ct, Image(), "heart")
    with pytest.raises(EcvlError):
        ecvl.CTWindow(ct, Image(), (40, 0))
    with pytest.raises(EcvlError):
        ecvl.CTWindow(ct, Image(), "brain", DataType.int16)


def test_zscore_within_brain_mask_and_percentile_clip():
    t1 = ecvl.NiftiRead(colin27("ch2.nii.gz"))
    brain = ecvl.NiftiRead(colin27("ch2bet.nii.gz"))
    mask = brain.data > 0
    out = Image()
    ecvl.ZScoreNormalize(t1, out, brain)
    inside = out.data[mask]
    assert abs(float(inside.mean())) < 1e-4 and abs(float(inside.std()) - 1) < 1e-4
    ecvl.ZScoreNormalize(t1, out)
    assert abs(float(out.data.mean())) < 1e-4
    ecvl.PercentileClip(t1, out, 1, 99, mask)
    lo, hi = np.percentile(t1.data[mask], [1, 99], method="nearest")
    assert out.data.dtype == t1.data.dtype
    np.testing.assert_array_equal(out.data, np.clip(t1.data, lo, hi))
    with pytest.raises(EcvlError, match="mask is empty"):
        ecvl.ZScoreNormalize(t1, out, np.zeros(t1.data.shape, bool))
    with pytest.raises(EcvlError, match="does not match"):
        ecvl.ZScoreNormalize(t1, out, np.ones((3, 3), bool))
    with pytest.raises(EcvlError):
        ecvl.PercentileClip(t1, out, 90, 10)
