"""Bounded image decoding for everything the server reads from users: uploads, thumbnails and
predictions.

An image is first measured from its header alone (PNG/JPEG with Pillow's lazy `open`, DICOM with
pydicom without its pixel data, NIfTI with nibabel's header), and refused (413) when it would take
more memory once decoded (width x height x slices x channels x bytes per decoded sample) than the
server allows; only then is it decoded
with ECVL's `ImRead`. Any decoding failure, whatever the reader raised, becomes a 422 that names
the file as the user knows it (never the server path) and the cause.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from deephealth.server.uploads import UploadRejected, sniff_file

IMAGE_TYPES = ("png", "jpeg", "dicom", "nifti")


def _pillow_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:  # reads the header only
        width, height = im.size
        frames = max(1, getattr(im, "n_frames", 1))
        depth = 2 if "16" in im.mode else 4 if im.mode in ("I", "F") else 1
        return width * height * len(im.getbands()) * frames, depth


def _dicom_size(path: Path) -> tuple[int, int]:
    import pydicom

    ds = pydicom.dcmread(str(path), stop_before_pixels=True, force=True)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    samples = rows * cols * max(1, frames) * max(1, int(ds.get("SamplesPerPixel", 1) or 1))
    depth = max(1, int(ds.get("BitsAllocated", 8) or 8) // 8)
    slope, inter = ds.get("RescaleSlope", 1), ds.get("RescaleIntercept", 0)
    rescaled = float(slope if slope not in (None, "") else 1) != 1 or float(
        inter if inter not in (None, "") else 0
    )
    return samples, max(depth, 4) if rescaled else depth  # ECVL rescales to int16..64 or float32


def _nifti_size(path: Path) -> tuple[int, int]:
    import nibabel as nib

    nimg = nib.load(str(path))  # lazy: the data is not read
    shape = nimg.header.get_data_shape()
    samples = math.prod(int(d) for d in shape) if shape else 0
    # A loaded image keeps the header's scaling on its data proxy (the header's is reset).
    slope, inter = getattr(nimg.dataobj, "slope", 1.0), getattr(nimg.dataobj, "inter", 0.0)
    scaled = slope != 1.0 or inter != 0.0
    return samples, 8 if scaled else nimg.header.get_data_dtype().itemsize  # scaled: float64


_MEASURE = {"png": _pillow_size, "jpeg": _pillow_size, "dicom": _dicom_size, "nifti": _nifti_size}


def _clean(message: str, path: Path, what: str) -> str:
    """A reader's message with the server path replaced by the user's name of the file."""
    for text in (str(path), str(path.resolve()), str(path.parent)):
        message = message.replace(text, what)
    return message[:500]


def declared_size(path: Path, kind: str, what: str) -> tuple[int, int]:
    """The samples an image's header declares (width x height x slices x channels) and the
    bytes each takes once decoded (8 for NIfTI data the header scales: nibabel gives float64).

    Raises:
        UploadRejected: (422) when the header cannot be read, (413) for PNG/JPEG sizes beyond
            Pillow's decompression-bomb bound.
    """
    from PIL import Image

    try:
        samples, depth = _MEASURE[kind](path)
        return int(samples), int(depth)
    except Image.DecompressionBombError as err:  # far beyond any limit (Pillow's own guard)
        raise UploadRejected(f"{what}: {err}", 413) from None
    except Exception as err:
        raise UploadRejected(
            f"{what}: unreadable {kind.upper()} header ({_clean(str(err), path, what)})", 422
        ) from None


def read_image(path: Path, what: str, max_bytes: int, kind: str | None = None) -> Any:
    """The ECVL Image of a user-supplied file, decoded only when its header is within bounds.

    Args:
        path: The file on the server.
        what: Its name as the user knows it (used in messages instead of `path`).
        max_bytes: Most bytes the decoded image may take, as its header declares.
        kind: Its type if already sniffed (PNG, JPEG, DICOM, NIfTI).

    Raises:
        UploadRejected: 415 not an accepted image type, 413 too large once decoded, 422 the file
            cannot be decoded (truncated, corrupt, unknown DICOM VR, ...).
    """
    from deephealth.ecvl import ImRead

    kind = kind or sniff_file(path)
    if kind not in IMAGE_TYPES:
        raise UploadRejected(f"{what}: content is not a PNG, JPEG, DICOM or NIfTI image", 415)
    samples, depth = declared_size(path, kind, what)
    if samples <= 0:
        raise UploadRejected(f"{what}: the {kind.upper()} header declares an empty image", 422)
    if samples * depth > max_bytes:
        raise UploadRejected(
            f"{what}: {samples} samples of {depth} bytes once decoded; the limit is {max_bytes} "
            "bytes (DEEPHEALTH_MAX_IMAGE_BYTES)",
            413,
        )
    try:
        return ImRead(str(path))
    except Exception as err:
        raise UploadRejected(
            f"{what}: cannot decode the {kind.upper()} image ({_clean(str(err), path, what)})",
            422,
        ) from None


def check_image(path: Path, what: str, max_bytes: int) -> str:
    """Decode an uploaded image once (bounded) to prove it is whole; returns its type."""
    kind = sniff_file(path)
    read_image(path, what, max_bytes, kind)
    return kind  # type: ignore[return-value]


def read_series(files: list[Path], what: str, max_bytes: int) -> Any:
    """The ECVL volume of a DICOM series sent as several files, decoded only when the slices'
    headers together are within bounds; slices sorted by ImagePositionPatient along the slice
    normal (else InstanceNumber), one SeriesInstanceUID, even spacing (ECVL's series reader).

    Args:
        files: The slices on the server, named as the user named them (messages give these
            names, never the server folder).
        what: The series as the user knows it (the request, or its zip).
        max_bytes: Most bytes the decoded volume may take.

    Raises:
        UploadRejected: 415 a file is not DICOM, 413 the series is too large once decoded, 422
            the files do not form one series (naming the files at fault) or cannot be decoded.
    """
    from deephealth.ecvl import ImRead

    total = 0
    for f in files:
        if sniff_file(f) != "dicom":
            raise UploadRejected(f"{what}: {f.name} is not a DICOM file (a series is DICOM)", 415)
        samples, depth = declared_size(f, "dicom", f"{what}: {f.name}")
        total += samples * max(depth, 2)
    if total > max_bytes:
        raise UploadRejected(
            f"{what}: the series takes {total} bytes once decoded; the limit is {max_bytes} "
            "bytes (DEEPHEALTH_MAX_IMAGE_BYTES)",
            413,
        )
    try:
        return ImRead([str(f) for f in files])
    except Exception as err:
        folders = {str(f.parent) for f in files} | {str(f.parent.resolve()) for f in files}
        message = str(err)
        for folder in sorted(folders, key=len, reverse=True):
            message = message.replace(folder + "/", "").replace(folder, what)
        raise UploadRejected(
            f"{what}: not one readable DICOM series ({message[:500]})", 422
        ) from None
