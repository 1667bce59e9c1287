"""NIfTI I/O through nibabel: real volumes, 4D, NIfTI-2, big-endian, round trips, errors."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
from _ecvl_core_data import colin27, nibabel_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import ColorType, DataType, Image, ImageReadError, ImageWriteError


@pytest.fixture(scope="module")
def ch2() -> Image:
    return ecvl.NiftiRead(colin27())


def test_colin27_matches_nibabel(ch2):
    ref = nib.load(colin27())
    assert (
        ch2.channels == "xyzc"
        and ch2.dims_ == [181, 217, 181, 1]
        and ch2.colortype is ColorType.GRAY
    )
    np.testing.assert_array_equal(ch2.data[..., 0], np.asanyarray(ref.dataobj))
    assert ch2.spacings == [1.0, 1.0, 1.0, 1.0]
    np.testing.assert_array_equal(ch2.GetMeta("affine").Get(), ref.affine)
    assert ch2.GetMeta("affine_space") == "RAS"


@pytest.mark.parametrize(
    "name,dims,spacings",
    [
        ("anatomical.nii", [33, 41, 25, 1], [2.0, 2.0, 2.0, 1.0]),  # big-endian int16
        ("example4d.nii.gz", [128, 96, 24, 2], [2.0, 2.0, 2.2, 2000.0]),  # 4D: time on c
        ("example_nifti2.nii.gz", [32, 20, 12, 2], [2.0, 2.0, 2.2, 2000.0]),  # NIfTI-2
        ("functional.nii", [17, 21, 3, 20], [4.0, 4.0, 8.0, 2.0]),
        ("standard.nii.gz", [4, 5, 7, 1], [1.0, 3.0, 2.0, 1.0]),
    ],
)
def test_nibabel_test_data(name, dims, spacings):
    path = nibabel_file(name)
    img = ecvl.ImRead(path)  # chosen by content / extension
    ref = np.asanyarray(nib.load(path).dataobj)
    assert img.dims_ == dims and img.spacings == pytest.approx(spacings, rel=1e-5)
    assert img.data.dtype.isnative
    np.testing.assert_array_equal(img.data.reshape(ref.shape), ref)


@pytest.mark.parametrize("ext", [".nii", ".nii.gz"])
def test_round_trip_keeps_pixels_spacing_affine(tmp_path, ch2, ext):
    out = tmp_path / f"x{ext}"
    ecvl.ImWrite(out, ch2)
    back = ecvl.NiftiRead(out)
    np.testing.assert_array_equal(back.data, ch2.data)
    assert back.spacings == ch2.spacings and back.elemtype_ is DataType.uint8
    np.testing.assert_array_equal(back.GetMeta("affine").Get(), ch2.GetMeta("affine").Get())


def test_round_trip_4d_float_and_new_image(tmp_path):
    img = ecvl.ImRead(nibabel_file("functional.nii"))
    ecvl.NiftiWrite(tmp_path / "f.nii.gz", img)
    back = ecvl.ImRead(tmp_path / "f.nii.gz")
    np.testing.assert_array_equal(back.data, img.data)
    assert back.spacings == pytest.approx(img.spacings)
    new = Image([6, 5, 4, 1], DataType.int16, "xyzc", ColorType.GRAY, [0.5, 0.7, 2.0, 1.0])
    new.data[...] = np.arange(120, dtype=np.int16).reshape(6, 5, 4, 1)
    ecvl.NiftiWrite(tmp_path / "n.nii", new)
    back = ecvl.NiftiRead(tmp_path / "n.nii")
    np.testing.assert_array_equal(back.data, new.data)
    np.testing.assert_allclose(back.GetMeta("affine").Get(), np.diag([0.5, 0.7, 2.0, 1.0]))
    # a resampled image keeps its orientation with the new spacing
    out = Image()
    ecvl.ResampleSpacing(
        ecvl.NiftiRead(colin27()), out, [2.0, 2.0, 2.0], ecvl.InterpolationType.nearest
    )
    ecvl.NiftiWrite(tmp_path / "r.nii.gz", out)
    r = ecvl.NiftiRead(tmp_path / "r.nii.gz")
    assert r.spacings[:3] == [2.0, 2.0, 2.0]
    np.testing.assert_allclose(np.diag(r.GetMeta("affine").Get())[:3], [2.0, 2.0, 2.0])


def test_read_errors(tmp_path):
    data = gzip.decompress(open(colin27(), "rb").read())
    (tmp_path / "t.nii").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="t.nii"):
        ecvl.ImRead(tmp_path / "t.nii")
    (tmp_path / "t.nii.gz").write_bytes(open(colin27(), "rb").read()[:5000])
    with pytest.raises(ImageReadError, match="corrupt or truncated"):
        ecvl.NiftiRead(tmp_path / "t.nii.gz")
    (tmp_path / "junk.nii").write_bytes(b"\0" * 400)
    with pytest.raises(ImageReadError):
        ecvl.ImRead(tmp_path / "junk.nii")
    with pytest.raises(ImageReadError, match="no such file"):
        ecvl.NiftiRead(tmp_path / "missing.nii")
    with pytest.raises(ImageReadError):
        ecvl.NiftiRead(nibabel_file("nifti1.hdr"))  # header without its .img


def test_write_errors(tmp_path):
    with pytest.raises(ImageWriteError, match="NIfTI holds"):
        ecvl.NiftiWrite(tmp_path / "x.nii", Image([2, 2, 2, 2], DataType.uint8, "xytc"))
    with pytest.raises(ImageWriteError):
        ecvl.NiftiWrite(tmp_path / "no" / "x.nii", Image([2, 2, 2, 1], DataType.uint8, "xyzc"))
