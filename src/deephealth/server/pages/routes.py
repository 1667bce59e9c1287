"""Page routes: each renders a Jinja2 template with the objects the caller may see; the pages'
JavaScript (static/app.js) then talks to the JSON API with the session's CSRF token.

Pages need a login (else a redirect to /login); objects outside the caller's projects answer the
same 404 page whether they exist or not.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from deephealth.server.api import serialize
from deephealth.server.db.models import Dataset, Job, ModelWeights
from deephealth.server.deps import Principal, get_db, optional_user
from deephealth.server.jobs.runner import describe
from deephealth.server.permissions import get_in_project, get_project, role_of

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


def _render(request: Request, name: str, principal: Principal | None, **ctx: object) -> Response:
    ctx["user"] = serialize.user(principal.user) if principal else None
    ctx["csrf"] = principal.session.csrf_token if principal and principal.session else ""
    response = templates.TemplateResponse(request, name, ctx)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        "script-src 'self'; frame-src 'self'; connect-src 'self'; frame-ancestors 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _need_login(principal: Principal | None) -> Principal:
    if principal is None:
        raise HTTPException(307, headers={"Location": "/login"})
    return principal


@router.get("/", response_class=HTMLResponse)
def home(request: Request, principal: Principal | None = Depends(optional_user)) -> Response:
    """The project list (or the login page)."""
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    from deephealth.server.tasks import task_names

    return _render(request, "projects.html", principal, tasks=task_names())


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, principal: Principal | None = Depends(optional_user)) -> Response:
    """Log in or sign up."""
    return _render(request, "login.html", principal)


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, principal: Principal | None = Depends(optional_user)) -> Response:
    """The caller's API tokens."""
    return _render(request, "tokens.html", _need_login(principal))


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_page(
    project_id: int,
    request: Request,
    principal: Principal | None = Depends(optional_user),
    db: Session = Depends(get_db),
) -> Response:
    """A project: datasets, models, trainings, inferences, members."""
    principal = _need_login(principal)
    project = get_project(db, principal.id, project_id)
    role = role_of(db, principal.id, project_id)
    from deephealth.pipelines.config import CLINICAL_TASKS

    return _render(
        request, "project.html", principal, project=serialize.project(project, role),
        clinical=project.task in CLINICAL_TASKS,
    )  # fmt: skip


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(
    dataset_id: int,
    request: Request,
    principal: Principal | None = Depends(optional_user),
    db: Session = Depends(get_db),
) -> Response:
    """A dataset: class balance, split sizes, thumbnails, augmentations."""
    principal = _need_login(principal)
    ds = get_in_project(db, principal.id, Dataset, dataset_id)
    role = role_of(db, principal.id, ds.project_id)
    page = "recordings.html" if ds.stats.get("kind") == "recordings" else "dataset.html"
    return _render(request, page, principal, dataset=serialize.dataset(ds), role=role)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    job_id: int,
    request: Request,
    principal: Principal | None = Depends(optional_user),
    db: Session = Depends(get_db),
) -> Response:
    """A training or inference: live chart, stop/resume, report, ONNX download."""
    principal = _need_login(principal)
    job = get_in_project(db, principal.id, Job, job_id)
    role = role_of(db, principal.id, job.project_id)
    return _render(
        request, "job.html", principal, job=serialize.job(job, None, describe(db, job)), role=role
    )


@router.get("/weights/{weights_id}", response_class=HTMLResponse)
def weights_page(
    weights_id: int,
    request: Request,
    principal: Principal | None = Depends(optional_user),
    db: Session = Depends(get_db),
) -> Response:
    """A model: lineage, ONNX download, single-image inference with overlay."""
    principal = _need_login(principal)
    w = get_in_project(db, principal.id, ModelWeights, weights_id)
    return _render(request, "weights.html", principal, weights=serialize.weights(w))
