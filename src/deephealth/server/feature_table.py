"""The clinical values of a dataset for the front-end: the declared feature schema, a page of the
feature table (one row per sample or per patient) and each feature's distribution per split.

Everything comes from the parsed dataset YAML (a sample's values are text in `Sample.values_`,
its patient's values already merged in); images are never read. The distributions stream the
samples twice (value ranges, then counts) and keep per split and feature only fixed-size
counters: `bins` histogram counts for numeric values and dates (the same edges for every split,
so splits compare), up to `MAX_CATEGORIES` category counts (the rest counted as `(other)`), and
missing counts. Memory does not grow with the number of samples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from deephealth.ecvl.dataset.schema import FeatureSpec, parse_date
from deephealth.errors import ServerError

MAX_CATEGORIES = 30
OTHER = "(other)"
LEVELS = ("sample", "patient")


class FeatureTableError(ServerError, ValueError):
    """A request the feature table cannot answer (no such split, no patient id); names it."""


def specs(ds: Any) -> list[FeatureSpec]:
    """The declared features of a dataset (bare names are `text` features)."""
    declared = list(getattr(ds, "feature_specs_", None) or [])
    if declared:
        return declared
    return [FeatureSpec(name=str(n)) for n in ds.features_]


def schema(ds: Any) -> list[dict[str, Any]]:
    """Each feature's declaration: name, type, role, unit, allowed values, range, description."""
    return [
        {
            "name": s.name,
            "type": s.type,
            "role": s.role,
            "unit": s.unit,
            "values": list(s.values),
            "min": s.min,
            "max": s.max,
            "description": s.description,
        }
        for s in specs(ds)
    ]


def split_indices(ds: Any, split: str | None) -> list[int]:
    """The sample indices of `split` (all samples when None or empty).

    Raises:
        FeatureTableError: naming a split the dataset does not have.
    """
    if not split:
        return list(range(len(ds.samples_)))
    for s in ds.split_:
        if s.split_name_ == split:
            return list(s.samples_indices_)
    raise FeatureTableError(f"no split named {split!r}")


def _splits(ds: Any) -> dict[str, list[int]]:
    return {s.split_name_: list(s.samples_indices_) for s in ds.split_} or {
        "all": list(range(len(ds.samples_)))
    }


def sample_values(ds: Any, index: int) -> dict[str, str | None]:
    """The values of sample `index` by feature name (None where missing)."""
    raw = ds.samples_[index].values_ or {}
    return {name: raw.get(k) for k, name in enumerate(ds.features_)}


def _id_feature(ds: Any) -> str:
    for s in specs(ds):
        if s.type == "id":
            return s.name
    raise FeatureTableError(
        "the dataset declares no feature of type id, so its samples cannot be grouped by patient"
    )


def table(
    ds: Any, split: str | None = None, level: str = "sample", offset: int = 0, limit: int = 50
) -> dict[str, Any]:
    """One page of the feature table.

    Args:
        split: Only the samples of this split (all when None).
        level: `sample` (one row per sample) or `patient` (one row per patient: the first value
            of each feature among its samples, and how many samples it has).
        offset: First row of the page.
        limit: Rows per page (1-500).

    Returns:
        `{"level", "total", "offset", "columns", "rows"}`; a row is `{"index" (a sample's) or
        "patient", "samples" (a patient's count), "values": {feature: text or None}}`.

    Raises:
        FeatureTableError: an unknown split or level, or patients without an id feature.
    """
    if level not in LEVELS:
        raise FeatureTableError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    indices = split_indices(ds, split)
    offset, limit = max(0, offset), max(1, min(limit, 500))
    columns = [s.name for s in specs(ds)]
    if level == "sample":
        rows = [
            {"index": i, "values": sample_values(ds, i)} for i in indices[offset : offset + limit]
        ]
        return {"level": level, "total": len(indices), "offset": offset, "columns": columns,
                "rows": rows}  # fmt: skip
    key = _id_feature(ds)
    groups: dict[str, list[int]] = {}
    for i in indices:
        pid = sample_values(ds, i).get(key)
        groups.setdefault(pid if pid is not None else "(none)", []).append(i)
    rows = []
    for pid in list(groups)[offset : offset + limit]:
        merged: dict[str, str | None] = dict.fromkeys(columns)
        for i in groups[pid]:
            for name, v in sample_values(ds, i).items():
                if merged.get(name) is None and v is not None:
                    merged[name] = v
        rows.append({"patient": pid, "samples": len(groups[pid]), "values": merged})
    return {"level": level, "total": len(groups), "offset": offset, "columns": columns,
            "rows": rows}  # fmt: skip


