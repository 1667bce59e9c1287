"""Image file I/O: one reader module per format behind ``ImRead`` / ``ImWrite`` (pyecvl names).

``ImRead`` chooses the reader by content (magic bytes) and then by extension; a folder or a list of
files is read as a DICOM series. ``ImWrite`` chooses the writer by extension. Formats register
themselves in :data:`FORMATS` (``register_format``), so other modules (e.g. whole-slide reading) can
add one without touching this file. Heavy back-ends (pydicom, nibabel) are imported on first use.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable, Sequence
from typing import Any

from deephealth.ecvl.errors import (
    EcvlError,
    ImageReadError,
    ImageWriteError,
    UnsupportedFormatError,
)
from deephealth.ecvl.image import Image
from deephealth.ecvl.io import standard
from deephealth.ecvl.io.standard import ImReadMode

_HEAD = 512


@dataclasses.dataclass
class Format:
    """A file format known to ``ImRead`` / ``ImWrite``.

    Attributes:
        name: Short name ("dicom", "nifti", ...).
        extensions: Lower-case extensions, with the dot (".nii.gz" allowed).
        module: Dotted module path holding ``sniff(head) -> bool``, ``read(path, flags)`` and
            optionally ``write(path, img)``; imported on first use.
    """

    name: str
    extensions: tuple[str, ...]
    module: str

    def load(self) -> Any:
        """The implementing module."""
        return importlib.import_module(self.module)


# Sniffing order: DICOM first, since a DICOM preamble may itself look like a TIFF header.
FORMATS: list[Format] = [
    Format("dicom", (".dcm", ".dicom", ".ima"), "deephealth.ecvl.io.dicom"),
    Format("standard", standard.EXTENSIONS, "deephealth.ecvl.io.standard"),
    Format("nifti", (".nii", ".nii.gz", ".hdr", ".img"), "deephealth.ecvl.io.nifti"),
    Format("numpy", (".npy", ".npz"), "deephealth.ecvl.io.numpy_io"),
]


def register_format(name: str, extensions: Sequence[str], module: str, first: bool = False) -> None:
    """Add (or replace) a format; ``first`` gives it priority in content sniffing."""
    _EXT_CACHE.clear()
    FORMATS[:] = [f for f in FORMATS if f.name != name]
    fmt = Format(name, tuple(e.lower() for e in extensions), module)
    FORMATS.insert(0, fmt) if first else FORMATS.append(fmt)


_EXT_CACHE: dict[str, Format | None] = {}


def _by_extension(path: str) -> Format | None:
    low = path.lower()
    key = low[low.rfind(".") :] if "." in low else ""
    cacheable = key != ".gz"  # ".nii.gz" and the like need the whole name
    if cacheable and key in _EXT_CACHE:
        return _EXT_CACHE[key]
    best, best_len = None, 0
    for fmt in FORMATS:
        for ext in fmt.extensions:
            if low.endswith(ext) and len(ext) > best_len:
                best, best_len = fmt, len(ext)
    if cacheable:
        _EXT_CACHE[key] = best
    return best


def _sniff(head: bytes) -> Format | None:
    for fmt in FORMATS:
        sniff: Callable[[bytes], bool] | None = getattr(fmt.load(), "sniff", None)
        if sniff is not None and sniff(head):
            return fmt
    return None


def _read_head(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(_HEAD)
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory") from None
    except OSError as e:
        raise ImageReadError(path, e.strerror or str(e)) from None


def ImRead(
    filename: str | os.PathLike | Sequence[str | os.PathLike], flags: int = ImReadMode.ANYCOLOR
) -> Image:
    """Read an image file, a DICOM series folder or a list of DICOM files (pyecvl ``ImRead``).

    Args:
        filename: A file; a folder or list of files is read as one DICOM series volume.
        flags: An :class:`ImReadMode` (used by the standard-image reader).

    Returns:
        An ``"xyc"`` Image for 2D files, ``"xyzc"`` for volumes.

    Raises:
        ImageReadError: Missing, truncated, corrupt file (the message names file and cause).
        UnsupportedFormatError: No reader recognises the file.
        SeriesError: The files of a series cannot form one volume.
    """
    try:
        return _imread(filename, flags)
    except EcvlError:
        raise
    except Exception as e:
        label = filename if isinstance(filename, (str, os.PathLike)) else "DICOM series"
        cause = "not enough memory to decode it" if isinstance(e, MemoryError) else "corrupt"
        raise ImageReadError(label, f"{cause} ({type(e).__name__}: {str(e)[:200]})") from None


def _imread(filename: Any, flags: int) -> Image:
    if isinstance(filename, (list, tuple)) or os.path.isdir(filename):
        from deephealth.ecvl.io import dicom

        return dicom.read_series(filename)
    path = os.fspath(filename)
    fmt = _by_extension(path)
    if fmt is not None and fmt.name == "standard":
        # Hot path: one small read of the head and tail (magic, truncation), then cv2.imread.
        head, tail = standard.peek(path, _HEAD)
        if standard.sniff(head) and head[128:132] != b"DICM":
            return standard.read(path, flags, head, tail)
    else:
        head = _read_head(path)
    by_content = _sniff(head) if head else None
    if by_content is None and fmt is not None and fmt.name == "standard" and head:
        raise UnsupportedFormatError(path, "unknown file format: the content is no image format")
    fmt = by_content or fmt
    if fmt is None:
        if not head:
            raise ImageReadError(path, "empty file")
        raise UnsupportedFormatError(path, "unknown file format (content and extension)")
    return fmt.load().read(path, flags)


def ImReadMulti(filename: str | os.PathLike, flags: int = ImReadMode.ANYCOLOR) -> list[Image]:
    """Read every page of a multi-page image (TIFF) into a list of ``"xyc"`` Images."""
    return standard.read_multi(filename, flags)


def ImWrite(filename: str | os.PathLike, src: Image, *args: Any) -> bool:
    """Write an Image; the format follows the extension (pyecvl ``ImWrite``).

    Args:
        filename: Destination; ``.png``/``.jpg``/``.tif``/... (OpenCV), ``.dcm``, ``.nii``,
            ``.nii.gz``, ``.npy``, ``.npz``.
        src: The image.
        *args: Extra arguments for the format's writer (e.g. OpenCV encoder parameters).

    Returns:
        True.

    Raises:
        ImageWriteError: Unknown extension, or the writer failed (message names file and cause).
    """
    path = os.fspath(filename)
    fmt = _by_extension(path)
    if fmt is None:
        raise ImageWriteError(
            path, "unknown extension; use e.g. .png, .jpg, .tif, .dcm, .nii.gz, .npz"
        )
    writer = getattr(fmt.load(), "write", None)
    if writer is None:
        raise ImageWriteError(path, f"the {fmt.name} format is read-only")
    if not isinstance(src, Image):
        raise ImageWriteError(path, f"expected an Image, got {type(src).__name__}")
    if src.IsEmpty():
        raise ImageWriteError(path, "image is empty")
    return writer(path, src, *args)


def DicomRead(filename: str | os.PathLike | Sequence[str | os.PathLike]) -> Image:
    """Read a DICOM file, a folder holding one series, or a list of files (pyecvl ``DicomRead``)."""
    from deephealth.ecvl.io import dicom

    if isinstance(filename, (list, tuple)) or os.path.isdir(filename):
        return dicom.read_series(filename)
    return dicom.read(filename)


def DicomWrite(filename: str | os.PathLike, src: Image) -> bool:
    """Write an Image as a DICOM file (pyecvl ``DicomWrite``)."""
    from deephealth.ecvl.io import dicom

    return dicom.write(os.fspath(filename), src)


def NiftiRead(filename: str | os.PathLike) -> Image:
    """Read a NIfTI-1/2 file (``.nii``, ``.nii.gz``, ``.hdr``/``.img``) (pyecvl ``NiftiRead``)."""
    from deephealth.ecvl.io import nifti

    return nifti.read(filename)


def NiftiWrite(filename: str | os.PathLike, src: Image) -> bool:
    """Write an Image as NIfTI (``.nii`` or ``.nii.gz``) (pyecvl ``NiftiWrite``)."""
    from deephealth.ecvl.io import nifti

    return nifti.write(os.fspath(filename), src)


__all__ = [
    "FORMATS",
    "DicomRead",
    "DicomWrite",
    "Format",
    "ImRead",
    "ImReadMode",
    "ImReadMulti",
    "ImWrite",
    "NiftiRead",
    "NiftiWrite",
    "register_format",
]
