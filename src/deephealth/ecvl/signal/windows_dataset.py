"""Streaming windows from many long recordings, with bounded memory and balanced sampling.

:class:`WindowsDataset` indexes every window of every recording from the headers and annotations
only (no samples read: a recording costs ~17 bytes per window in the index), then reads samples on
demand:

- ``sequential(batch_size)`` streams windows in recording order, reading ``chunk`` seconds at a
  time (one chunk is filtered once and cut into windows), for evaluation and prediction; memory
  is one chunk plus one batch whatever the recordings' length;
- ``batches(indices, batch_size)`` reads windows in any order for shuffled training, cut from
  the same preprocessed blocks, kept in an LRU cache bounded in bytes (``cache_bytes``); ``balanced_indices`` draws an epoch so that the windows of the event
  classes make up ``balance`` of it (seizures are < 1 % of the time), each class equally.

Preprocessing is the same on both paths and a window reads identically either way: pick channels → resample to ``fs`` → zero-phase band-pass and
notch → per-window per-channel z-score. Open files are kept in a small LRU cache (``max_open``).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from deephealth.ecvl.signal.io import SignalOpen
from deephealth.ecvl.signal.io.base import SignalFile
from deephealth.ecvl.signal.signal import Annotation, Signal, SignalError
from deephealth.ecvl.signal.windows import epochs, window_labels, window_starts


@dataclasses.dataclass
class WindowSpec:
    """How windows are cut, labelled and preprocessed.

    Attributes:
        length: Window length in seconds.
        step: Seconds between window starts (``< length`` overlaps; default = length).
        classes: Class names, background first.
        rule: Label rule (``any``, ``majority``, ``onset``; see :mod:`.windows`).
        min_overlap: Fraction for the ``majority`` rule.
        fs: Target sampling rate (None: the recordings' own, which must then agree).
        channels: Channel names to use, in order (None: those of the first recording).
        bandpass: ``(low, high)`` Hz zero-phase band-pass, or None.
        notch: Mains frequency to notch out (50/60), or None.
        normalize: ``zscore`` (per window and channel) or ``none``.
        margin: Seconds read around a window so the filters' edge effects fall outside it.
    """

    length: float = 2.0
    step: float | None = None
    classes: tuple[str, ...] = ("background", "seizure")
    rule: str = "any"
    min_overlap: float = 0.5
    fs: float | None = None
    channels: tuple[str, ...] | None = None
    bandpass: tuple[float, float] | None = None
    notch: float | None = None
    normalize: str = "zscore"
    margin: float = 2.0

    def samples(self, fs: float) -> int:
        """Samples per window at rate ``fs``."""
        return int(round(self.length * fs))


@dataclasses.dataclass
class Source:
    """A recording for the windows dataset: its path and external events (file events are added)."""

    path: str
    events: list[Annotation] = dataclasses.field(default_factory=list)
    patient: str = ""


class WindowsDataset:
    """Windows of many recordings (see the module doc).

    Args:
        sources: Recordings (``Source``, ``dataset.recordings.Recording`` or paths).
        spec: The windowing and preprocessing.
        augmentation: An ECVL signal augmentation applied by ``batches(..., rng=...)``.
        max_open: Files kept open at once.
        chunk: Seconds read (and filtered) at a time; windows are cut from these blocks.
        cache_bytes: Bytes of preprocessed blocks kept for random access (LRU).

    Raises:
        SignalError: Recordings disagree on rates (without ``spec.fs``) or lack a channel.
    """

    def __init__(self, sources: Sequence[Any], spec: WindowSpec, augmentation: Any = None,
                 max_open: int = 8, chunk: float = 120.0, cache_bytes: int = 64 << 20) -> None:  # fmt: skip
        self.spec = spec
        self.augmentation = augmentation
        self.max_open = max_open
        self.chunk = max(chunk, spec.length)
        self.sources = [_as_source(s) for s in sources]
        self._open: collections.OrderedDict[str, SignalFile] = collections.OrderedDict()
        self._cache: collections.OrderedDict[tuple[int, int], Signal] = collections.OrderedDict()
        self._cache_bytes = 0
        self.cache_bytes = cache_bytes
        self.durations: list[float] = []
        self.events: list[list[Annotation]] = []
        rec, start, label = [], [], []
        for k, src in enumerate(self.sources):
            h = self._file(src.path).header
            if self.spec.channels is None:
                self.spec.channels = tuple(h.channels)
            idx = [self._channel(h.channels, c, src.path) for c in self.spec.channels]
            rates = {float(h.fs[i]) for i in idx}
            if self.spec.fs is None:
                if len(rates) > 1:
                    raise SignalError(
                        f"{src.path}: channels at {sorted(rates)} Hz; set the window fs"
                    )
                self.spec.fs = rates.pop()
            dur = float(min(h.samples[i] / h.fs[i] for i in idx))
            evs = list(h.annotations) + list(src.events)
            s = window_starts(dur, spec.length, spec.step)
            rec.append(np.full(len(s), k, np.int32))
            start.append(s)
            label.append(
                window_labels(
                    s, spec.length, evs, spec.classes, spec.rule, spec.min_overlap
                ).astype(np.int8)
            )
            self.durations.append(dur)
            self.events.append(evs)
        self.rec = np.concatenate(rec) if rec else np.zeros(0, np.int32)
        self.start = np.concatenate(start) if start else np.zeros(0)
        self.labels = np.concatenate(label) if label else np.zeros(0, np.int8)
        self.n_samples = spec.samples(float(self.spec.fs or 1.0))

    # ------------------------------------------------------------------------------- files
    @staticmethod
    def _channel(names: list[str], want: str, path: str) -> int:
        if want in names:
            return names.index(want)
        low = [n.lower().replace("eeg ", "").split("-")[0].strip() for n in names]
        if want.lower() in low:
            return low.index(want.lower())
        raise SignalError(f"{path}: no channel {want!r} (channels: {names})")

    def _file(self, path: str) -> SignalFile:
        f = self._open.pop(path, None)
        if f is None:
            f = SignalOpen(path)
            while len(self._open) >= self.max_open:
                self._open.popitem(last=False)[1].close()
        self._open[path] = f
        return f

    def close(self) -> None:
        """Close every open file and drop the cached blocks."""
        self._cache.clear()
        self._cache_bytes = 0
        while self._open:
            self._open.popitem()[1].close()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def shape(self) -> tuple[int, int]:
        """The (channels, samples) shape of a window."""
        return (len(self.spec.channels or ()), self.n_samples)

    def class_counts(self) -> np.ndarray:
        """Windows per class."""
        return np.bincount(self.labels, minlength=len(self.spec.classes))

    # ------------------------------------------------------------------------------ reading
    def read_range(self, k: int, a: float, b: float) -> Signal:
        """Preprocessed samples of recording ``k`` between ``a`` and ``b`` seconds (no z-score)."""
        from deephealth.ecvl.signal import processing as P

        src = self.sources[k]
        sig = self._file(src.path).read(
            max(0.0, a), min(b, self.durations[k]), list(self.spec.channels or ())
        )
        fs = float(self.spec.fs or sig.fs_[0])
        if not sig.uniform or abs(sig.fs - fs) > 1e-9:
            sig = sig.resample(fs)
        if self.spec.bandpass is not None and sig.num_samples > 12:
            sig = P.bandpass(sig, *self.spec.bandpass)
        if self.spec.notch is not None and sig.num_samples > 12 and self.spec.notch < fs / 2:
            sig = P.notch(sig, self.spec.notch)
        return sig

    def _finish(self, w: np.ndarray) -> np.ndarray:
        if self.spec.normalize == "zscore":
            m = w.mean(axis=-1, keepdims=True)
            s = w.std(axis=-1, keepdims=True)
            w = (w - m) / np.maximum(s, 1e-6)
        return np.ascontiguousarray(w, dtype=np.float32)

    def _block(self, k: int, j: int) -> Signal:
        """Preprocessed block ``j`` of recording ``k``: the windows starting in
        ``[j·chunk, (j+1)·chunk)`` plus the filter margin, kept in a byte-bounded LRU cache."""
        key = (k, j)
        blk = self._cache.pop(key, None)
        if blk is None:
            blk = self.read_range(k, *self._block_range(j))
            self._cache_bytes += blk.data.nbytes
            while self._cache and self._cache_bytes > self.cache_bytes:
                self._cache_bytes -= self._cache.popitem(last=False)[1].data.nbytes
        self._cache[key] = blk
        return blk

    def window(self, i: int) -> np.ndarray:
        """Window ``i`` as a (C, L) float32 array."""
        k, s = int(self.rec[i]), float(self.start[i])
        sig = self._block(k, int(s // self.chunk))
        a = int(round((s - sig.offset) * sig.fs))
        w = sig.data[:, a : a + self.n_samples]
        if w.shape[1] != self.n_samples:
            raise SignalError(
                f"{self.sources[k].path}: window at {s:g} s has {w.shape[1]} of {self.n_samples} samples"
            )
        return self._finish(w)

    def batches(self, indices: Sequence[int], batch_size: int, rng: np.random.Generator | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:  # fmt: skip
        """Windows ``indices`` in the given order: ``(x (B, C, L), y (B,), indices)`` batches.

        With ``rng`` and an augmentation, each window is augmented with its own generator drawn
        from ``rng`` (replayable with the same seed).
        """
        from deephealth.ecvl.augment.signal import SignalArray

        idx = np.asarray(indices, dtype=np.int64)
        for a in range(0, len(idx), batch_size):
            part = idx[a : a + batch_size]
            xs = []
            for i in part:
                w = self.window(int(i))
                if self.augmentation is not None and rng is not None:
                    g = np.random.default_rng(int(rng.integers(0, 2**63 - 1)))
                    w, _ = self.augmentation.apply_arrays(
                        SignalArray(w, float(self.spec.fs or 1)), None, g
                    )
                    w = np.asarray(w, dtype=np.float32)
                xs.append(w)
            yield np.stack(xs), self.labels[part].astype(np.int64), part

    def sequential(self, batch_size: int, recordings: Sequence[int] | None = None
                   ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:  # fmt: skip
        """Every window of the recordings, in order, read ``chunk`` seconds at a time (the same
        blocks as ``window``, so both paths give identical windows)."""
        ks = range(len(self.sources)) if recordings is None else recordings
        buf_x: list[np.ndarray] = []
        buf_i: list[np.ndarray] = []
        n = 0
        for k in ks:
            sel = np.flatnonzero(self.rec == k)
            if not len(sel):
                continue
            blocks = (self.start[sel] // self.chunk).astype(np.int64)
            for j in np.unique(blocks):
                part = sel[blocks == j]
                sig = self.read_range(k, *self._block_range(j))
                w = self._finish(
                    epochs(sig.data, sig.fs, self.start[part], self.spec.length, sig.offset)
                )
                buf_x.append(w)
                buf_i.append(part)
                n += len(part)
                while n >= batch_size:
                    x, i = np.concatenate(buf_x), np.concatenate(buf_i)
                    yield (
                        x[:batch_size],
                        self.labels[i[:batch_size]].astype(np.int64),
                        i[:batch_size],
                    )
                    buf_x, buf_i, n = [x[batch_size:]], [i[batch_size:]], n - batch_size
        if n:
            x, i = np.concatenate(buf_x), np.concatenate(buf_i)
            yield x, self.labels[i].astype(np.int64), i

    def _block_range(self, j: int) -> tuple[float, float]:
        m = self.spec.margin if (self.spec.bandpass or self.spec.notch) else 0.0
        a = j * self.chunk
        return a - m, a + self.chunk + self.spec.length + m

    def balanced_indices(
        self, n: int, rng: np.random.Generator, balance: float = 0.5
    ) -> np.ndarray:
        """``n`` window indices for one epoch: a fraction ``balance`` from the event classes
        (equally per class present), the rest from the background; drawn with replacement for the
        rare classes, without for the background when it has enough windows."""
        pools = [np.flatnonzero(self.labels == c) for c in range(len(self.spec.classes))]
        present = [c for c in range(1, len(pools)) if len(pools[c])]
        n_ev = int(round(n * balance)) if present else 0
        out = []
        bg = pools[0] if len(pools[0]) else np.arange(len(self.labels))
        out.append(rng.choice(bg, n - n_ev, replace=len(bg) < n - n_ev))
        for j, c in enumerate(present):
            share = n_ev // len(present) + (1 if j < n_ev % len(present) else 0)
            out.append(rng.choice(pools[c], share, replace=True))
        idx = np.concatenate(out)
        rng.shuffle(idx)
        return idx


def _as_source(s: Any) -> Source:
    if isinstance(s, Source):
        return s
    if isinstance(s, str):
        return Source(s)
    if hasattr(s, "location"):
        return Source(s.location, list(getattr(s, "events", [])), getattr(s, "patient", ""))
    raise SignalError(f"not a recording: {s!r}")
