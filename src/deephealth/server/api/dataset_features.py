"""A dataset's clinical values: the declared feature schema, pages of the feature table (per
sample or per patient) and each feature's distribution per split (histograms, category counts,
missing counts), computed here from the dataset YAML without reading any image
(`deephealth.server.feature_table`). Reading them is a dataset read: members only, audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy.orm import Session

from deephealth.server import feature_table
from deephealth.server.api.datasets import loaded
from deephealth.server.db.models import Dataset
from deephealth.server.deps import Principal, audit, get_db, require_user
from deephealth.server.permissions import get_in_project

router = APIRouter(tags=["datasets"])


@router.get("/api/datasets/{dataset_id}/features")
def read_features(
    dataset_id: int,
    request: Request,
    split: str | None = None,
    level: str = "sample",
    offset: int = 0,
    limit: int = 50,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """The feature schema and one page of the feature table (`level`: sample or patient)."""
    row = get_in_project(db, principal.id, Dataset, dataset_id)
    ds = loaded(row)
    try:
        page = feature_table.table(ds, split, level, offset, limit)
    except feature_table.FeatureTableError as err:
        raise HTTPException(404 if "split" in str(err) else 422, str(err)) from None
    audit(db, request, principal, "dataset.features", "dataset", row.id, row.project_id)
    db.commit()
    return {"schema": feature_table.schema(ds), **page}


@router.get("/api/datasets/{dataset_id}/features/distributions")
def read_distributions(
    dataset_id: int,
    bins: int = 10,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """Each feature's distribution per split (the same histogram edges for every split)."""
    row = get_in_project(db, principal.id, Dataset, dataset_id)
    ds = loaded(row)
    return {"schema": feature_table.schema(ds), **feature_table.distributions(ds, bins)}
