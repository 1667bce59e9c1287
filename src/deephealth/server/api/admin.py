"""Admin endpoints: the approved dataset folders and the server-wide audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from deephealth.server.api.projects import audit_dict
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import AuditEntry
from deephealth.server.deps import Principal, get_config, get_db, require_admin

router = APIRouter(tags=["admin"])


@router.get("/api/admin/folders")
def approved_folders(
    _admin: Principal = Depends(require_admin), config: ServerConfig = Depends(get_config)
) -> list[str]:
    """Server folders that datasets may be registered from (set in the server config)."""
    return [str(p) for p in config.approved_folders]


@router.get("/api/admin/audit")
def audit_log(
    limit: int = 200,
    _admin: Principal = Depends(require_admin),
    db: Session = Depends(get_db),
) -> list:
    """The whole audit log, newest first."""
    rows = db.scalars(
        select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
    )
    return [audit_dict(a) for a in rows]
