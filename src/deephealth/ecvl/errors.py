"""The error types of ECVL.

Every failure of the image part of ECVL raises :class:`EcvlError` or one of its subclasses, so a
caller can catch one type. Errors about files carry the path and the cause; series errors carry the
slice numbers at fault. :class:`EcvlError` derives from :class:`RuntimeError`, which is what pyecvl
raised, so pyecvl scripts that catch ``RuntimeError`` keep working. :class:`EcvlError` is the ECVL
branch of :class:`deephealth.errors.DeepHealthError`.
"""

from __future__ import annotations

import os

from deephealth.errors import EcvlError

__all__ = [
    "EcvlError",
    "ImageReadError",
    "ImageWriteError",
    "SeriesError",
    "UnsupportedFormatError",
]


class ImageReadError(EcvlError):
    """A file could not be read: missing, truncated, corrupt or of an unsupported kind.

    Attributes:
        path: The file (or folder) that failed.
        cause: A short human-readable reason.
    """

    def __init__(self, path: str | os.PathLike | None, cause: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.cause = cause
        super().__init__(f"cannot read {self.path!r}: {cause}")


class UnsupportedFormatError(ImageReadError):
    """No reader recognises the file (by its content or its extension)."""


class SeriesError(ImageReadError):
    """The slices of a DICOM series cannot form one volume.

    Attributes:
        slices: The 1-based numbers (in sorted order) of the slices at fault.
    """

    def __init__(self, path: str | os.PathLike | None, cause: str, slices: list[int]) -> None:
        self.slices = list(slices)
        super().__init__(path, f"{cause} (slices {self.slices})")


class ImageWriteError(EcvlError):
    """An image could not be written to a file.

    Attributes:
        path: The destination file.
        cause: A short human-readable reason.
    """

    def __init__(self, path: str | os.PathLike | None, cause: str) -> None:
        self.path = None if path is None else os.fspath(path)
        self.cause = cause
        super().__init__(f"cannot write {self.path!r}: {cause}")
