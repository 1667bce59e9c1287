"""The JSON shapes the API returns for each database object."""

from __future__ import annotations

from datetime import datetime

from deephealth.server.db.models import (
    ApiToken,
    Dataset,
    Job,
    ModelFamily,
    ModelWeights,
    Project,
    User,
)
from deephealth.server.redact import Redactor


def _t(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def user(u: User) -> dict:
    """A user (no password hash)."""
    return {"id": u.id, "email": u.email, "name": u.name, "is_admin": u.is_admin}


def project(p: Project, role: str | None = None) -> dict:
    """A project and, when given, the caller's role."""
    out = {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "task": p.task,
        "created_at": _t(p.created_at),
    }
    if role is not None:
        out["role"] = role
    return out


def dataset(d: Dataset) -> dict:
    """A dataset with its statistics (no server paths)."""
    return {
        "id": d.id,
        "project_id": d.project_id,
        "name": d.name,
        "source": d.source,
        "stats": d.stats,
        "created_at": _t(d.created_at),
    }


def family(f: ModelFamily) -> dict:
    """A model family."""
    return {"id": f.id, "name": f.name, "task": f.task, "description": f.description}


def weights(w: ModelWeights) -> dict:
    """Model weights with their lineage (no server path)."""
    return {
        "id": w.id,
        "project_id": w.project_id,
        "family_id": w.family_id,
        "name": w.name,
        "origin": w.origin,
        "pretrained_on": w.pretrained_on,
        "parent_id": w.parent_id,
        "training_job_id": w.training_job_id,
        "info": w.info,
        "created_at": _t(w.created_at),
    }


def job(j: Job, position: int | None = None, details: dict | None = None) -> dict:
    """A job, its queue position while queued, and kind-specific details (server paths are
    made relative to the run folder or hidden, see `deephealth.server.redact`)."""
    red = Redactor.for_run(j.run_dir) if j.run_dir else None
    return red.json(_job(j, position, details)) if red else _job(j, position, details)


def _job(j: Job, position: int | None, details: dict | None) -> dict:
    return {
        "id": j.id,
        "project_id": j.project_id,
        "kind": j.kind,
        "status": j.status,
        "queue_position": position,
        "resume": j.resume,
        "stop_requested": j.stop_requested,
        "attempts": j.attempts,
        "error": j.error,
        "result": j.result,
        "config": j.config,
        "created_at": _t(j.created_at),
        "started_at": _t(j.started_at),
        "finished_at": _t(j.finished_at),
        **(details or {}),
    }


def token(t: ApiToken) -> dict:
    """An API token's listing (never the secret)."""
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": _t(t.created_at),
        "last_used_at": _t(t.last_used_at),
        "revoked": t.revoked_at is not None,
        "scope": t.scope,
    }
