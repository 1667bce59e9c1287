"""Extracting the tiles of a patch dataset to disk, described by a DeepHealth dataset YAML.

When tiles should be stored rather than streamed (sharing, inspection, other tools), this writes
every listed tile of a :class:`PatchDataset` as a PNG (and, for segmentation, its label mask as
a PNG) under ``images/`` and ``masks/``, and a DeepHealth dataset file (``name``,
``description``, ``classes``, ``images`` with ``location`` and ``label``, ``split``) whose
locations are relative to it. Splits are chosen per slide so that tiles of one slide never land
in two splits.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from deephealth.ecvl.pathology.dataset import PatchDataset
from deephealth.ecvl.pathology.tiler import ordered_map

SPLITS = ("training", "validation", "test")


def extract_patches(
    dataset: PatchDataset,
    out_dir: str | os.PathLike[str],
    *,
    name: str = "patches",
    description: str = "",
    split: Mapping[str, str] | None = None,
    workers: int | None = None,
) -> Path:
    """Write the tiles of ``dataset`` as PNG files and a DeepHealth dataset YAML.

    Args:
        dataset: the patch dataset (its tiler, labels and ``transform`` are used; its order is
            the listing order, not shuffled).
        out_dir: output folder (created).
        name: dataset name, also the YAML file name (``<name>.yml``).
        description: free text stored in the YAML.
        split: slide path (as given in the dataset's sources) → ``"training"``,
            ``"validation"`` or ``"test"``; slides not listed go to training.
        workers: reader threads (default: the dataset's).

    Returns:
        The path of the YAML file.
    """
    import cv2
    import yaml

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    if dataset.target == "mask":
        (out / "masks").mkdir(exist_ok=True)
    split = dict(split or {})
    bad = sorted(set(split.values()) - set(SPLITS))
    if bad:
        raise ValueError(f"split values must be among {SPLITS}, got {bad}")
    stems = [Path(os.fspath(s.path)).stem for s in dataset.sources]
    images: list[dict[str, object]] = []
    parts: dict[str, list[int]] = {s: [] for s in SPLITS}
    for sample, (pixels, label) in ordered_map(
        dataset.read_sample, dataset.samples, workers or dataset.workers
    ):
        tile = sample.tile
        stem = f"{stems[sample.source]}_s{sample.source}_x{tile.x}_y{tile.y}"
        location = f"images/{stem}.png"
        if not cv2.imwrite(str(out / location), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)):
            raise OSError(f"cannot write tile '{out / location}'")
        entry: dict[str, object] = {"location": location}
        if dataset.target == "mask":
            mask_location = f"masks/{stem}.png"
            cv2.imwrite(str(out / mask_location), np.asarray(label, dtype=np.uint8))
            entry["label"] = mask_location
        else:
            entry["label"] = dataset.classes[int(label)]  # type: ignore[arg-type]
        parts[split.get(os.fspath(dataset.sources[sample.source].path), "training")].append(
            len(images)
        )
        images.append(entry)
    doc = {
        "name": name,
        "description": description
        or f"{len(images)} tiles from {len(stems)} slides ({dataset.tiler!r})",
        "classes": list(dataset.classes),
        "images": images,
        "split": {k: v for k, v in parts.items() if v},
    }
    path = out / f"{name}.yml"
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return path
