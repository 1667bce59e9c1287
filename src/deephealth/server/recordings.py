"""Recordings datasets on the server: load and validate a recordings YAML with ECVL, keep every
recording and annotation file inside the dataset's folders, describe the recordings (channels,
rates, duration, events, split) and serve min/max traces of any time range for the trace viewer.

A trace reads only the requested range (``deephealth.ecvl.signal.display``); when a column spans
many samples it is answered from the recording's overview (block min/max, built once in one
streaming pass and kept under ``DATA/cache/traces/``), so a 24 h recording stays fast and bounded
in memory at every zoom level.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from deephealth.server.uploads import UploadRejected

MAX_PROBLEMS_SHOWN = 5
MAX_WIDTH = 4000
SIGNAL_SUFFIXES = (".edf", ".bdf", ".hea", ".dat", ".atr", ".qrs", ".dcm", ".npz")
TEXT_SUFFIXES = (".csv", ".tsv")
_cache: dict[str, tuple[float, Any]] = {}
_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def is_recordings(yaml_path: Path) -> bool:
    """Whether a dataset YAML lists recordings (rather than images)."""
    from deephealth.ecvl.dataset.recordings import is_recordings_dataset

    return is_recordings_dataset(yaml_path)


def _redact(text: str, folder: Path) -> str:
    return text.replace(str(folder) + "/", "").replace(str(folder), ".")


def load(yaml_path: Path, check_files: bool = False) -> Any:
    """The decoded recordings dataset (cached while the YAML is unchanged).

    Raises:
        UploadRejected: (422) with every error (first ones) and its line when it is not valid.
    """
    from deephealth.ecvl.dataset.recordings import decode_recordings, validate_recordings
    from deephealth.ecvl.errors import EcvlError

    folder = yaml_path.parent
    try:
        if check_files:
            errors = [i for i in validate_recordings(yaml_path) if i.severity == "error"]
            if errors:
                shown = "; ".join(
                    _redact(f"line {i.line}: {i.message}", folder)
                    for i in errors[:MAX_PROBLEMS_SHOWN]
                )
                raise UploadRejected(
                    f"{yaml_path.name}: not a valid recordings dataset: {shown}", 422
                )
        mtime = yaml_path.stat().st_mtime
        with _guard:
            hit = _cache.get(str(yaml_path))
        if hit and hit[0] == mtime:
            return hit[1]
        rds = decode_recordings(yaml_path)
    except EcvlError as err:
        raise UploadRejected(
            f"{yaml_path.name}: not a valid recordings dataset: {_redact(str(err), folder)}", 422
        ) from None
    with _guard:
        if len(_cache) > 64:
            _cache.clear()
        _cache[str(yaml_path)] = (mtime, rds)
    return rds


def check_locations(rds: Any, roots: list[Path]) -> None:
    """Refuse recordings and annotation files outside `roots` (422, first problems listed)."""
    from deephealth.server.datasets import inside

    problems: list[str] = []
    for i, r in enumerate(rds.recordings):
        for loc in [r.location] + ([r.annotations_file] if r.annotations_file else []):
            if "://" in loc or not inside(Path(loc), roots):
                problems.append(
                    f"recording {i}: {Path(loc).name!r} is outside the dataset's folder"
                )
    if problems:
        raise UploadRejected("dataset refused: " + "; ".join(problems[:MAX_PROBLEMS_SHOWN]), 422)


def checked_stats(yaml_path: Path, roots: list[Path]) -> dict[str, Any]:
    """Validate a recordings dataset (files opened) inside `roots`; its statistics."""
    rds = load(yaml_path, check_files=True)
    check_locations(rds, roots)
    return stats(rds, yaml_path.parent)


def _open(location: str) -> Any:
    from deephealth.ecvl.signal.io import SignalOpen

    return SignalOpen(location)


def describe(rds: Any, base: Path) -> list[dict[str, Any]]:
    """One row per recording: name, patient, split, channels, rates, duration, event counts."""
    rows = []
    for k, r in enumerate(rds.recordings):
        with _open(r.location) as f:
            h = f.header
            own = list(h.annotations)
        # an event both in the file and in its annotations file counts once
        unique = {(round(a.onset, 3), round(a.duration, 3), a.label) for a in list(r.events) + own}
        counts = Counter(label for _, _, label in unique)
        rows.append({
            "index": k, "name": _rel(r.location, base), "patient": r.patient, "split": r.split,
            "channels": list(h.channels), "types": list(h.types),
            "fs": sorted({float(x) for x in h.fs}), "duration_s": round(h.duration, 3),
            "annotations": dict(counts), "annotation_count": sum(counts.values()),
        })  # fmt: skip
    return rows


def _rel(location: str, base: Path) -> str:
    p = Path(location)
    try:
        return p.relative_to(base).as_posix()
    except ValueError:
        return p.name


def stats(rds: Any, base: Path) -> dict[str, Any]:
    """What the dataset page shows: classes, recordings per split, event counts per split."""
    rows = describe(rds, base)
    splits: dict[str, int] = {}
    balance: dict[str, dict[str, int]] = {}
    for row in rows:
        s = row["split"] or "all"
        splits[s] = splits.get(s, 0) + 1
        b = balance.setdefault(s, {})
        for label, n in row["annotations"].items():
            if label in rds.classes:
                b[label] = b.get(label, 0) + n
    return {
        "kind": "recordings", "name": rds.name, "description": rds.description,
        "classes": list(rds.classes), "task": "signal_classification", "samples": len(rows),
        "splits": splits, "balance": balance, "has_masks": False,
        "duration_s": round(sum(r["duration_s"] for r in rows), 3),
        "channels": sorted({c for r in rows for c in r["channels"]}),
    }  # fmt: skip


def recording(rds: Any, index: int) -> Any:
    """Recording `index` of a dataset.

    Raises:
        IndexError: when there is none.
    """
    if not 0 <= index < len(rds.recordings):
        raise IndexError(index)
    return rds.recordings[index]


def _overview_dir(cache: Path, location: str) -> Path:
    st = Path(location).stat()
    key = f"{Path(location).resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return cache / hashlib.sha256(key.encode()).hexdigest()[:32]


def _overview(f: Any, cache: Path) -> Any:
    from deephealth.ecvl.signal.display import TraceOverview

    folder = _overview_dir(cache, f.path)
    if TraceOverview.exists(folder):
        return TraceOverview(folder)
    with _guard:
        lock = _locks.setdefault(str(folder), threading.Lock())
    with lock:  # one build per recording at a time; others wait for it
        if TraceOverview.exists(folder):
            return TraceOverview(folder)
        return TraceOverview.build(f, folder)


def parse_channels(text: str | None) -> list[int | str] | None:
    """`"0,2"` or `"Fp1,C3"` → channel indices or names (None: all)."""
    if not text:
        return None
    return [int(c) if c.strip().isdigit() else c.strip() for c in text.split(",") if c.strip()]


def trace(
    location: str,
    start: float,
    end: float | None,
    width: int,
    channels: list[int | str] | None,
    cache: Path,
    events: list[Any] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """Min/max envelope of `[start, end)` s of a recording at `width` columns, with the events in
    range (the recording's own and `events` from the dataset or a prediction).

    Raises:
        ValueError: bad range or width, unknown channel, unreadable recording (message says which).
    """
    from deephealth.ecvl.errors import EcvlError
    from deephealth.ecvl.signal.display import envelope, needs_overview

    if not math.isfinite(start) or (end is not None and math.isnan(end)):
        raise ValueError(f"start and end must be numbers of seconds, got {start}, {end}")
    if not 16 <= width <= MAX_WIDTH:
        raise ValueError(f"width must be 16..{MAX_WIDTH}, got {width}")
    t0 = time.perf_counter()
    try:
        with _open(location) as f:
            duration = f.header.duration
            stop = duration if end is None else min(end, duration)
            if start < 0 or stop <= start:
                raise ValueError(f"bad time range [{start}, {end}] (recording: {duration:.3f} s)")
            ov = _overview(f, cache) if needs_overview(f, start, stop, width) else None
            out = envelope(f, start, stop, width, channels, overview=ov)
    except EcvlError as err:
        raise ValueError(str(err).replace(str(Path(location).parent) + "/", "")) from None
    extra = [
        {"onset": e.onset, "duration": e.duration, "label": e.label,
         "source": getattr(e, "source", "dataset")}
        for e in events if e.onset + e.duration >= start and e.onset <= stop
    ]  # fmt: skip
    own = {(a["onset"], a["duration"], a["label"]) for a in out["annotations"]}
    for a in out["annotations"]:
        a["source"] = "recording"
    out["annotations"] += [e for e in extra if (e["onset"], e["duration"], e["label"]) not in own]
    out.update({"duration_s": duration, "overview": ov is not None,
                "elapsed_ms": round((time.perf_counter() - t0) * 1000, 1)})  # fmt: skip
    return out
