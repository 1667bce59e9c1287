"""The viewer pages: one dataset sample in the viewer its kind needs (volumes with NiiVue,
whole slides with OpenSeadragon, 2D images with their masks and boxes), and one test slide of a
slide training with its heat maps; the page's JavaScript (static/viewer*.js) asks
`/api/datasets/{id}/samples/{index}/view` (or `/api/jobs/{id}/slides/{index}/view`) what to load."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from deephealth.server.api import serialize
from deephealth.server.db.models import Dataset, Job
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
        view_url=f"/api/datasets/{dataset_id}/samples/{index}/view",
        **_vendored(),
    )


def _vendored() -> dict[str, bool]:
    return {
        "has_niivue": (VENDOR / "niivue.umd.js").is_file(),
        "has_osd": (VENDOR / "openseadragon" / "openseadragon.min.js").is_file(),
    }


@router.get("/jobs/{job_id}/slides/{index}", response_class=HTMLResponse)
def job_slide_page(
    job_id: int,
    index: int,
    request: Request,
    principal: Principal | None = Depends(optional_user),
    db: Session = Depends(get_db),
) -> Response:
    """One test slide of a slide training with its heat maps and predicted regions."""
    principal = _need_login(principal)
    job = get_in_project(db, principal.id, Job, job_id)
    return _render(
        request,
        "viewer.html",
        principal,
        job=serialize.job(job),
        index=index,
        view_url=f"/api/jobs/{job_id}/slides/{index}/view",
        **_vendored(),
    )


@router.get("/datasets/{dataset_id}/recordings/{index}", response_class=HTMLResponse)
def recording_page(
    dataset_id: int,
    index: int,
    request: Request,
    principal: Principal | None = Depends(optional_user),
    db: Session = Depends(get_db),
) -> Response:
    """One recording of a dataset in the trace viewer (static/trace.js)."""
    principal = _need_login(principal)
    ds = get_in_project(db, principal.id, Dataset, dataset_id)
    return _render(request, "trace.html", principal, dataset=serialize.dataset(ds), index=index)
