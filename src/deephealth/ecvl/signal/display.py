"""Downsampled series for drawing hours of signal: a min/max envelope per pixel column.

A trace viewer asks for ``[start, stop)`` seconds at ``width`` columns. Column ``j`` covers the
times ``[start + j·d, start + (j+1)·d)`` with ``d = (stop - start) / width``; for a channel at
``fs`` Hz that is the samples ``[e_j, e_{j+1})`` with ``e_j = round((start + j·d)·fs)``
(``column_edges``). Each column gets the minimum and maximum of its samples (NaN when it holds
none, as when zoomed in past the sampling rate), so spikes survive the reduction (plain decimation
would drop them) and the payload is ``2 × width`` values per channel at every zoom level.

Samples are read in chunks of at most ``CHUNK`` per channel, so memory stays bounded whatever the
range. For long ranges, :class:`TraceOverview` (min/max of blocks of 64 and 4096 samples per
channel, computed in one streaming pass and kept as memory-mapped ``.npy`` files) answers without
reading the recording: column edges are then snapped to block boundaries (a column spans at least
four blocks, so an edge moves by at most an eighth of a column) and the answer's ``edges`` say
which samples each column covers; min and max stay exact over those samples.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.ecvl.signal.io.base import SignalFile

CHUNK = 1 << 18  # samples per channel read at once (1 MiB per channel in float32)
LEVELS = (64, 4096)  # overview block sizes (samples)
MIN_BLOCKS_PER_COLUMN = 4  # a column uses an overview level when it spans >= 4 of its blocks
Reader = Callable[[int, int], np.ndarray]


def column_edges(start: float, stop: float, width: int, fs: float, samples: int) -> np.ndarray:
    """Sample index of each column edge (``width + 1`` values) of a channel at ``fs`` Hz."""
    t = start + (stop - start) * np.arange(width + 1) / width
    return np.clip(np.round(t * fs).astype(np.int64), 0, samples)


def reduce_columns(read: Reader, edges: np.ndarray, chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Min and max of ``read``'s samples between consecutive ``edges``, streamed in chunks.

    Args:
        read: ``read(first, count)`` → a (C, count) array of samples.
        edges: Non-decreasing sample indices (``W + 1`` values).
        chunk: Samples per channel read at once.

    Returns:
        (min, max), each (C, W) float32; NaN for columns without samples.
    """
    width = len(edges) - 1
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    for a in range(int(edges[0]), int(edges[-1]), chunk):
        b = min(a + chunk, int(edges[-1]))
        x = np.asarray(read(a, b - a), np.float32)
        if lo is None or hi is None:
            lo = np.full((x.shape[0], width), np.nan, np.float32)
            hi = np.full((x.shape[0], width), np.nan, np.float32)
        j0 = max(0, int(np.searchsorted(edges, a, "right")) - 1)
        j1 = min(width, int(np.searchsorted(edges, b, "left")))
        cut = np.clip(edges[j0 : j1 + 1], a, b) - a
        starts, ends = cut[:-1], cut[1:]
        full = ends > starts
        if not full.any():
            continue
        idx = np.minimum(starts, x.shape[1] - 1)
        cl = np.minimum.reduceat(x, idx, axis=1)
        ch = np.maximum.reduceat(x, idx, axis=1)
        # reduceat gives one sample for an empty column (equal neighbouring indices): mask it
        cl[:, ~full], ch[:, ~full] = np.nan, np.nan
        lo[:, j0:j1] = np.fmin(lo[:, j0:j1], cl)
        hi[:, j0:j1] = np.fmax(hi[:, j0:j1], ch)
    if lo is None or hi is None:
        return np.full((0, width), np.nan, np.float32), np.full((0, width), np.nan, np.float32)
    return lo, hi


@dataclass
class _Group:
    """Channels sharing one rate and length (read together)."""

    channels: list[int]
    fs: float
    samples: int


def _groups(f: SignalFile, idx: Sequence[int]) -> list[_Group]:
    h = f.header
    out: dict[tuple[float, int], _Group] = {}
    for i in idx:
        key = (float(h.fs[i]), int(h.samples[i]))
        out.setdefault(key, _Group([], key[0], key[1])).channels.append(int(i))
    return list(out.values())


def _reader(f: SignalFile, channels: list[int]) -> Reader:
    def read(first: int, count: int) -> np.ndarray:
        block = f._read_block(channels, first, count)
        if block is None:
            block = np.stack([f._read_samples(i, first, count) for i in channels])
        return block

    return read


