"""Writing a Dataset back to DeepHealth YAML (``Dataset.Dump``).

Locations become relative to the YAML file's folder when they lie beneath it (URLs stay as they
are); labels are written as class names, ground truths as paths, values as a feature mapping, so
the file reads back to the same dataset.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from deephealth.ecvl.dataset.remote import is_url

_DUMPER: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _rel(loc: str, root: str) -> str:
    if is_url(loc):
        return loc
    try:
        rel = os.path.relpath(loc, root)
    except ValueError:
        return loc
    return loc if rel.startswith("..") else rel.replace(os.sep, "/")


def _numbers(coords: list[float]) -> list[float | int]:
    return [int(c) if float(c).is_integer() else float(c) for c in coords]


def dataset_to_dict(ds: Any, root: str) -> dict[str, Any]:
    """A plain mapping of the dataset in DeepHealth format, locations relative to ``root``."""
    out: dict[str, Any] = {"name": ds.name_, "description": ds.description_}
    if ds.classes_:
        out["classes"] = list(ds.classes_)
    if ds.features_:
        specs = getattr(ds, "feature_specs_", [])
        out["features"] = [
            spec.as_dict() if spec.type != "text" else spec.name for spec in specs
        ] or list(ds.features_)
    images = []
    for s in ds.samples_:
        locs = [_rel(loc, root) for loc in s.location_]
        item: dict[str, Any] = {"location": locs[0] if len(locs) == 1 else locs}
        if s.label_ is not None:
            names = [ds.classes_[i] for i in s.label_]
            item["label"] = names[0] if len(names) == 1 else names
        elif s.label_path_ is not None:
            item["label"] = _rel(s.label_path_, root)
        if s.values_:
            item["values"] = {ds.features_[k]: v for k, v in sorted(s.values_.items())}
        if s.boxes_ is not None:
            item["boxes"] = [[*_numbers(c), ds.classes_[k]] for c, k in s.boxes_]
        images.append(item)
    out["images"] = images
    if ds.split_:
        out["split"] = {s.split_name_: list(s.samples_indices_) for s in ds.split_}
    return out


def dump_dataset(ds: Any, path: str | os.PathLike) -> None:
    """Write ``ds`` to ``path`` as YAML."""
    path = os.fspath(path)
    root = os.path.dirname(os.path.abspath(path))
    doc = dataset_to_dict(ds, root)
    with open(path, "w", encoding="utf-8") as f:
        # libyaml's emitter writes the same text as PyYAML's pure-Python one, ~10x faster
        yaml.dump(doc, f, Dumper=_DUMPER, sort_keys=False, default_flow_style=None)
