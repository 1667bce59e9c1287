"""Synthetic patients with an image, clinical values and outcomes whose causes are known exactly.

Each patient has one phantom image (`synthetic.make_phantom`) holding a nodule whose radius is
drawn at random (the image finding), and clinical values: age, sex, a biomarker (missing for about
10 % of patients) and a diagnosis date. Two outcomes are generated from a linear predictor that
combines the image finding and the clinical values with the coefficients of `COEFFICIENTS`
(z-scores of radius, age and biomarker; sex adds a constant):

- ``score``: a follow-up score = 10 + eta + Gaussian noise (sd 0.5), for regression;
- ``months`` / ``event``: survival times drawn from an exponential model with hazard
  0.05 * exp(eta), censored by independent uniform follow-up of 6-36 months (about a third
  censored), for survival.

Neither modality alone explains the outcomes, so a fused model must beat both single-modality
baselines. The dataset YAML declares the feature schema (types, units, ranges, roles) and splits
by patient. Everything is seeded; the data are synthetic, not medical.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deephealth.pipelines.data import write_array
from deephealth.pipelines.synthetic import SyntheticError, make_phantom

# z-score coefficients of the linear predictor eta (radius is visible only in the image)
COEFFICIENTS = {"radius": 1.8, "age": 1.2, "biomarker": -1.0, "sex=M": 0.6}
RADIUS_RANGE = (0.06, 0.22)  # lesion radius as a fraction of the image side
AGE_RANGE = (40.0, 85.0)


def _z(value: np.ndarray, low: float, high: float) -> np.ndarray:
    """z-score of a uniform(low, high) variable."""
    return (value - (low + high) / 2) / ((high - low) / np.sqrt(12))


def generate_clinical_dataset(
    out_dir: str | Path,
    n_patients: int = 200,
    shape: Sequence[int] = (32, 32),
    split: Sequence[float] = (0.6, 0.2, 0.2),
    seed: int = 0,
    classes: bool = False,
) -> Path:
    """Write the images and the dataset YAML (see the module docstring).

    Args:
        classes: Also give each image a class, ``high`` when its score is above 10 (the score's
            mean before noise) and ``low`` otherwise (for ``multimodal_classification``).

    Returns:
        Path of `out_dir/dataset.yml`.

    Raises:
        SyntheticError: on too few patients or a bad split.
    """
    if n_patients < 10:
        raise SyntheticError("need at least 10 patients")
    if len(split) != 3 or any(f < 0 for f in split) or abs(sum(split) - 1) > 1e-6:
        raise SyntheticError(f"split must be three non-negative fractions summing to 1: {split}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    side = min(shape)
    radius = rng.uniform(*RADIUS_RANGE, n_patients)
    age = rng.uniform(*AGE_RANGE, n_patients).round()
    sex = rng.choice(["F", "M"], n_patients)
    biomarker = rng.normal(0, 1, n_patients).round(3)
    eta = (
        COEFFICIENTS["radius"] * _z(radius, *RADIUS_RANGE)
        + COEFFICIENTS["age"] * _z(age, *AGE_RANGE)
        + COEFFICIENTS["biomarker"] * biomarker
        + COEFFICIENTS["sex=M"] * (sex == "M")
    )
    score = 10 + eta + rng.normal(0, 0.5, n_patients)
    event_time = rng.exponential(1 / (0.05 * np.exp(eta)))
    follow_up = rng.uniform(6, 36, n_patients)
    months = np.minimum(event_time, follow_up).round(2)
    event = (event_time <= follow_up).astype(int)
    missing = rng.random(n_patients) < 0.1
    start = dt.date(2018, 1, 1)
    images: list[dict[str, Any]] = []
    for p in range(n_patients):
        img, _, _ = make_phantom(shape, "nodule", rng, radius=float(radius[p] * side))
        loc = f"images/p{p:04d}{'.png' if len(shape) == 2 else '.nii.gz'}"
        write_array(out / loc, (img * 255).round().astype(np.uint8) if len(shape) == 2 else img)
        values: dict[str, Any] = {
            "patient": f"p{p:04d}",
            "score": round(float(score[p]), 3),
            "months": float(months[p]),
            "event": int(event[p]),
        }
        label = {"label": "high" if score[p] > 10 else "low"} if classes else {}
        images.append({"location": loc, **label, "values": values})
    patients = {
        f"p{p:04d}": {
            "age": int(age[p]),
            "sex": str(sex[p]),
            **({} if missing[p] else {"biomarker": float(biomarker[p])}),
            "diagnosis": (start + dt.timedelta(days=int(rng.integers(0, 1000)))).isoformat(),
        }
        for p in range(n_patients)
    }
    order = np.random.default_rng(seed + 1).permutation(n_patients)
    bounds = np.cumsum([int(round(f * n_patients)) for f in split[:-1]])
    parts = np.split(order, bounds)
    doc = {
        "name": f"phantom-clinical-{len(shape)}d",
        "description": f"Synthetic patients (image + clinical values, seed {seed}); not medical.",
        **({"classes": ["low", "high"]} if classes else {}),
        "features": [
            {"name": "patient", "type": "id"},
            {"name": "age", "type": "numeric", "unit": "years", "min": 0, "max": 120},
            {"name": "sex", "type": "categorical", "values": ["F", "M"]},
            {"name": "biomarker", "type": "numeric", "unit": "z"},
            {"name": "diagnosis", "type": "date"},
            {"name": "score", "type": "numeric", "role": "target"},
            {"name": "months", "type": "numeric", "unit": "months", "role": "time", "min": 0},
            {"name": "event", "type": "categorical", "values": ["0", "1"], "role": "event"},
        ],
        "patients": patients,
        "images": images,
        "split": {
            name: sorted(int(i) for i in part)
            for name, part in zip(("training", "validation", "test"), parts)
        },
    }
    path = out / "dataset.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
