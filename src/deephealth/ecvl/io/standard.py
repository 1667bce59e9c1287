"""Standard image files (PNG, JPEG, BMP, TIFF incl. 16-bit, WebP, PNM, JPEG 2000) through OpenCV.

Reading peeks at the file's first and last bytes, decodes it with ``cv2.imread`` and wraps the
OpenCV array as an ``"xyc"`` Image without a copy (colour images stay BGR as in ECVL; 4-channel images become RGBA). Truncated
PNG and JPEG files are detected from their end markers, so a half-written file is an error rather
than a silently grey image.
"""

from __future__ import annotations

import enum
import os

import cv2
import numpy as np

from deephealth.ecvl.errors import ImageReadError, ImageWriteError
from deephealth.ecvl.image import ColorType, Image

EXTENSIONS = (
    ".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".dib", ".tif", ".tiff", ".webp",
    ".pbm", ".pgm", ".ppm", ".pnm", ".jp2", ".sr", ".ras",
)  # fmt: skip

_MAGIC = (
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+",
    b"RIFF", b"P1", b"P2", b"P3", b"P4", b"P5", b"P6", b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51",
    b"\x59\xa6\x6a\x95",
)  # fmt: skip


class ImReadMode(enum.IntEnum):
    """How to read standard images (pyecvl ``ImReadMode``).

    ``ANYCOLOR`` (default) keeps the file's channels and bit depth (16-bit PNG/TIFF stay uint16);
    ``UNCHANGED`` also keeps alpha; ``GRAYSCALE`` and ``COLOR`` convert to 8-bit gray / BGR.
    """

    UNCHANGED = -1
    GRAYSCALE = 0
    COLOR = 1
    ANYCOLOR = 4


_CV_FLAGS = {
    ImReadMode.UNCHANGED: cv2.IMREAD_UNCHANGED,
    ImReadMode.GRAYSCALE: cv2.IMREAD_GRAYSCALE,
    ImReadMode.COLOR: cv2.IMREAD_COLOR,
    ImReadMode.ANYCOLOR: cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH,
}


def sniff(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a file) starts like a standard image."""
    return head.startswith(_MAGIC)


def _check_complete(path: str, head: bytes, tail: bytes) -> None:
    """Raise when a PNG lacks its IEND chunk or a JPEG its end-of-image marker (truncated file)."""
    if head.startswith(_MAGIC[0]):
        if b"IEND" not in tail[-64:]:
            raise ImageReadError(path, "truncated PNG (no IEND chunk)")
    elif head.startswith(_MAGIC[1]):
        if b"\xff\xd9" not in tail[-1024:]:
            raise ImageReadError(path, "truncated JPEG (no end-of-image marker)")


def peek(path: str, head_size: int = 512, tail_size: int = 1024) -> tuple[bytes, bytes]:
    """The first ``head_size`` and last ``tail_size`` bytes of a file, with one open.

    Raises:
        ImageReadError: The file is missing, a directory, unreadable or empty.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory") from None
    except OSError as e:
        raise ImageReadError(path, e.strerror or str(e)) from None
    try:  # positioned reads on a raw descriptor: a few microseconds, no Python file object
        size = os.fstat(fd).st_size
        head = os.pread(fd, head_size, 0)
        tail = head if size <= head_size else os.pread(fd, tail_size, max(size - tail_size, 0))
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory") from None
    except OSError as e:
        raise ImageReadError(path, e.strerror or str(e)) from None
    finally:
        os.close(fd)
    if not head:
        raise ImageReadError(path, "empty file")
    return head, tail


def _wrap(arr: np.ndarray) -> Image:
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
    return Image.from_cv(arr)


def read(
    path: str | os.PathLike,
    flags: int = ImReadMode.ANYCOLOR,
    head: bytes | None = None,
    tail: bytes | None = None,
) -> Image:
    """Read a standard image file with ``cv2.imread`` and wrap the result without a copy.

    Args:
        path: The file.
        flags: An :class:`ImReadMode`.
        head: The file's first bytes, when the caller already has them (see :func:`peek`).
        tail: The file's last bytes, likewise.

    Returns:
        An ``"xyc"`` Image (GRAY, BGR or RGBA).

    Raises:
        ImageReadError: Missing, empty, truncated file, or OpenCV cannot decode it.
    """
    path = os.fspath(path)
    if head is None or tail is None:
        head, tail = peek(path)
    _check_complete(path, head, tail)
    try:
        arr = cv2.imread(path, _CV_FLAGS.get(ImReadMode(flags), cv2.IMREAD_UNCHANGED))
    except cv2.error as e:
        raise ImageReadError(path, f"OpenCV decoder failed: {e.err}") from None
    if arr is None:
        raise ImageReadError(path, "OpenCV cannot decode the data (corrupt or unsupported)")
    return _wrap(arr)


def read_multi(path: str | os.PathLike, flags: int = ImReadMode.ANYCOLOR) -> list[Image]:
    """Read every page of a multi-page file (TIFF) as a list of Images (pyecvl ``ImReadMulti``).

    Raises:
        ImageReadError: Missing, truncated or undecodable file.
    """
    path = os.fspath(path)
    head, tail = peek(path)
    _check_complete(path, head, tail)
    try:
        ok, pages = cv2.imreadmulti(
            path, flags=_CV_FLAGS.get(ImReadMode(flags), cv2.IMREAD_UNCHANGED)
        )
    except cv2.error as e:
        raise ImageReadError(path, f"OpenCV decoder failed: {e.err}") from None
    if not ok or not pages:
        raise ImageReadError(path, "OpenCV cannot decode the pages (corrupt or unsupported)")
    return [_wrap(arr) for arr in pages]


_TO_CV = {
    ColorType.RGB: cv2.COLOR_RGB2BGR,
    ColorType.RGBA: cv2.COLOR_RGBA2BGRA,
    ColorType.HSV: cv2.COLOR_HSV2BGR,
    ColorType.YCbCr: cv2.COLOR_YCrCb2BGR,
}


def to_bgr_view(img: Image) -> np.ndarray:
    """The OpenCV array to hand to ``cv2.imwrite``: BGR(A) order, rearranged from any 2D layout."""
    arr = img.to_cv()
    code = _TO_CV.get(img.colortype)
    if code is not None:
        if img.colortype is ColorType.YCbCr:
            arr = arr[:, :, ::-1]  # ECVL stores Y, Cb, Cr; OpenCV's code expects Y, Cr, Cb
        arr = cv2.cvtColor(np.ascontiguousarray(arr), code)
    return arr


def write(path: str | os.PathLike, img: Image, params: list[int] | None = None) -> bool:
    """Write a 2D Image with OpenCV; the format follows the extension.

    Args:
        path: Destination file.
        img: A 2D image (layout of x, y and optionally c).
        params: OpenCV encoder parameters (e.g. ``[cv2.IMWRITE_JPEG_QUALITY, 95]``).

    Returns:
        True.

    Raises:
        ImageWriteError: The image is not 2D, or OpenCV cannot encode or write it.
    """
    path = os.fspath(path)
    try:
        arr = to_bgr_view(img)
    except Exception as e:
        raise ImageWriteError(path, str(e)) from None
    try:
        ok = cv2.imwrite(path, arr, params or [])
    except cv2.error as e:
        raise ImageWriteError(path, f"OpenCV encoder failed: {e.err}") from None
    if not ok:
        raise ImageWriteError(path, "OpenCV could not encode or write the file")
    return True
