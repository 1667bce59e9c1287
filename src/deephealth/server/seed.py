"""Default rows every server starts with: model families from the zoo and hyper-parameter
definitions (general defaults and allowed values, matching the pipelines config schema)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from deephealth.server.db.models import HyperParameter, ModelFamily

# name, kind, default, allowed values, minimum, maximum (names are pipelines config keys)
DEFAULT_HYPERPARAMETERS: list[tuple[str, str, Any, list | None, float | None, float | None]] = [
    ("epochs", "int", 10, None, 1, 1000),
    ("batch_size", "int", 8, None, 1, 1024),
    ("lr", "float", 1e-3, None, 1e-7, 1.0),
    ("optimizer", "choice", "adam", ["adam", "adamw", "sgd", "rmsprop"], None, None),
    ("normalize", "choice", "minmax", ["minmax", "zscore", "divby255", "none"], None, None),
    ("seed", "int", 0, None, 0, 2**31 - 1),
]

# per-family definitions of the 1D signal networks (signal_classification config keys)
SIGNAL_HYPERPARAMETERS: list[tuple[str, str, Any, list | None, float | None, float | None]] = [
    ("windows_per_epoch", "int", 2000, None, 16, 1_000_000),
    ("window_length", "float", 2.0, None, 0.1, 600.0),
]


def zoo_families() -> list[tuple[str, str, str]]:
    """(name, task, description) of every network in `deephealth.eddl.zoo`.

    Classifier networks serve classification and regression projects, dense ones segmentation.
    """
    from deephealth.eddl.zoo import MODELS

    out = []
    for name, (ctor, kind) in MODELS.items():
        task = "segmentation" if kind == "dense" else "classification"
        doc = (ctor.__doc__ or "").strip().splitlines()
        out.append((name, task, doc[0] if doc else ""))
    return out


def seed_defaults(db: Session) -> None:
    """Insert missing zoo families and general hyper-parameter definitions (idempotent)."""
    known = set(db.scalars(select(ModelFamily.name)))
    for name, task, doc in zoo_families():
        if name not in known:
            db.add(ModelFamily(name=name, task=task, description=doc))
    general = set(
        db.scalars(
            select(HyperParameter.name).where(
                HyperParameter.family_id.is_(None), HyperParameter.dataset_id.is_(None)
            )
        )
    )
    for name, kind, default, allowed, lo, hi in DEFAULT_HYPERPARAMETERS:
        if name not in general:
            db.add(
                HyperParameter(
                    name=name, kind=kind, default=default, allowed=allowed, minimum=lo, maximum=hi
                )
            )
    _seed_signal_definitions(db)
    db.commit()


def _seed_signal_definitions(db: Session) -> None:
    from deephealth.eddl.zoo import MODELS

    db.flush()
    for fam in db.scalars(select(ModelFamily)):
        entry = MODELS.get(fam.name.lower())
        if entry is None or entry[1] != "signal":
            continue
        have = set(
            db.scalars(select(HyperParameter.name).where(HyperParameter.family_id == fam.id))
        )
        for name, kind, default, allowed, lo, hi in SIGNAL_HYPERPARAMETERS:
            if name not in have:
                db.add(HyperParameter(name=name, kind=kind, default=default, allowed=allowed,
                                      minimum=lo, maximum=hi, family_id=fam.id))  # fmt: skip
