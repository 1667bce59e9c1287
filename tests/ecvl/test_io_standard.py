"""Standard image I/O through OpenCV: PNG, JPEG, BMP, TIFF (16-bit, multi-page), error paths."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
import tifffile
from _ecvl_core_data import dicom_file, skimage_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import ColorType, DataType, Image, ImageReadError, ImageWriteError


@pytest.mark.parametrize(
    "name", ["astronaut.png", "camera.png", "retina.jpg", "rocket.jpg", "coins.png"]
)
def test_imread_equals_opencv(name):
    path = skimage_file(name)
    ref = cv2.imread(path, cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
    img = ecvl.ImRead(path)
    assert img.channels == "xyc"
    assert img.colortype is (ColorType.GRAY if ref.ndim == 2 else ColorType.BGR)
    np.testing.assert_array_equal(img.to_cv(), ref)
    assert np.shares_memory(np.array(img), img.to_cv())  # the OpenCV buffer, wrapped without copy


def test_read_modes():
    path = skimage_file("astronaut.png")
    gray = ecvl.ImRead(path, ecvl.ImReadMode.GRAYSCALE)
    np.testing.assert_array_equal(gray.to_cv(), cv2.imread(path, cv2.IMREAD_GRAYSCALE))
    assert gray.Channels() == 1 and gray.colortype is ColorType.GRAY
    color = ecvl.ImRead(skimage_file("camera.png"), ecvl.ImReadMode.COLOR)
    assert color.Channels() == 3 and color.colortype is ColorType.BGR


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".tiff", ".ppm"])
def test_lossless_round_trip(tmp_path, ext):
    img = ecvl.ImRead(skimage_file("chelsea.png"))
    out = tmp_path / f"x{ext}"
    assert ecvl.ImWrite(out, img)
    back = ecvl.ImRead(out)
    np.testing.assert_array_equal(back.to_cv(), img.to_cv())


def test_sixteen_bit_png_and_tiff(tmp_path):
    cam = cv2.imread(skimage_file("camera.png"), cv2.IMREAD_GRAYSCALE).astype(np.uint16) * 257
    img = Image.from_cv(cam)
    for ext in (".png", ".tif"):
        ecvl.ImWrite(tmp_path / f"c{ext}", img)
        back = ecvl.ImRead(tmp_path / f"c{ext}")
        assert back.elemtype_ is DataType.uint16
        np.testing.assert_array_equal(back.to_cv(), cam)


def test_rgb_and_rgba_are_written_in_their_order(tmp_path):
    bgr = cv2.imread(skimage_file("astronaut.png"))
    rgb = Image.from_cv(np.ascontiguousarray(bgr[:, :, ::-1]), ColorType.RGB)
    ecvl.ImWrite(tmp_path / "rgb.png", rgb)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "rgb.png")), bgr)
    rgba = np.dstack([bgr[:, :, ::-1], np.full(bgr.shape[:2], 200, np.uint8)])
    ecvl.ImWrite(tmp_path / "rgba.png", Image.from_cv(rgba, ColorType.RGBA))
    back = ecvl.ImRead(tmp_path / "rgba.png", ecvl.ImReadMode.UNCHANGED)
    assert back.colortype is ColorType.RGBA
    np.testing.assert_array_equal(back.to_cv(), rgba)


def test_jpeg_write_quality(tmp_path):
    img = ecvl.ImRead(skimage_file("astronaut.png"))
    ecvl.ImWrite(tmp_path / "a.jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    back = ecvl.ImRead(tmp_path / "a.jpg")
    diff = np.abs(back.to_cv().astype(int) - img.to_cv().astype(int))
    assert diff.mean() < 3


def test_imreadmulti(tmp_path):
    path = skimage_file("multipage.tif")
    pages = ecvl.ImReadMulti(path)
    ref = tifffile.imread(path)
    assert len(pages) == len(ref) == 2
    for page, r in zip(pages, ref):
        np.testing.assert_array_equal(page.to_cv(), r)
    # a 16-bit multi-page TIFF written by tifffile
    stack = (np.arange(3 * 20 * 30, dtype=np.uint16).reshape(3, 20, 30) * 37).astype(np.uint16)
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    pages = ecvl.ImReadMulti(tmp_path / "s.tif")
    assert [p.elemtype_ for p in pages] == [DataType.uint16] * 3
    np.testing.assert_array_equal(np.stack([p.to_cv() for p in pages]), stack)
    with pytest.raises(ImageReadError):
        ecvl.ImReadMulti(tmp_path / "missing.tif")


def test_write_other_layouts(tmp_path):
    planar = Image.fromarray(
        np.arange(3 * 5 * 4, dtype=np.uint8).reshape(3, 5, 4), "cxy", ColorType.BGR
    )
    ecvl.ImWrite(tmp_path / "p.png", planar)
    np.testing.assert_array_equal(
        cv2.imread(str(tmp_path / "p.png")), planar.data.transpose(2, 1, 0)
    )


def test_content_wins_over_extension(tmp_path):
    shutil.copy(skimage_file("camera.png"), tmp_path / "camera.dat")
    np.testing.assert_array_equal(
        ecvl.ImRead(tmp_path / "camera.dat").to_cv(), cv2.imread(skimage_file("camera.png"), 0)
    )
    shutil.copy(
        dicom_file("CT_small.dcm"), tmp_path / "ct.png"
    )  # a DICOM whose preamble looks like TIFF
    assert ecvl.ImRead(tmp_path / "ct.png").GetMeta("Modality") == "CT"


def _write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _truncate(src: str, dst, fraction: float = 0.5) -> str:
    data = open(src, "rb").read()
    with open(dst, "wb") as f:
        f.write(data[: int(len(data) * fraction)])
    return str(dst)


@pytest.mark.parametrize(
    "make,cause",
    [
        (lambda d: str(d / "missing.png"), "no such file"),
        (lambda d: _write(d / "empty.png", b""), "empty file"),
        (lambda d: _truncate(skimage_file("camera.png"), d / "t.png"), "truncated PNG"),
        (lambda d: _truncate(skimage_file("retina.jpg"), d / "t.jpg"), "truncated JPEG"),
        (
            lambda d: _write(d / "junk.png", b"\x89PNG\r\n\x1a\n" + bytes(100) + b"IEND"),
            "cannot decode",
        ),
        (lambda d: _write(d / "text.png", b"hello world" * 10), "unknown file format"),
        (lambda d: str(d), "is a directory"),
    ],
)
def test_read_errors_name_file_and_cause(tmp_path, make, cause):
    path = make(tmp_path)
    if path == str(tmp_path):
        with pytest.raises(ImageReadError, match="no DICOM files"):
            ecvl.ImRead(path)  # a folder is read as a DICOM series
        return
    with pytest.raises(ImageReadError) as info:
        ecvl.ImRead(path)
    assert info.value.path == path and cause in str(info.value)
    assert isinstance(info.value, RuntimeError)  # pyecvl scripts catching RuntimeError keep working


def test_unknown_content_is_unsupported(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\x01\x02" * 300)
    with pytest.raises(ecvl.UnsupportedFormatError):
        ecvl.ImRead(tmp_path / "x.bin")


def test_write_errors(tmp_path):
    img = ecvl.ImRead(skimage_file("camera.png"))
    with pytest.raises(ImageWriteError, match="unknown extension"):
        ecvl.ImWrite(tmp_path / "x.abc", img)
    with pytest.raises(ImageWriteError, match="2D"):
        ecvl.ImWrite(tmp_path / "v.png", Image([4, 4, 2, 1], DataType.uint8, "xyzc"))
    with pytest.raises(ImageWriteError, match="empty"):
        ecvl.ImWrite(tmp_path / "e.png", Image())
    with pytest.raises(ImageWriteError):
        ecvl.ImWrite(tmp_path / "no" / "dir" / "x.png", img)
