"""Downsampled series for drawing hours of signal: a min/max envelope per pixel column.

A trace viewer asks for ``[start, stop)`` seconds at ``width`` points; ``envelope`` reads only
that range (``SignalFile.read``), splits it into ``width`` equal bins per channel and returns each
bin's minimum and maximum, so spikes survive the reduction (plain decimation would drop them) and
the payload stays ``2 × width`` values per channel whatever the zoom level.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deephealth.ecvl.signal.io.base import SignalFile


def envelope(f: SignalFile, start: float, stop: float, width: int = 1000,
             channels: list[int | str] | None = None) -> dict[str, Any]:  # fmt: skip
    """Min/max envelope of a time range for display.

    Returns:
        ``{"start", "stop", "times" (width bin centres), "channels", "units", "min" and "max"
        (C × width lists), "annotations" (those overlapping the range)}``; when the range holds
        fewer samples than ``width``, the samples themselves (min = max).
    """
    stop = min(stop, f.header.duration)
    sig = f.read(start, stop, channels)
    if not sig.uniform:
        sig = sig.resample(float(max(sig.fs_)))
    x = sig.data
    n = x.shape[1]
    if n <= width:
        lo = hi = x
        times = sig.times()
    else:
        edges = np.linspace(0, n, width + 1).astype(np.int64)
        lo = np.minimum.reduceat(x, edges[:-1], axis=1)
        hi = np.maximum.reduceat(x, edges[:-1], axis=1)
        times = sig.offset + (edges[:-1] + edges[1:]) / 2 / sig.fs
    return {
        "start": start, "stop": stop, "times": np.round(times, 4).tolist(), "channels": sig.channels,
        "units": sig.units, "min": lo.round(3).tolist(), "max": hi.round(3).tolist(),
        "annotations": [{"onset": a.onset, "duration": a.duration, "label": a.label} for a in sig.annotations],
    }  # fmt: skip
