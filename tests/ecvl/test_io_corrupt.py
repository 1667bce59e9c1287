"""Robustness: truncated and bit-flipped real files give an Image or ImageReadError, nothing else."""

from __future__ import annotations

import numpy as np
import pytest
from _ecvl_core_data import colin27, dicom_file, skimage_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import Image, ImageReadError

SOURCES = {
    "ct.dcm": lambda: dicom_file("CT_small.dcm"),
    "rle.dcm": lambda: dicom_file("SC_rgb_rle_2frame.dcm"),
    "j2k.dcm": lambda: dicom_file("MR_small_jp2klossless.dcm"),
    "jpeg.dcm": lambda: dicom_file("SC_rgb_jpeg_dcmtk.dcm"),
    "camera.png": lambda: skimage_file("camera.png"),
    "retina.jpg": lambda: skimage_file("retina.jpg"),
    "pages.tif": lambda: skimage_file("multipage.tif"),
    "ch2.nii.gz": lambda: colin27(),
}


def _try(path) -> None:
    try:
        img = ecvl.ImRead(path)
    except ImageReadError as e:
        assert e.path == str(path) and e.cause
        return
    assert isinstance(img, Image) and not img.IsEmpty()


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_truncated_and_flipped(tmp_path, name):
    data = open(SOURCES[name](), "rb").read()
    if name.endswith(".gz"):
        data = data[:200_000]  # enough for every cut below to be a truncation of the stream
    rng = np.random.default_rng(0)
    for frac in (0.0, 0.01, 0.05, 0.3, 0.6, 0.97):
        path = tmp_path / f"cut{frac}_{name}"
        path.write_bytes(data[: int(len(data) * frac)])
        _try(path)
    for k in range(4):
        buf = bytearray(data)
        pos = rng.integers(0, len(buf), 16)
        for p in pos:
            buf[p] ^= 0xFF
        path = tmp_path / f"flip{k}_{name}"
        path.write_bytes(bytes(buf))
        _try(path)
