"""The project's job list with filters and progress, and the comparison of trainings:
`GET /api/projects/{id}/job-list` and `GET /api/projects/{id}/compare?jobs=1,2`.

Progress is the last epoch event of each job (epoch of epochs); a comparison gives, for each
training, its model family, hyper-parameters, computing service, per-epoch loss and metrics
(training and validation, from the job's events) and the KPIs of its report when it has one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deephealth.server.db.models import Job, JobEvent, ModelFamily, Training
from deephealth.server.deps import Principal, get_db, require_user
from deephealth.server.permissions import get_project

router = APIRouter(tags=["jobs"])
MAX_COMPARED = 8
STATUSES = ("queued", "running", "finished", "failed", "cancelled", "interrupted")


def _progress(db: Session, job_ids: list[int]) -> dict[int, dict[str, Any]]:
    """{job id: {"epoch", "epochs"}} from each job's last epoch event."""
    if not job_ids:
        return {}
    last = (
        select(func.max(JobEvent.id))
        .where(JobEvent.job_id.in_(job_ids), JobEvent.type == "epoch")
        .group_by(JobEvent.job_id)
    )
    rows = db.scalars(select(JobEvent).where(JobEvent.id.in_(last)))
    return {e.job_id: {"epoch": e.epoch, "epochs": (e.data or {}).get("epochs")} for e in rows}


def _families(db: Session, job_ids: list[int]) -> dict[int, str]:
    rows = db.execute(
        select(Training.job_id, ModelFamily.name)
        .join(ModelFamily, ModelFamily.id == Training.family_id)
        .where(Training.job_id.in_(job_ids))
    )
    return {job_id: name for job_id, name in rows}


@router.get("/api/projects/{project_id}/job-list")
def job_list(
    project_id: int,
    status: str = "",
    kind: str = "",
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> list[dict[str, Any]]:
    """The project's jobs, newest first, filtered by status (comma-separated) and kind, with
    their progress and model family."""
    get_project(db, principal.id, project_id)
    stmt = select(Job).where(Job.project_id == project_id)
    wanted = [s for s in status.split(",") if s]
    if any(s not in STATUSES for s in wanted):
        raise HTTPException(422, f"status must be among {', '.join(STATUSES)}")
    if wanted:
        stmt = stmt.where(Job.status.in_(wanted))
    if kind:
        stmt = stmt.where(Job.kind == kind)
    jobs = list(db.scalars(stmt.order_by(Job.id.desc()).limit(500)))
    ids = [j.id for j in jobs]
    progress, families = _progress(db, ids), _families(db, ids)
    return [
        {
            "id": j.id,
            "kind": j.kind,
            "status": j.status,
            "family": families.get(j.id),
            "device": (j.config.get("computing_service") or {}).get("type"),
            "progress": progress.get(j.id),
            "created_at": j.created_at.isoformat() if j.created_at else None,
        }
        for j in jobs
    ]


def _kpis(job: Job) -> dict[str, Any]:
    from deephealth.pipelines.report import load_report

    for value in (job.result or {}).values():
        if isinstance(value, str) and value.endswith("report.json"):
            try:
                return dict(load_report(Path(value)).get("kpis") or {})
            except (OSError, ValueError):
                return {}
    return {}


@router.get("/api/projects/{project_id}/compare")
def compare(
    project_id: int,
    jobs: str,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """Curves and KPIs of 2 to 8 trainings of the project side by side."""
    get_project(db, principal.id, project_id)
    try:
        ids = list(dict.fromkeys(int(v) for v in jobs.split(",") if v.strip()))
    except ValueError:
        raise HTTPException(422, "jobs must be comma-separated job ids") from None
    if not 2 <= len(ids) <= MAX_COMPARED:
        raise HTTPException(422, f"compare 2 to {MAX_COMPARED} trainings")
    found = {j.id: j for j in db.scalars(select(Job).where(Job.id.in_(ids)))}
    families = _families(db, ids)
    runs = []
    for job_id in ids:
        job = found.get(job_id)
        if job is None or job.project_id != project_id or job.kind != "training":
            raise HTTPException(404, f"training #{job_id} not found in this project")
        events = db.scalars(
            select(JobEvent)
            .where(JobEvent.job_id == job_id, JobEvent.type == "epoch")
            .order_by(JobEvent.id)
        )
        curve = [
            {
                "epoch": e.epoch,
                "loss": e.loss,
                "metrics": e.metrics or {},
                "val_metrics": (e.data or {}).get("val_metrics") or {},
            }
            for e in events
        ]
        training = db.scalar(select(Training).where(Training.job_id == job_id))
        runs.append(
            {
                "id": job_id,
                "status": job.status,
                "family": families.get(job_id),
                "hyperparameters": training.hyperparameters if training else {},
                "computing_service": job.config.get("computing_service"),
                "epochs": curve,
                "kpis": _kpis(job),
            }
        )
    return {"runs": runs}
