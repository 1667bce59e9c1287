"""EDF, EDF+ and BDF(+) recordings through pyedflib (read ranges lazily, write with annotations).

pyedflib was chosen over MNE by measurement and by what it can do (``bench/bench_signals.py``):
whole-file reads are of the same order (quiet run: MNE 21.4, pyedflib 16.0, this reader 20.5
Msamples/s on a 23-channel 256 Hz EDF; a noisy run had pyedflib 1.6× ahead of MNE), but pyedflib
reads any sample range of one channel without touching the rest (the lazy range reads and the
windows loader need that) and writes EDF+/BDF+ with annotations. EDF+ annotations (TAL) become :class:`Annotation`
rows; durations EDF marks as unknown (-1) become 0. Writing reuses each channel's physical and
digital range when the Signal came from an EDF file (so read → write → read gives the same
values); otherwise the range is the channel's minimum and maximum.
"""

from __future__ import annotations

import builtins
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


def sniff(head: bytes) -> bool:
    """EDF starts with ``"0       "``, BDF with ``0xFF "BIOSEMI"``."""
    return head[:8] == b"0       " or head[:8] == b"\xffBIOSEMI"


def _check_size(path: str) -> None:
    """Refuse a file whose length disagrees with its header (truncated or padded)."""
    with builtins.open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise SignalReadError(path, f"truncated header ({len(head)} of 256 bytes)")
        try:
            header_bytes = int(head[184:192].strip())
            n_records = int(head[236:244].strip())
            n_signals = int(head[252:256].strip())
        except ValueError:
            raise SignalReadError(path, "corrupt header: non-numeric header fields") from None
        if n_signals <= 0 or header_bytes != 256 * (n_signals + 1):
            raise SignalReadError(
                path, f"corrupt header: {n_signals} signals but {header_bytes} header bytes"
            )
        f.seek(256)
        ext = f.read(256 * n_signals)
        if len(ext) < 256 * n_signals:
            raise SignalReadError(path, "truncated signal headers")
    width = 3 if head[:1] == b"\xff" else 2
    off = 216 * n_signals
    try:
        per_record = sum(int(ext[off + 8 * i : off + 8 * i + 8].strip()) for i in range(n_signals))
    except ValueError:
        raise SignalReadError(path, "corrupt header: non-numeric samples per record") from None
    if per_record <= 0:
        raise SignalReadError(path, "corrupt header: no samples per record")
    size = os.path.getsize(path)
    data = size - header_bytes
    if n_records >= 0 and data < n_records * per_record * width:
        have = data // (per_record * width)
        raise SignalReadError(
            path, f"truncated: the header announces {n_records} data records, the file holds {have}"
        )


class EdfFile(SignalFile):
    """An open EDF/EDF+/BDF file (pyedflib ``EdfReader``)."""

    def __init__(self, path: str) -> None:
        pyedflib = import_backend("pyedflib", "EDF/BDF reading")
        self.path = path
        _check_size(path)
        try:
            self._r = pyedflib.EdfReader(path)
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise SignalReadError(path, f"corrupt EDF/BDF: {e}") from None
        r = self._r
        try:
            n = r.signals_in_file
            headers = r.getSignalHeaders()
            labels = [h["label"].strip() or f"ch{i}" for i, h in enumerate(headers)]
            labels = _unique(labels)
            fs = np.asarray(r.getSampleFrequencies(), dtype=np.float64)
            samples = np.asarray(r.getNSamples(), dtype=np.int64)[:n]
            onsets, durations, texts = r.readAnnotations()
            start = r.getStartdatetime()
        except Exception as e:
            r.close()
            raise SignalReadError(path, f"corrupt EDF/BDF header: {e}") from None
        if np.any(fs <= 0):
            r.close()
            raise SignalReadError(path, f"corrupt header: sampling rates {fs.tolist()}")
        anns = [
            Annotation(float(o), max(0.0, float(d)), str(t))
            for o, d, t in zip(onsets, durations, texts)
        ]  # fmt: skip
        self.header = SignalHeader(
            channels=labels, fs=fs, samples=samples,
            types=[guess_channel_type(c) for c in labels],
            units=[h["dimension"].strip() or "uV" for h in headers],
            start_time=start, annotations=anns,
            meta={"edf_signal_headers": headers, "patient": r.getPatientName(),
                  "file_type": "bdf" if path.lower().endswith(".bdf") else "edf"},
        )  # fmt: skip

    def _read_samples(self, index: int, first: int, count: int) -> np.ndarray:
        if count == 0:
            return np.zeros(0, np.float64)
        try:
            x = self._r.readSignal(index, first, count)
        except Exception as e:
            raise SignalReadError(self.path, f"channel {index}: {e}") from None
        if len(x) != count:
            raise SignalReadError(self.path, f"channel {index}: {len(x)} of {count} samples")
        return x

    def _read_block(self, idx: list[int], first: int, count: int) -> np.ndarray:
        # one float32 block filled channel by channel: no per-channel arrays to stack afterwards
        out = np.empty((len(idx), count), np.float32)
        for j, i in enumerate(idx):
            out[j] = self._read_samples(i, first, count) if count else out[j]
        return out

    def close(self) -> None:
        self._r.close()


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for c in labels:
        if c in seen:
            seen[c] += 1
            c = f"{c}-{seen[c]}"
        else:
            seen[c] = 0
        out.append(c)
    return out