def _number(spec: FeatureSpec, raw: str) -> float | None:
    """A numeric or date value as a number (dates: days since 1970-01-01), None if unreadable."""
    if spec.type == "date":
        d = parse_date(raw)
        return None if d is None else float((d - dt.date(1970, 1, 1)).days)
    try:
        v = float(raw)
    except ValueError:
        return None
    return v if v == v else None


def _values(ds: Any, indices: Iterable[int], k: int) -> Iterator[str | None]:
    for i in indices:
        yield (ds.samples_[i].values_ or {}).get(k)


def _edge_text(spec: FeatureSpec, v: float) -> float | str:
    if spec.type == "date":
        return (dt.date(1970, 1, 1) + dt.timedelta(days=round(v))).isoformat()
    return float(f"{v:.6g}")


def distributions(ds: Any, bins: int = 10) -> dict[str, Any]:
    """Each feature's distribution per split, streamed over the samples (see the module).

    Returns:
        `{"bins", "splits": {split: {"samples": n, "features": {name: entry}}}}`; an entry has
        `type`, `present` and `missing` counts and, for numeric and date features, `edges`
        (bins + 1, dates as ISO text) and `counts`; for categorical ones `categories`
        (value -> count, declared values first).
    """
    bins = max(1, min(int(bins), 50))
    all_specs = specs(ds)
    position = {name: k for k, name in enumerate(ds.features_)}
    splits = _splits(ds)
    numeric = [s for s in all_specs if s.type in ("numeric", "date")]
    ranges: dict[str, list[float]] = {}
    for spec in numeric:  # pass 1: the value range of every split together
        lo, hi = float("inf"), float("-inf")
        for raw in _values(ds, range(len(ds.samples_)), position[spec.name]):
            v = None if raw is None else _number(spec, raw)
            if v is not None:
                lo, hi = min(lo, v), max(hi, v)
        if lo <= hi:
            ranges[spec.name] = [lo, hi if hi > lo else lo + 1.0]
    out: dict[str, Any] = {}
    for split, indices in splits.items():  # pass 2: counts per split
        features: dict[str, Any] = {}
        for spec in all_specs:
            entry: dict[str, Any] = {"type": spec.type, "present": 0, "missing": 0}
            counts: dict[str, int] = {v: 0 for v in spec.values}
            hist = [0] * bins
            lo, hi = ranges.get(spec.name, [0.0, 1.0])
            for raw in _values(ds, indices, position[spec.name]):
                if raw is None or raw == "":
                    entry["missing"] += 1
                    continue
                entry["present"] += 1
                if spec.type in ("numeric", "date"):
                    v = _number(spec, raw)
                    if v is not None:
                        hist[min(bins - 1, int((v - lo) / (hi - lo) * bins))] += 1
                elif spec.type == "categorical":
                    key = raw if raw in counts or len(counts) < MAX_CATEGORIES else OTHER
                    counts[key] = counts.get(key, 0) + 1
            if spec.type in ("numeric", "date") and spec.name in ranges:
                step = (hi - lo) / bins
                entry["edges"] = [_edge_text(spec, lo + j * step) for j in range(bins + 1)]
                entry["counts"] = hist
            elif spec.type == "categorical":
                entry["categories"] = counts
            features[spec.name] = entry
        out[split] = {"samples": len(indices), "features": features}
    return {"bins": bins, "splits": out}
