"""From window scores to events, and seizure-detection metrics as clinicians read them.

``windows_to_events`` (in :mod:`deephealth.ecvl.signal.windows`, so serving uses it too) turns per-window event probabilities into detected events: the scores are
smoothed with a moving average over ``smooth`` consecutive windows, windows above ``threshold``
are merged into runs (runs closer than ``merge_gap`` seconds join), and runs shorter than
``min_duration`` seconds are dropped. Each event spans its first window's start to its last
window's end.

``event_metrics`` scores detected events against the annotated ones (the "any-overlap" scoring
of the seizure-detection literature, e.g. Ziyabari et al. 2017): a true event is detected when a
detection overlaps it (widened by ``tolerance`` seconds on both sides); every detection that
overlaps no true event is a false alarm. Reported: event sensitivity, false alarms per 24 h of
recording, detection latency (detection start − event onset, ≥ 0, per detected event: mean and
median), and counts. ``split_event_metrics`` does so per event class over a split's recordings
(an event both in the recording file and in its annotations file counts once); the pipeline's
KPI report and the server's inference jobs both use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deephealth.ecvl.signal.windows import windows_to_events

__all__ = ["event_metrics", "split_event_metrics", "unique_events", "windows_to_events"]


def event_metrics(
    true_events: Sequence[Sequence[tuple[float, float]]],
    detections: Sequence[Sequence[tuple[float, ...]]],
    hours: float,
    tolerance: float = 0.0,
) -> dict[str, float | int | None]:
    """Event sensitivity, false alarms per 24 h and latency over several recordings.

    Args:
        true_events: Per recording, annotated events as ``(onset, end)``.
        detections: Per recording, detected events ``(onset, end, ...)``.
        hours: Total recorded hours (the false-alarm rate's denominator).
        tolerance: Seconds added on both sides of a true event when matching.
    """
    n_true = detected = false_alarms = 0
    latencies = []
    for truth, dets in zip(true_events, detections):
        n_true += len(truth)
        hit = np.zeros(len(dets), dtype=bool)
        for on, off in truth:
            matches = [
                k for k, d in enumerate(dets) if d[0] <= off + tolerance and d[1] >= on - tolerance
            ]
            if matches:
                detected += 1
                latencies.append(max(0.0, min(dets[k][0] for k in matches) - on))
                hit[matches] = True
        false_alarms += int((~hit).sum())
    return {
        "event_sensitivity": detected / n_true if n_true else None,
        "false_alarms_per_24h": false_alarms / hours * 24 if hours > 0 else None,
        "latency_mean_s": float(np.mean(latencies)) if latencies else None,
        "latency_median_s": float(np.median(latencies)) if latencies else None,
        "events": n_true,
        "detected_events": detected,
        "false_alarms": false_alarms,
        "hours": hours,
    }


def unique_events(events: Sequence[Any]) -> list[tuple[float, float, str]]:
    """``(onset, end, label)`` of annotations (``.onset``, ``.duration``, ``.label``), each event
    once (to the millisecond), sorted."""
    keys = {(round(e.onset, 3), round(e.duration, 3), e.label) for e in events}
    return sorted((on, round(on + d, 3), label) for on, d, label in keys)


def split_event_metrics(
    truth: Sequence[Sequence[Any]],
    detections: Sequence[Sequence[tuple[float, float, float, str]]],
    classes: Sequence[str],
    hours: float,
    tolerance: float = 0.0,
) -> dict[str, Any]:
    """:func:`event_metrics` of each event class (``events_<label>``) over a split's recordings,
    with the first event class's ``event_sensitivity``, ``false_alarms_per_24h`` and
    ``latency_mean_s`` at the top level.

    Args:
        truth: Per recording, its annotations (any labels; duplicates count once).
        detections: Per recording, detected events ``(onset, end, score, label)``.
        classes: The model's classes, background first.
        hours: Total recorded hours.
        tolerance: Seconds added on both sides of a true event when matching.
    """
    events = [unique_events(evs) for evs in truth]
    out: dict[str, Any] = {}
    for label in classes[1:]:
        true = [[(a, b) for a, b, lab in evs if lab == label] for evs in events]
        found = [[(d[0], d[1], d[2]) for d in det if d[3] == label] for det in detections]
        out[f"events_{label}"] = event_metrics(true, found, hours, tolerance)
    main = out[f"events_{classes[1]}"]
    out.update(
        {k: main[k] for k in ("event_sensitivity", "false_alarms_per_24h", "latency_mean_s")}
    )
    return out
