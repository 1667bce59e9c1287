"""WFDB records (PhysioNet: ``.hea`` header + ``.dat`` samples) and their annotation files.

Reading goes through the ``wfdb`` package: ``rdheader`` when opening, ``rdrecord(sampfrom,
sampto)`` for a range (only those samples are read). Annotation files next to the header (``atr``,
``qrs``, ``ecg``, ``ann``, ...) become :class:`Annotation` rows labelled with the beat symbol (or
the rhythm text in ``aux_note`` for ``+`` annotations), with their ``num`` as ``group``.
"""

from __future__ import annotations

import glob
import os
from typing import Any

import numpy as np

from deephealth.ecvl.signal.io.base import SignalFile, SignalHeader, import_backend
from deephealth.ecvl.signal.signal import (
    Annotation,
    Signal,
    SignalReadError,
    SignalWriteError,
    guess_channel_type,
)

_NOT_ANNOTATIONS = {".hea", ".dat", ".mat", ".edf", ".csv", ".npz", ".png", ".txt", ".json"}


def record_name(path: str) -> str:
    """The record path without extension (``/d/100.hea`` → ``/d/100``)."""
    base, ext = os.path.splitext(path)
    return base if ext.lower() in (".hea", ".dat", ".atr") else path


def annotation_files(record: str) -> list[str]:
    """Extensions of the annotation files stored next to a record (``atr``, ``qrs``, ...)."""
    out = []
    for f in sorted(glob.glob(glob.escape(record) + ".*")):
        ext = os.path.splitext(f)[1]
        if (
            ext.lower() not in _NOT_ANNOTATIONS
            and "." not in os.path.basename(f)[len(os.path.basename(record)) + 1 :]
        ):
            out.append(ext[1:])
    return out


class WfdbFile(SignalFile):
    """An open WFDB record."""

    def __init__(self, path: str, annotators: list[str] | None = None) -> None:
        self._wfdb = wfdb = import_backend("wfdb", "WFDB reading")
        self.path = path
        self.record = record_name(path)
        if not os.path.exists(self.record + ".hea"):
            raise SignalReadError(path, f"no WFDB header {self.record + '.hea'!r}")
        try:
            h = wfdb.rdheader(self.record)
        except Exception as e:
            raise SignalReadError(path, f"corrupt WFDB header: {e}") from None
        if not h.sig_name:
            raise SignalReadError(path, "the WFDB header lists no signals")
        n = h.sig_len or 0
        spf = np.asarray(h.samps_per_frame or [1] * h.n_sig, dtype=np.float64)
        if np.any(spf != 1):
            self._spf = spf
        else:
            self._spf = None
        fs = float(h.fs) * (spf if self._spf is not None else np.ones(h.n_sig))
        anns = []
        for ext in annotators if annotators is not None else annotation_files(self.record):
            anns.extend(self._annotations(ext, float(h.fs)))
        start = h.get_datetime() if h.base_date is not None else None
        self.header = SignalHeader(
            channels=list(h.sig_name), fs=fs, samples=(n * (spf if self._spf is not None else np.ones(h.n_sig))).astype(np.int64),
            types=[guess_channel_type(c) for c in h.sig_name], units=list(h.units or ["mV"] * h.n_sig),
            start_time=start, annotations=anns, meta={"comments": list(h.comments or [])},
        )  # fmt: skip
        self._frames = n

    def _annotations(self, ext: str, fs: float) -> list[Annotation]:
        try:
            a = self._wfdb.rdann(self.record, ext)
        except Exception as e:
            raise SignalReadError(
                f"{self.record}.{ext}", f"corrupt WFDB annotation file: {e}"
            ) from None
        out = []
        for i, (s, sym) in enumerate(zip(a.sample, a.symbol)):
            label = sym
            if sym == "+" and a.aux_note and a.aux_note[i]:
                label = a.aux_note[i].strip("\x00 ")
            num = int(a.num[i]) if a.num is not None else None
            out.append(Annotation(float(s) / fs, 0.0, label, source="recording", group=num))
        return out

    def _read_block(self, idx: list[int], first: int, count: int) -> np.ndarray | None:
        if self._spf is not None:
            return None
        if count == 0:
            return np.zeros((len(idx), 0), np.float32)
        try:
            r = self._wfdb.rdrecord(self.record, sampfrom=first, sampto=first + count, channels=idx)
        except Exception as e:
            raise SignalReadError(self.path, f"corrupt or truncated WFDB samples: {e}") from None
        x = np.asarray(r.p_signal, dtype=np.float32).T
        if x.shape[1] != count:
            raise SignalReadError(self.path, f"truncated: {x.shape[1]} of {count} samples")
        return np.nan_to_num(x)

    def _read_samples(self, index: int, first: int, count: int) -> np.ndarray:
        spf = 1 if self._spf is None else int(self._spf[index])
        try:
            r = self._wfdb.rdrecord(
                self.record, sampfrom=first // spf, sampto=-(-(first + count) // spf),
                channels=[index], smooth_frames=False,
            )  # fmt: skip
        except Exception as e:
            raise SignalReadError(self.path, f"corrupt or truncated WFDB samples: {e}") from None
        x = r.e_p_signal[0] if r.e_p_signal is not None else r.p_signal[:, 0]
        off = first - (first // spf) * spf
        return np.nan_to_num(np.asarray(x[off : off + count], dtype=np.float32))


def open(path: str, annotators: list[str] | None = None, **kwargs: Any) -> WfdbFile:  # noqa: A001
    """Open a WFDB record (``.hea``, ``.dat`` or the record name), with its annotation files."""
    return WfdbFile(path, annotators)


def write(path: str, sig: Signal, annotator: str = "atr", fmt: str = "16", **kwargs: Any) -> None:
    """Write a Signal (one rate) as a WFDB record, and its point annotations as ``annotator``."""
    wfdb = import_backend("wfdb", "WFDB writing")
    record = record_name(path)
    d, name = os.path.split(record)
    try:
        x = sig.data.T.astype(np.float64)
        wfdb.wrsamp(
            name, fs=sig.fs, units=list(sig.units), sig_name=list(sig.channels), p_signal=x,
            fmt=[fmt] * sig.num_channels, write_dir=d or ".",
        )  # fmt: skip
        if sig.annotations:
            samples = np.array([int(round(a.onset * sig.fs)) for a in sig.annotations])
            syms, aux = [], []
            for a in sig.annotations:
                sym = a.label if len(a.label) == 1 else "+"
                syms.append(sym)
                aux.append("" if sym != "+" else a.label)
            wfdb.wrann(
                name, annotator, samples, symbol=syms, aux_note=aux, write_dir=d or ".", fs=sig.fs
            )
    except Exception as e:
        raise SignalWriteError(path, str(e)) from None
