"""Datasets on the server: load a DeepHealth YAML with ECVL, keep it inside its allowed folders,
and compute what the dataset page shows (class balance, split sizes, samples).

Every location in a dataset (images and ground-truth masks) must be a file inside the dataset's
own folder (an uploaded zip's extraction folder, or the admin-approved folder it was registered
from): URLs and paths leading elsewhere are refused, so a dataset cannot make the server read or
fetch anything else.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from deephealth.server.uploads import UploadRejected

MAX_PROBLEMS_SHOWN = 5


def load(yaml_path: Path) -> Any:
    """The ECVL `Dataset` of a YAML file.

    Raises:
        UploadRejected: (422) with ECVL's message when the file is not a valid dataset.
    """
    from deephealth.ecvl.dataset.dataset import Dataset
    from deephealth.ecvl.errors import EcvlError

    try:
        return Dataset(str(yaml_path))
    except EcvlError as err:
        folder = str(yaml_path.parent)
        message = str(err).replace(folder + "/", "").replace(folder, ".")
        raise UploadRejected(
            f"{yaml_path.name}: not a valid DeepHealth dataset: {message}", 422
        ) from None


def inside(path: Path, roots: list[Path]) -> bool:
    """Whether `path` (resolved, links followed) lies inside one of `roots`."""
    resolved = path.resolve()
    return any(resolved == r or r in resolved.parents for r in roots)


def check_locations(ds: Any, base: Path, roots: list[Path]) -> None:
    """Refuse URLs, missing files and files outside `roots` (422, first problems listed)."""
    problems: list[str] = []
    for i, sample in enumerate(ds.samples_):
        paths = list(sample.location_) + ([sample.label_path_] if sample.label_path_ else [])
        for loc in paths:
            if "://" in loc:
                problems.append(f"sample {i}: URL {loc!r} (the server fetches nothing)")
                continue
            p = Path(loc) if Path(loc).is_absolute() else base / loc
            if not inside(p, roots):
                problems.append(f"sample {i}: {loc!r} is outside the dataset's folder")
            elif not p.is_file():
                problems.append(f"sample {i}: file {loc!r} not found")
        if len(problems) >= MAX_PROBLEMS_SHOWN:
            break
    if problems:
        raise UploadRejected("dataset refused: " + "; ".join(problems[:MAX_PROBLEMS_SHOWN]), 422)


def stats(ds: Any) -> dict:
    """Class names, sample count, split sizes and class balance per split."""
    classes = list(ds.classes_)
    splits = {s.split_name_: list(s.samples_indices_) for s in ds.split_} or {
        "all": list(range(len(ds.samples_)))
    }
    balance: dict[str, dict[str, int]] = {}
    for name, indices in splits.items():
        counts: Counter[str] = Counter()
        for i in indices:
            label = ds.samples_[i].label_
            if label:
                for lab in label:
                    counts[classes[lab] if 0 <= lab < len(classes) else str(lab)] += 1
            elif ds.samples_[i].label_path_:
                counts["(mask)"] += 1
            else:
                counts["(unlabelled)"] += 1
        balance[name] = dict(counts)
    return {
        "name": ds.name_,
        "description": ds.description_,
        "classes": classes,
        "task": ds.task_.name,
        "samples": len(ds.samples_),
        "splits": {name: len(ix) for name, ix in splits.items()},
        "balance": balance,
        "has_masks": any(s.label_path_ for s in ds.samples_),
    }


def sample_files(ds: Any, base: Path, index: int) -> tuple[Path, Path | None, list[str]]:
    """The image file, mask file (or None) and label names of sample `index`.

    Raises:
        IndexError: when there is no such sample.
    """
    if not 0 <= index < len(ds.samples_):
        raise IndexError(index)
    sample = ds.samples_[index]

    def _abs(loc: str) -> Path:
        p = Path(loc)
        return p if p.is_absolute() else base / p

    labels = [ds.classes_[i] if 0 <= i < len(ds.classes_) else str(i) for i in sample.label_ or []]
    mask = _abs(sample.label_path_) if sample.label_path_ else None
    return _abs(sample.location_[0]), mask, labels


def find_yaml(folder: Path) -> Path:
    """The single dataset YAML at the top of `folder` (or one level below, as zips often have).

    Raises:
        UploadRejected: (422) when there is none or more than one.
    """
    for depth in ("*", "*/*"):
        found = [p for p in sorted(folder.glob(depth)) if p.suffix.lower() in (".yml", ".yaml")]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(str(p.relative_to(folder)) for p in found)
            raise UploadRejected(f"more than one dataset YAML ({names}); keep one", 422)
    raise UploadRejected("no dataset YAML (.yml/.yaml) found", 422)
