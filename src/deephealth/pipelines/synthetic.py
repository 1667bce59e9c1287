"""Synthetic phantoms with lesions of known type, size and position, for tests and examples.

A phantom is an "organ" (a textured ellipse or ellipsoid on a dark background, with noise) that may
hold one lesion: a bright solid `nodule` or a dark `cyst` (a disk in 2D, a sphere in 3D) whose
radius and centre are drawn at random and recorded. `generate_dataset` writes a whole DeepHealth
dataset (images, masks, and the dataset YAML with patient, lesion type, radius and centre as
features, split by patient) for classification (class = lesion type), segmentation (mask = lesion)
or detection (several lesions per image, each with its box and class), 2D as PNG and 3D as NIfTI,
through ECVL's writers. Everything is seeded, so the truth is known
exactly and quality can be asserted with thresholds. The data are synthetic, not medical images.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deephealth.errors import PipelineError
from deephealth.pipelines.data import write_array

LESION_TYPES: tuple[str, ...] = ("normal", "nodule", "cyst")
"""Lesion types; "normal" has no lesion. They are the classes of a classification phantom set."""

TASKS = ("classification", "segmentation", "detection")


class SyntheticError(PipelineError, ValueError):
    """Invalid arguments to the phantom generator."""


def _grid(shape: Sequence[int]) -> list[np.ndarray]:
    return np.meshgrid(*[np.arange(s, dtype=np.float32) for s in shape], indexing="ij")


def _smooth_noise(shape: Sequence[int], rng: np.random.Generator, cells: int = 4) -> np.ndarray:
    """Low-frequency texture in [0, 1]: coarse random grid upsampled with linear interpolation."""
    from scipy import ndimage

    coarse = rng.random([cells] * len(shape)).astype(np.float32)
    zoom = [s / cells for s in shape]
    return ndimage.zoom(coarse, zoom, order=1, mode="nearest")[tuple(slice(0, s) for s in shape)]


def make_phantom(
    shape: Sequence[int],
    lesion_type: str,
    rng: np.random.Generator,
    radius: float | None = None,
    center: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """One phantom image (2D or 3D) and its lesion mask.

    Args:
        shape: Spatial shape in numpy order, (H, W) or (D, H, W).
        lesion_type: One of `LESION_TYPES`.
        rng: Random generator (the phantom is a function of its state).
        radius: Lesion radius in pixels; drawn in [0.1, 0.18] × the smallest side when None.
        center: Lesion centre (numpy order); drawn inside the organ when None.

    Returns:
        (image float32 in [0, 1], mask uint8 with the lesion = 1, info dict with `lesion_type`,
        `radius` and `center`; radius 0 and center None for "normal").

    Raises:
        SyntheticError: for an unknown lesion type or a shape that is not 2D/3D of side >= 16.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (2, 3) or min(shape) < 16:
        raise SyntheticError(f"phantom shape must be 2D or 3D with sides >= 16, got {list(shape)}")
    if lesion_type not in LESION_TYPES:
        raise SyntheticError(f"unknown lesion type {lesion_type!r}; use one of {LESION_TYPES}")
    grid = _grid(shape)
    half = np.array(shape, dtype=np.float32) / 2
    semi = half * rng.uniform(0.7, 0.9, len(shape))
    organ_c = half + rng.uniform(-0.05, 0.05, len(shape)) * np.array(shape)
    organ = sum(((g - c) / a) ** 2 for g, c, a in zip(grid, organ_c, semi)) <= 1.0
    level = rng.uniform(0.4, 0.5)
    img = np.where(organ, level + 0.15 * (_smooth_noise(shape, rng) - 0.5), 0.08)
    mask = np.zeros(shape, dtype=np.uint8)
    info: dict[str, Any] = {"lesion_type": lesion_type, "radius": 0.0, "center": None}
    if lesion_type != "normal":
        r = float(radius) if radius is not None else float(rng.uniform(0.1, 0.18) * min(shape))
        if center is None:
            # inside the organ, at least r from its border
            offset = rng.uniform(-1, 1, len(shape))
            offset /= max(1.0, float(np.sqrt((offset**2).sum())))
            c = organ_c + offset * np.maximum(semi - r, 0) * 0.8
        else:
            c = np.asarray(center, dtype=np.float32)
        lesion = sum((g - ci) ** 2 for g, ci in zip(grid, c)) <= r * r
        img = np.where(lesion, level + (0.35 if lesion_type == "nodule" else -0.22), img)
        mask[lesion] = 1
        info.update(radius=round(r, 3), center=[round(float(v), 3) for v in c])
    img = img + rng.normal(0, 0.03, shape)
    return np.clip(img, 0, 1).astype(np.float32), mask, info


