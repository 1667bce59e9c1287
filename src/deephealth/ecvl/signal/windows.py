"""Windowing: fixed-length epochs with overlap, and their labels from annotations.

``window_starts`` places windows of ``length`` seconds every ``step`` seconds (``step < length``
overlaps). ``window_labels`` gives each window a class from the annotations, by one of three
documented rules (an event of label L covers ``[onset, onset + duration)``; point events have a
duration of 0):

- ``any``: the window takes L when it overlaps any L event at all (also a point event inside it).
  Sensitive: the right choice for detection of short rare events (seizure onset windows).
- ``majority``: the window takes L when L events cover at least half of it (``min_overlap``
  changes the fraction). The classical sleep-staging / EEG-epoch rule.
- ``onset``: the window takes L when an L event starts inside it. For onset detection and beats.

When several labels qualify, the one listed first in ``classes`` after the background wins (so
list the rarest/most important first). Windows that qualify for none take class 0 (background).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deephealth.ecvl.signal.signal import Annotation, SignalError

RULES = ("any", "majority", "onset")


def window_starts(
    duration: float, length: float, step: float | None = None, start: float = 0.0
) -> np.ndarray:
    """Start times (s) of the windows that fit entirely in ``[start, duration)``."""
    step = length if step is None else step
    if length <= 0 or step <= 0:
        raise SignalError(f"window length and step must be positive, got {length}, {step}")
    n = int(np.floor((duration - start - length) / step + 1e-9)) + 1
    return start + np.arange(max(0, n)) * step


def window_labels(
    starts: np.ndarray,
    length: float,
    annotations: Sequence[Annotation],
    classes: Sequence[str],
    rule: str = "any",
    min_overlap: float = 0.5,
) -> np.ndarray:
    """Class index per window (0 = ``classes[0]``, the background).

    Args:
        starts: Window start times in seconds.
        length: Window length in seconds.
        annotations: Events of the recording.
        classes: Class names; ``classes[0]`` is the background, others are event labels.
        rule: ``any``, ``majority`` or ``onset`` (see the module doc).
        min_overlap: Fraction of the window events must cover for ``majority``.

    Raises:
        SignalError: Unknown rule.
    """
    if rule not in RULES:
        raise SignalError(f"label rule must be one of {RULES}, got {rule!r}")
    starts = np.asarray(starts, dtype=np.float64)
    ends = starts + length
    out = np.zeros(len(starts), dtype=np.int64)
    for k in range(len(classes) - 1, 0, -1):  # first-listed label wins: assign it last
        evs = [a for a in annotations if a.label == classes[k]]
        if not evs:
            continue
        on = np.array([a.onset for a in evs])
        off = np.array([a.end for a in evs])
        if rule == "onset":
            hit = ((on[None] >= starts[:, None]) & (on[None] < ends[:, None])).any(axis=1)
        else:
            ov = np.clip(
                np.minimum(off[None], ends[:, None]) - np.maximum(on[None], starts[:, None]),
                0,
                None,
            )
            if rule == "any":
                point_in = (
                    (off[None] == on[None])
                    & (on[None] >= starts[:, None])
                    & (on[None] < ends[:, None])
                )
                hit = ((ov > 0) | point_in).any(axis=1)
            else:
                hit = _union_cover(on, off, starts, ends) >= min_overlap * length - 1e-9
        out[hit] = k
    return out


def _union_cover(
    on: np.ndarray, off: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Seconds of each window covered by the union of the events (overlapping events count once)."""
    order = np.argsort(on)
    merged: list[list[float]] = []
    for a, b in zip(on[order], off[order]):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    m = np.array(merged)
    ov = np.minimum(m[None, :, 1], ends[:, None]) - np.maximum(m[None, :, 0], starts[:, None])
    return np.clip(ov, 0, None).sum(axis=1)


def epochs(
    x: np.ndarray, fs: float, starts: np.ndarray, length: float, offset: float = 0.0
) -> np.ndarray:
    """The windows of a ``(C, T)`` array as ``(N, C, L)`` (a strided view: no copy)."""
    n = int(round(length * fs))
    idx = np.round((np.asarray(starts) - offset) * fs).astype(np.int64)
    if len(idx) and (idx.min() < 0 or idx.max() + n > x.shape[1]):
        raise SignalError("a window lies outside the samples held")
    view = np.lib.stride_tricks.sliding_window_view(x, n, axis=1)  # (C, T-n+1, n)
    return np.moveaxis(view[:, idx], 0, 1)


def windows_to_events(
    scores: np.ndarray,
    starts: np.ndarray,
    length: float,
    threshold: float = 0.5,
    smooth: int = 1,
    min_duration: float = 0.0,
    merge_gap: float = 0.0,
) -> list[tuple[float, float, float]]:
    """Detected events ``(onset, end, peak score)`` of one recording (windows in time order)."""
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(starts, dtype=np.float64)
    if len(s) == 0:
        return []
    if smooth > 1:
        k = np.ones(smooth) / smooth
        s = np.convolve(
            np.pad(s, (smooth // 2, smooth - 1 - smooth // 2), mode="edge"), k, mode="valid"
        )
    on = s >= threshold
    runs: list[list[float]] = []
    i = 0
    while i < len(on):
        if on[i]:
            j = i
            while j + 1 < len(on) and on[j + 1]:
                j += 1
            a, b, peak = t[i], t[j] + length, float(s[i : j + 1].max())
            if runs and a - runs[-1][1] <= merge_gap:
                runs[-1][1] = max(runs[-1][1], b)
                runs[-1][2] = max(runs[-1][2], peak)
            else:
                runs.append([a, b, peak])
            i = j + 1
        else:
            i += 1
    return [(float(a), float(b), float(p)) for a, b, p in runs if b - a >= min_duration]