def open(path: str, **kwargs: Any) -> EdfFile:  # noqa: A001 - format module protocol
    """Open an EDF/EDF+/BDF file."""
    return EdfFile(path)


def _num8(x: float, up: bool) -> float:
    """``x`` rounded outward to a number that fits EDF's 8-character header field."""
    for digits in range(6, -1, -1):
        y = np.ceil(x * 10**digits) / 10**digits if up else np.floor(x * 10**digits) / 10**digits
        if len(f"{y:.{digits}f}".rstrip("0").rstrip(".")) <= 8:
            return float(y)
    raise ValueError(f"value {x} does not fit an EDF header field")


def _digital(x: np.ndarray, h: dict[str, Any]) -> np.ndarray:
    """Physical values to the nearest digital value (pyedflib truncates, which loses a step)."""
    pmin, pmax, dmin, dmax = (
        h["physical_min"],
        h["physical_max"],
        h["digital_min"],
        h["digital_max"],
    )
    d = (x.astype(np.float64) - pmin) * ((dmax - dmin) / (pmax - pmin)) + dmin
    return np.clip(np.rint(d), dmin, dmax).astype(np.int32)


def write(path: str, sig: Signal, **kwargs: Any) -> None:
    """Write a Signal as EDF+ (``.edf``) or BDF+ (``.bdf``), with its annotations."""
    pyedflib = import_backend("pyedflib", "EDF/BDF writing")
    bdf = path.lower().endswith(".bdf")
    dmax = 8388607 if bdf else 32767
    old = {h["label"].strip(): h for h in sig.meta.get("edf_signal_headers", [])}
    same_kind = sig.meta.get("file_type", "edf") == ("bdf" if bdf else "edf")
    headers = []
    for i, name in enumerate(sig.channels):
        x = sig.channel(i)
        h = old.get(name) if same_kind else None
        if (
            h is not None
            and len(x)
            and (
                min(h["physical_min"], h["physical_max"]) <= float(x.min())
                and float(x.max()) <= max(h["physical_min"], h["physical_max"])
            )
        ):
            pmin, pmax, dlo, dhi = (
                h["physical_min"],
                h["physical_max"],
                h["digital_min"],
                h["digital_max"],
            )
        else:
            lo, hi = (float(x.min()), float(x.max())) if len(x) else (-1.0, 1.0)
            if hi - lo < 1e-6:
                lo, hi = lo - 1.0, hi + 1.0
            pmin, pmax, dlo, dhi = _num8(lo, False), _num8(hi, True), -dmax - 1, dmax
        headers.append({
            "label": name[:16], "dimension": sig.units[i][:8], "sample_frequency": float(sig.fs_[i]),
            "physical_min": pmin, "physical_max": pmax, "digital_min": dlo, "digital_max": dhi,
            "transducer": "", "prefilter": "",
        })  # fmt: skip
    ftype = pyedflib.FILETYPE_BDFPLUS if bdf else pyedflib.FILETYPE_EDFPLUS
    try:
        w = pyedflib.EdfWriter(path, len(sig.channels), file_type=ftype)
    except Exception as e:
        raise SignalWriteError(path, str(e)) from None
    try:
        w.setSignalHeaders(headers)
        if sig.start_time is not None:
            w.setStartdatetime(sig.start_time.replace(tzinfo=None))
        for a in sig.annotations:
            w.writeAnnotation(a.onset, a.duration if a.duration > 0 else -1, a.label)
        w.writeSamples([_digital(sig.channel(i), h) for i, h in enumerate(headers)], digital=True)
    except Exception as e:
        raise SignalWriteError(path, str(e)) from None
    finally:
        w.close()
