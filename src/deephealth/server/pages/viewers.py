"""The sample viewer page: one dataset sample in the viewer its kind needs (volumes with NiiVue,
whole slides with OpenSeadragon, 2D images with their masks and boxes); the page's JavaScript
(static/viewer*.js) asks `/api/datasets/{id}/samples/{index}/view` what to load."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from deephealth.server.api import serialize
from deephealth.server.db.models import Dataset
from deephealth.server.deps import Principal, get_db, optional_user
from deephealth.server.pages.routes import _need_login, _render
from deephealth.server.permissions import get_in_project

router = APIRouter(include_in_schema=False)
VENDOR = Path(__file__).resolve().parent / "static" / "vendor"


@router.get("/datasets/{dataset_id}/samples/{index}", response_class=HTMLResponse)
def sample_page(
    dataset_id: int,
    index: int,
    request: Request,
    principal: Principal | None = Depends(optional_user),
    db: Session = Depends(get_db),
) -> Response:
    """One sample of a dataset in its viewer."""
    principal = _need_login(principal)
    ds = get_in_project(db, principal.id, Dataset, dataset_id)
    return _render(
        request,
        "viewer.html",
        principal,
        dataset=serialize.dataset(ds),
        index=index,
        has_niivue=(VENDOR / "niivue.umd.js").is_file(),
        has_osd=(VENDOR / "openseadragon" / "openseadragon.min.js").is_file(),
    )
