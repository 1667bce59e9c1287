"""Recording I/O: one reader module per format behind ``SignalRead`` / ``SignalOpen`` / ``SignalWrite``.

The format is chosen by content (EDF/BDF and DICOM magic bytes) and then by extension. Formats
register themselves in :data:`SIGNAL_FORMATS` (``register_signal_format``) as the image formats do
in :mod:`deephealth.ecvl.io`; back-ends (pyedflib, wfdb, pydicom) are imported on first use, with an
error naming the ``signals`` pip extra when missing.

``SignalOpen`` returns a :class:`~deephealth.ecvl.signal.io.base.SignalFile`: its header (names,
rates, lengths, annotations) without the samples, and ``read(start, stop)`` for any time range, so
a 24 h EEG never loads whole (EDF/BDF and WFDB read only the requested records).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from deephealth.ecvl.io import Format
from deephealth.ecvl.signal.io.base import SignalFile, SignalHeader
from deephealth.ecvl.signal.signal import Signal, SignalReadError, SignalWriteError

SIGNAL_FORMATS: list[Format] = [
    Format("edf", (".edf", ".bdf", ".rec"), "deephealth.ecvl.signal.io.edf"),
    Format("dicom", (".dcm", ".dicom"), "deephealth.ecvl.signal.io.dicom_waveform"),
    Format("wfdb", (".hea", ".dat", ".atr"), "deephealth.ecvl.signal.io.wfdb_io"),
    Format("table", (".csv", ".tsv", ".txt", ".npy", ".npz"), "deephealth.ecvl.signal.io.table"),
]


def register_signal_format(name: str, extensions: Sequence[str], module: str) -> None:
    """Add (or replace) a recording format; ``module`` has ``sniff``, ``open`` and maybe ``write``."""
    SIGNAL_FORMATS[:] = [f for f in SIGNAL_FORMATS if f.name != name]
    SIGNAL_FORMATS.append(Format(name, tuple(e.lower() for e in extensions), module))


def _by_extension(path: str) -> Format | None:
    low = path.lower()
    for fmt in SIGNAL_FORMATS:
        if any(low.endswith(e) for e in fmt.extensions):
            return fmt
    return None


def find_format(path: str) -> Format:
    """The format of ``path`` by content, then by extension.

    Raises:
        SignalReadError: Missing or empty file, or no format recognises it.
    """
    if not os.path.exists(path) and os.path.exists(path + ".hea"):
        return next(f for f in SIGNAL_FORMATS if f.name == "wfdb")
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except FileNotFoundError:
        raise SignalReadError(path, "no such file") from None
    except IsADirectoryError:
        raise SignalReadError(path, "is a directory") from None
    except OSError as e:
        raise SignalReadError(path, e.strerror or str(e)) from None
    if not head:
        raise SignalReadError(path, "empty file")
    by_ext = _by_extension(path)
    for fmt in [by_ext] if by_ext else []:
        sniff = getattr(fmt.load(), "sniff", None)
        if sniff is None or sniff(head):
            return fmt
    for fmt in SIGNAL_FORMATS:
        sniff = getattr(fmt.load(), "sniff", None)
        if sniff is not None and sniff(head):
            return fmt
    if by_ext is not None:
        return by_ext
    raise SignalReadError(path, "unknown recording format (content and extension)")


def SignalOpen(path: str | os.PathLike, **kwargs: Any) -> SignalFile:
    """Open a recording for reading time ranges (header read now, samples on demand).

    Args:
        path: EDF/EDF+/BDF, WFDB (``.hea``, ``.dat`` or the record name), DICOM waveform, CSV,
            ``.npy`` or ``.npz``.
        **kwargs: Format options (``fs`` for CSV/NumPy files without a time column; ``group``
            for a DICOM waveform's multiplex group).

    Raises:
        SignalReadError: Missing, truncated or corrupt file (the message names file and cause).
    """
    p = os.fspath(path)
    return find_format(p).load().open(p, **kwargs)


def SignalRead(
    path: str | os.PathLike,
    start: float = 0.0,
    stop: float | None = None,
    channels: Sequence[int | str] | None = None,
    **kwargs: Any,
) -> Signal:
    """Read a recording, or the time range ``[start, stop)`` seconds of it.

    Raises:
        SignalReadError: Missing, truncated or corrupt file (the message names file and cause).
    """
    with SignalOpen(path, **kwargs) as f:
        return f.read(start, stop, channels)


def SignalWrite(path: str | os.PathLike, sig: Signal, **kwargs: Any) -> bool:
    """Write a recording; the format follows the extension (``.edf``, ``.bdf``, ``.hea``, ``.npz``, ``.csv``).

    Raises:
        SignalWriteError: Unknown extension or the writer failed (names file and cause).
    """
    p = os.fspath(path)
    fmt = _by_extension(p)
    if fmt is None:
        raise SignalWriteError(p, "unknown extension; use .edf, .bdf, .hea, .npz or .csv")
    writer = getattr(fmt.load(), "write", None)
    if writer is None:
        raise SignalWriteError(p, f"the {fmt.name} format is read-only")
    if not isinstance(sig, Signal):
        raise SignalWriteError(p, f"expected a Signal, got {type(sig).__name__}")
    writer(p, sig, **kwargs)
    return True


__all__ = [
    "SIGNAL_FORMATS",
    "SignalFile",
    "SignalHeader",
    "SignalOpen",
    "SignalRead",
    "SignalWrite",
    "find_format",
    "register_signal_format",
]