class TraceOverview:
    """Block min/max of every channel at the ``LEVELS`` block sizes, stored in a folder.

    ``TraceOverview.build(f, folder)`` reads the recording once, chunk by chunk (memory: one
    chunk plus the 64-sample level, 1/32 of the recording's float32 samples), writing
    ``c<i>-L<block>.npy`` files of shape (2, blocks) (min, max); ``TraceOverview(folder)`` opens
    them memory-mapped.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / "overview.json").read_text())
        self._maps: dict[tuple[int, int], np.ndarray] = {}

    def level(self, channel: int, block: int) -> np.ndarray:
        """The (2, blocks) min/max array of one channel at one block size (memory-mapped)."""
        key = (channel, block)
        if key not in self._maps:
            self._maps[key] = np.load(self.folder / f"c{channel}-L{block}.npy", mmap_mode="r")
        return self._maps[key]

    @staticmethod
    def exists(folder: str | os.PathLike[str]) -> bool:
        """Whether a complete overview is stored in ``folder``."""
        return (Path(folder) / "overview.json").is_file()

    @classmethod
    def build(
        cls, f: SignalFile, folder: str | os.PathLike[str], chunk: int = CHUNK
    ) -> TraceOverview:
        """Compute and store the overview of ``f`` (atomically: a half-built one is never seen)."""
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=folder.name + ".tmp-"))
        try:
            chunk = max(LEVELS[-1], chunk // LEVELS[-1] * LEVELS[-1])
            for g in _groups(f, range(len(f.header.channels))):
                fine = LEVELS[0]
                edges = np.append(np.arange(0, g.samples, fine), g.samples)
                lo, hi = reduce_columns(_reader(f, g.channels), edges, chunk)
                for k, c in enumerate(g.channels):
                    np.save(tmp / f"c{c}-L{fine}.npy", np.stack([lo[k], hi[k]]))
                    for block in LEVELS[1:]:
                        step = block // fine
                        at = np.arange(0, lo.shape[1], step)
                        coarse = np.stack([np.minimum.reduceat(lo[k], at), np.maximum.reduceat(hi[k], at)])  # fmt: skip
                        np.save(tmp / f"c{c}-L{block}.npy", coarse)
            meta = {"levels": list(LEVELS), "channels": len(f.header.channels),
                    "samples": [int(n) for n in f.header.samples]}  # fmt: skip
            (tmp / "overview.json").write_text(json.dumps(meta))
            try:
                os.replace(tmp, folder)
            except OSError:  # another process built it first
                if not cls.exists(folder):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return cls(folder)


def _level_for(per_column: float) -> int | None:
    usable = [b for b in LEVELS if per_column >= MIN_BLOCKS_PER_COLUMN * b]
    return max(usable) if usable else None


def needs_overview(f: SignalFile, start: float, stop: float, width: int) -> bool:
    """Whether some channel's columns would span enough samples to read from an overview."""
    h = f.header
    stop = min(stop, h.duration)
    return any(_level_for((stop - start) * float(fs) / width) is not None for fs in h.fs)


def envelope_arrays(
    f: SignalFile,
    start: float,
    stop: float,
    width: int = 1000,
    channels: Sequence[int | str] | None = None,
    overview: TraceOverview | None = None,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Min/max per column and channel of ``[start, stop)`` seconds.

    Returns:
        (min, max, edges): (C, width) float32 arrays (NaN: no sample in the column) and, per
        channel, the ``width + 1`` sample indices its columns cover (snapped to overview blocks
        when the overview answered).
    """
    h = f.header
    idx = f._channel_indices(channels)
    stop = min(stop, h.duration)
    lo = np.full((len(idx), width), np.nan, np.float32)
    hi = np.full((len(idx), width), np.nan, np.float32)
    edges: list[np.ndarray] = [np.zeros(0, np.int64)] * len(idx)
    for g in _groups(f, idx):
        e = column_edges(start, stop, width, g.fs, g.samples)
        block = _level_for((stop - start) * g.fs / width) if overview is not None else None
        rows = [k for k, i in enumerate(idx) if i in g.channels]
        if block is None or overview is None:
            glo, ghi = reduce_columns(_reader(f, [idx[k] for k in rows]), e)
            for r, k in enumerate(rows):
                lo[k], hi[k], edges[k] = glo[r], ghi[r], e
            continue
        nblocks = -(-g.samples // block)
        b = np.round(e / block).astype(np.int64)
        b[-1] = nblocks if e[-1] >= g.samples else b[-1]
        b = np.clip(b, 0, nblocks)
        e_snap = np.minimum(b * block, g.samples)
        for k in rows:
            glo, ghi = reduce_columns(_slicer(overview.level(idx[k], block)), b)
            lo[k], hi[k], edges[k] = glo[0], ghi[1], e_snap
    return lo, hi, edges


def _slicer(arr: np.ndarray) -> Reader:
    def read(first: int, count: int) -> np.ndarray:
        return arr[:, first : first + count]

    return read


def _json_rows(x: np.ndarray, decimals: int = 4) -> list[list[float | None]]:
    r = np.round(x.astype(np.float64), decimals)
    rows: list[list[float | None]] = r.tolist()
    for k in np.flatnonzero(np.isnan(r).any(axis=1)):  # only rows with empty columns
        rows[k] = [None if v != v else v for v in rows[k]]
    return rows


def envelope(
    f: SignalFile,
    start: float,
    stop: float,
    width: int = 1000,
    channels: Sequence[int | str] | None = None,
    overview: TraceOverview | None = None,
) -> dict[str, Any]:
    """Min/max envelope of a time range for display (JSON-ready).

    Returns:
        ``{"start", "stop", "width", "times" (column centres, s), "channels", "units", "fs",
        "min" and "max" (C × width lists, None where a column holds no sample), "annotations"
        (the recording's own events overlapping the range)}``.
    """
    h = f.header
    idx = f._channel_indices(channels)
    stop = min(stop, h.duration)
    lo, hi, _ = envelope_arrays(f, start, stop, width, idx, overview)
    centres = start + (stop - start) * (np.arange(width) + 0.5) / width
    anns = [a for a in h.annotations if a.end >= start and a.onset <= stop]
    return {
        "start": start, "stop": stop, "width": width, "times": np.round(centres, 4).tolist(),
        "channels": [h.channels[i] for i in idx], "units": [h.units[i] for i in idx],
        "fs": [float(h.fs[i]) for i in idx], "min": _json_rows(lo), "max": _json_rows(hi),
        "annotations": [{"onset": a.onset, "duration": a.duration, "label": a.label} for a in anns],
    }  # fmt: skip