def make_lesions_phantom(
    shape: Sequence[int],
    rng: np.random.Generator,
    lesion_types: Sequence[str] = ("nodule",),
    count: tuple[int, int] = (1, 4),
    radius: tuple[float, float] = (0.05, 0.1),
    diameter_px: tuple[float, float] | None = None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """A phantom with several lesions (detection): the organ of `make_phantom` with between
    `count[0]` and `count[1]` non-overlapping lesions of random types, radii (a fraction of the
    smallest side drawn in `radius`, or a diameter in pixels/voxels drawn in `diameter_px`, e.g.
    3–30 mm nodules in a 1 mm CT phantom) and centres in the middle of the image.

    Returns:
        (image float32 in [0, 1], one dict per lesion with `lesion_type`, `radius`, `center`
        (numpy order) and `box` (corner box [x0, y0, (z0,) x1, y1, (z1)] in pixel edges, clipped
        to the image)).
    """
    img, _, _ = make_phantom(shape, "normal", rng)
    grid = _grid(shape)
    dims = np.array(shape, dtype=np.float32)
    lesions: list[dict[str, Any]] = []
    n = int(rng.integers(count[0], count[1] + 1))
    for _ in range(50 * n):
        if len(lesions) == n:
            break
        if diameter_px is not None:
            r = float(rng.uniform(*diameter_px)) / 2
        else:
            r = float(rng.uniform(*radius) * min(shape))
        c = dims * rng.uniform(0.22, 0.78, len(shape))
        if any(np.linalg.norm(c - np.array(o["center"])) < r + o["radius"] + 2 for o in lesions):
            continue
        kind = str(lesion_types[int(rng.integers(len(lesion_types)))])
        inside = sum((g - ci) ** 2 for g, ci in zip(grid, c)) <= r * r
        level = float(np.median(img[inside]))
        img = np.where(inside, level + (0.35 if kind == "nodule" else -0.22), img)
        xyz = c[::-1]
        box = [*np.maximum(xyz - r, 0), *np.minimum(xyz + r, dims[::-1])]
        lesions.append({"lesion_type": kind, "radius": round(r, 3),
                        "center": [round(float(v), 3) for v in c],
                        "box": [round(float(v), 2) for v in box]})  # fmt: skip
    img = img + rng.normal(0, 0.02, shape)
    return np.clip(img, 0, 1).astype(np.float32), lesions


def _split_patients(
    n_patients: int, fractions: Sequence[float], rng: np.random.Generator
) -> list[list[int]]:
    order = rng.permutation(n_patients)
    counts = [int(round(f * n_patients)) for f in fractions[:-1]]
    bounds = np.cumsum(counts)
    return [sorted(part.tolist()) for part in np.split(order, bounds)]


def generate_dataset(
    out_dir: str | Path,
    task: str = "classification",
    n_patients: int = 60,
    images_per_patient: int = 1,
    shape: Sequence[int] = (64, 64),
    lesion_types: Sequence[str] | None = None,
    split: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    name: str | None = None,
) -> Path:
    """Write a phantom dataset and its DeepHealth dataset YAML.

    Classification: the class of an image is its lesion type; each patient has one lesion type,
    assigned in turn so the classes are balanced. Segmentation: the label of an image is its mask
    (`masks/*.png` or `.nii.gz`, lesion = 255 in 2D, 1 in 3D); "normal" is left out by default.
    Detection: several lesions per image (`make_lesions_phantom`), as `boxes` with their class.

    Args:
        out_dir: Folder to write into (created).
        task: "classification" or "segmentation".
        n_patients: Number of patients.
        images_per_patient: Images per patient (same lesion type, new position and size).
        shape: Spatial shape, (H, W) for 2D PNG or (D, H, W) for 3D NIfTI.
        lesion_types: Subset of `LESION_TYPES` to draw from (all for classification; nodule and
            cyst for segmentation when None).
            Detection: each image holds 1 to 4 lesions of these types (nodule and cyst by
            default), with their boxes and classes in the YAML.
        split: Fractions of patients for training, validation and test.
        seed: Random seed.
        name: Dataset name (default "phantom-<task>-<2d|3d>").

    Returns:
        Path of the dataset YAML (`out_dir/dataset.yml`).

    Raises:
        SyntheticError: on an unknown task or lesion type, too few patients, or a bad split.
    """
    if task not in TASKS:
        raise SyntheticError(f"unknown task {task!r}; use one of {TASKS}")
    types = list(lesion_types or (LESION_TYPES if task == "classification" else LESION_TYPES[1:]))
    if task == "detection" and "normal" in types:
        raise SyntheticError("detection phantoms hold lesions: 'normal' is not a lesion type")
    bad = [t for t in types if t not in LESION_TYPES]
    if bad:
        raise SyntheticError(f"unknown lesion types {bad}; use some of {LESION_TYPES}")
    if len(split) != 3 or any(f < 0 for f in split) or abs(sum(split) - 1) > 1e-6:
        raise SyntheticError(
            f"split must be three non-negative fractions summing to 1, got {split}"
        )
    if n_patients < 3 or images_per_patient < 1:
        raise SyntheticError("need at least 3 patients and 1 image per patient")
    out = Path(out_dir)
    dims = len(shape)
    ext = ".png" if dims == 2 else ".nii.gz"
    (out / "images").mkdir(parents=True, exist_ok=True)
    if task == "segmentation":
        (out / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images: list[dict[str, Any]] = []
    patient_of: list[int] = []
    for p in range(n_patients):
        lesion = types[p % len(types)]
        for k in range(images_per_patient):
            if task == "detection":
                img, found = make_lesions_phantom(shape, rng, types)
                mask, info = np.zeros(shape, np.uint8), {"lesion_type": "", "radius": 0,
                                                         "center": None}  # fmt: skip
            else:
                img, mask, info = make_phantom(shape, lesion, rng)
            stem = f"p{p:03d}_{k}"
            loc = f"images/{stem}{ext}"
            scale = 255 if dims == 2 else 1
            write_array(out / loc, (img * 255).round().astype(np.uint8) if dims == 2 else img)
            entry: dict[str, Any] = {"location": loc}
            if task == "classification":
                entry["label"] = types.index(lesion)
            elif task == "detection":
                entry["boxes"] = [[*o["box"], o["lesion_type"]] for o in found]
                info["lesion_type"] = " ".join(o["lesion_type"] for o in found)
            else:
                gt = f"masks/{stem}{ext}"
                write_array(out / gt, mask * scale)
                entry["label"] = gt
            entry["values"] = {
                "patient": f"p{p:03d}",
                "lesion_type": info["lesion_type"],
                "radius": info["radius"],
                "center": " ".join(str(v) for v in info["center"] or []),
            }
            images.append(entry)
            patient_of.append(p)
    parts = _split_patients(n_patients, split, np.random.default_rng(seed + 1))
    split_map = {
        key: [i for i, p in enumerate(patient_of) if p in set(part)]
        for key, part in zip(("training", "validation", "test"), parts)
    }
    doc = {
        "name": name or f"phantom-{task}-{dims}d",
        "description": f"Synthetic phantoms ({task}, {dims}D, seed {seed}); not medical images.",
        "classes": types if task != "segmentation" else [],
        "features": ["patient", "lesion_type", "radius", "center"],
        "images": images,
        "split": split_map,
    }
    path = out / "dataset.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
