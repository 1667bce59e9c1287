"""CSV/TSV tables and NumPy files as recordings.

CSV: a header row of channel names; a first column named ``time``/``t``/``seconds`` gives the
sampling rate (otherwise pass ``fs=``); a column named ``label`` is read as per-sample labels and
turned into annotations (one per run of the same non-zero label). ``.npz``: arrays ``data``
(C, T), ``fs`` and optionally ``channels``, ``types``, ``units``, ``onsets``/``durations``/
``labels`` (written that way by :func:`write`). ``.npy``: a (C, T) array, ``fs=`` required.
"""

from __future__ import annotations

import builtins

import numpy as np

from deephealth.ecvl.signal.io.base import SignalFile, SignalHeader
from deephealth.ecvl.signal.signal import (
    Annotation,
    Signal,
    SignalReadError,
    SignalWriteError,
    guess_channel_type,
)

_TIME = {"time", "t", "seconds", "time_s", "sec"}


class TableFile(SignalFile):
    """A whole-file recording (CSV or NumPy) held in memory."""

    def __init__(self, path: str, fs: float | None = None) -> None:
        self.path = path
        low = path.lower()
        try:
            if low.endswith(".npz"):
                sig = _read_npz(path, fs)
            elif low.endswith(".npy"):
                sig = _read_npy(path, fs)
            else:
                sig = _read_csv(path, fs)
        except SignalReadError:
            raise
        except Exception as e:
            raise SignalReadError(path, f"corrupt file: {e}") from None
        self._sig = sig
        self.header = SignalHeader(
            list(sig.channels), sig.fs_.copy(), np.full(sig.num_channels, sig.num_samples), list(sig.types),
            list(sig.units), sig.start_time, list(sig.annotations), dict(sig.meta),
        )  # fmt: skip

    def _read_block(self, idx: list[int], first: int, count: int) -> np.ndarray:
        return self._sig.data[idx, first : first + count]

    def _read_samples(self, index: int, first: int, count: int) -> np.ndarray:
        return self._sig.data[index, first : first + count]


def _need_fs(path: str, fs: float | None) -> float:
    if fs is None:
        raise SignalReadError(
            path, "no sampling rate: pass fs= or add a 'time' column / 'fs' array"
        )
    return float(fs)


def _read_npy(path: str, fs: float | None) -> Signal:
    x = np.load(path, allow_pickle=False)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise SignalReadError(path, f"expected a (channels, samples) array, got shape {x.shape}")
    return Signal(x, _need_fs(path, fs))


def _read_npz(path: str, fs: float | None) -> Signal:
    with np.load(path, allow_pickle=False) as z:
        if "data" not in z:
            raise SignalReadError(path, f"no 'data' array (arrays: {list(z.keys())})")
        rate = float(z["fs"]) if "fs" in z else _need_fs(path, fs)
        x = z["data"]
        names = [str(c) for c in z["channels"]] if "channels" in z else None
        types = [str(c) for c in z["types"]] if "types" in z else None
        units = [str(c) for c in z["units"]] if "units" in z else None
        anns = []
        if "onsets" in z:
            anns = [
                Annotation(float(o), float(d), str(lab))
                for o, d, lab in zip(z["onsets"], z["durations"], z["labels"])
            ]  # fmt: skip
    return Signal(x, rate, names, types, units, annotations=anns)


def _read_csv(path: str, fs: float | None) -> Signal:
    delim = "\t" if path.lower().endswith(".tsv") else ","
    with builtins.open(path, encoding="utf-8") as f:
        first = f.readline().strip()
    names = [c.strip().strip('"') for c in first.split(delim)]
    if not names or all(_is_number(c) for c in names):
        raise SignalReadError(path, "the first row must name the columns")
    x = np.loadtxt(path, delimiter=delim, skiprows=1, ndmin=2, dtype=np.float64)
    if x.shape[1] != len(names):
        raise SignalReadError(path, f"{x.shape[1]} columns but {len(names)} names")
    cols = list(range(len(names)))
    rate = fs
    if names[0].lower() in _TIME:
        dt = np.diff(x[:, 0])
        if len(dt) == 0 or np.any(dt <= 0):
            raise SignalReadError(path, "the time column must increase")
        rate = 1.0 / float(np.median(dt))
        if abs(rate - round(rate)) < 1e-4 * rate:  # times printed with limited precision
            rate = float(round(rate))
        cols = cols[1:]
    anns: list[Annotation] = []
    if "label" in [names[c].lower() for c in cols]:
        li = next(c for c in cols if names[c].lower() == "label")
        cols.remove(li)
        anns = labels_to_annotations(x[:, li], _need_fs(path, rate))
    rate = _need_fs(path, rate)
    return Signal(
        x[:, cols].T,
        rate,
        [names[c] for c in cols],
        [guess_channel_type(names[c]) for c in cols],
        annotations=anns,
    )


def labels_to_annotations(labels: np.ndarray, fs: float) -> list[Annotation]:
    """One annotation per run of equal non-zero per-sample labels (label text = the value)."""
    lab = np.asarray(labels)
    out = []
    change = np.flatnonzero(np.diff(lab) != 0) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(lab)]])
    for a, b in zip(starts, ends):
        v = lab[a]
        if v != 0:
            text = str(int(v)) if float(v).is_integer() else str(v)
            out.append(Annotation(float(a / fs), float((b - a) / fs), text))
    return out


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def open(path: str, fs: float | None = None, **kwargs) -> TableFile:  # noqa: A001
    """Open a CSV/TSV/NumPy recording (read whole: these formats have no random access)."""
    return TableFile(path, fs)


def write(path: str, sig: Signal, **kwargs) -> None:
    """Write ``.npz`` (everything) or ``.csv`` (time column + channels)."""
    try:
        if path.lower().endswith(".npz"):
            a = sig.annotations
            np.savez(
                path, data=sig.data, fs=np.float64(sig.fs), channels=np.array(sig.channels),
                types=np.array(sig.types), units=np.array(sig.units),
                onsets=np.array([e.onset for e in a], np.float64),
                durations=np.array([e.duration for e in a], np.float64),
                labels=np.array([e.label for e in a], dtype=str),
            )  # fmt: skip
        elif path.lower().endswith((".csv", ".tsv")):
            delim = "\t" if path.lower().endswith(".tsv") else ","
            t = sig.offset + np.arange(sig.num_samples) / sig.fs
            np.savetxt(
                path, np.column_stack([t, sig.data.T]), delimiter=delim,
                header=delim.join(["time", *sig.channels]), comments="", fmt="%.9g",
            )  # fmt: skip
        else:
            raise SignalWriteError(path, "tables are written as .npz or .csv")
    except OSError as e:
        raise SignalWriteError(path, e.strerror or str(e)) from None
