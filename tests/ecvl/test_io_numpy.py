"""NumPy I/O: lossless .npz with layout and metadata, .npy in numpy order, errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from _ecvl_core_data import dicom_file, skimage_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import ColorType, ImageReadError, ImageWriteError


def test_npz_round_trip_is_exact(tmp_path):
    ct = ecvl.DicomRead(dicom_file("CT_small.dcm"))
    ecvl.ImWrite(tmp_path / "ct.npz", ct)
    back = ecvl.ImRead(tmp_path / "ct.npz")
    np.testing.assert_array_equal(back.data, ct.data)
    assert (
        back.channels == ct.channels
        and back.colortype is ct.colortype
        and back.spacings == ct.spacings
    )
    assert back.GetMeta("PatientName") == ct.GetMeta("PatientName")
    np.testing.assert_array_equal(back.GetMeta("affine").Get(), ct.GetMeta("affine").Get())


def test_npy_uses_numpy_order(tmp_path):
    bgr = cv2.imread(skimage_file("astronaut.png"))
    np.save(tmp_path / "a.npy", bgr)
    img = ecvl.ImRead(tmp_path / "a.npy")
    np.testing.assert_array_equal(img.to_cv(), bgr)
    vol = np.arange(2 * 3 * 6, dtype=np.int16).reshape(2, 3, 6)  # (D, H, W): last axis > 4
    np.save(tmp_path / "v.npy", vol)
    v = ecvl.ImRead(tmp_path / "v.npy")
    assert v.channels == "xyzc" and v.dims_ == [6, 3, 2, 1] and v.data[5, 2, 1, 0] == vol[1, 2, 5]
    ecvl.ImWrite(tmp_path / "w.npy", v)
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), vol)
    g = ecvl.ImRead(skimage_file("camera.png"))
    ecvl.ImWrite(tmp_path / "g.npy", g)
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy"), g.to_cv())
    np.savez(tmp_path / "plain.npz", img=bgr)
    assert ecvl.ImRead(tmp_path / "plain.npz").colortype is ColorType.none


def test_errors(tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ImageReadError, match="bad.npy"):
        ecvl.ImRead(tmp_path / "bad.npy")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(ImageReadError, match="bad.npz"):
        ecvl.ImRead(tmp_path / "bad.npz")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ImageReadError):
        ecvl.ImRead(tmp_path / "obj.npy")
    np.savez(tmp_path / "empty.npz")
    with pytest.raises(ImageReadError, match="empty"):
        ecvl.ImRead(tmp_path / "empty.npz")
    with pytest.raises(ImageWriteError, match="use .npz"):
        ecvl.ImWrite(tmp_path / "x.npy", ecvl.Image([2, 2, 2, 2], ecvl.DataType.uint8, "xyct"))


def test_register_format(tmp_path):
    """Another module can add a format (as whole-slide reading does) without touching ImRead."""
    from deephealth.ecvl import io

    saved = list(io.FORMATS)
    try:
        io.register_format("arr", [".arr"], "deephealth.ecvl.io.numpy_io")
        img = ecvl.ImRead(skimage_file("camera.png"))
        ecvl.ImWrite(tmp_path / "x.npz", img)
        (tmp_path / "x.npz").rename(tmp_path / "x.arr")
        np.testing.assert_array_equal(ecvl.ImRead(tmp_path / "x.arr").data, img.data)
    finally:
        io.FORMATS[:] = saved
        io._EXT_CACHE.clear()


def test_npz_bomb_is_refused_before_inflating(tmp_path, peak_rss):
    """Found by bench/bench_limits.py: a 2 MB .npz declaring 2 GiB of zeros was read whole (2 GB
    RSS, 75 s); a member inflating > 200:1 above 64 MiB is now refused from its zip header."""
    import zipfile

    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1), np.uint8))
    header["shape"] = (32768, 65536)
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("arr_0.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            zeros = b"\0" * (16 << 20)
            for _ in range(128):
                member.write(zeros)
    peak_rss.reset()
    with pytest.raises(ImageReadError, match=r"'arr_0.npy' inflates \d+:1 to 2147483\d+ bytes"):
        ecvl.ImRead(str(p))
    assert peak_rss.growth_mb() < 64
    sparse = np.zeros((512, 512, 64), np.uint8)  # a legitimate sparse mask still reads
    sparse[100:120, 200:220, 3] = 1
    np.savez_compressed(tmp_path / "mask.npz", sparse)
    assert ecvl.ImRead(str(tmp_path / "mask.npz")) is not None
