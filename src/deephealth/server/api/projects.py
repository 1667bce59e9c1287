"""Projects and their members: `/api/projects/*`.

The creator of a project is its owner. Owners edit the project, manage members, add datasets and
models and start jobs; viewers read everything in it and run single-image inference.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deephealth.server.api import serialize
from deephealth.server.db.models import AuditEntry, Project, ProjectMember, User
from deephealth.server.deps import Principal, audit, get_db, require_user
from deephealth.server.permissions import get_project

router = APIRouter(tags=["projects"])


class ProjectIn(BaseModel):
    """A new project."""

    name: str = Field(min_length=1, max_length=200)
    task: str = Field(max_length=64)
    description: str = Field(default="", max_length=5000)

    @field_validator("task")
    @classmethod
    def _known_task(cls, value: str) -> str:
        from deephealth.server.tasks import task_names

        if value not in task_names():
            raise ValueError(f"task must be one of {', '.join(task_names())}")
        return value


class ProjectPatch(BaseModel):
    """Editable project fields."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)


class MemberIn(BaseModel):
    """A member to add (by e-mail) or whose role to change."""

    email: str = Field(max_length=254)
    role: Literal["owner", "viewer"]


@router.get("/api/projects")
def list_projects(
    principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> list:
    """Projects the caller is a member of, with the caller's role."""
    rows = db.execute(
        select(Project, ProjectMember.role)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(ProjectMember.user_id == principal.id)
        .order_by(Project.id)
    )
    return [serialize.project(p, role) for p, role in rows]


@router.post("/api/projects", status_code=201)
def create_project(
    body: ProjectIn,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Create a project; the caller becomes its owner."""
    project = Project(name=body.name, task=body.task, description=body.description)
    project.members.append(ProjectMember(user_id=principal.id, role="owner"))
    db.add(project)
    db.flush()
    audit(db, request, principal, "project.create", "project", project.id, project.id)
    db.commit()
    return serialize.project(project, "owner")


@router.get("/api/projects/{project_id}")
def read_project(
    project_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> dict:
    """One project (members only)."""
    project = get_project(db, principal.id, project_id)
    role = db.scalar(
        select(ProjectMember.role).where(
            ProjectMember.project_id == project_id, ProjectMember.user_id == principal.id
        )
    )
    return serialize.project(project, role)


@router.patch("/api/projects/{project_id}")
def update_project(
    project_id: int,
    body: ProjectPatch,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Rename or describe a project (owners)."""
    project = get_project(db, principal.id, project_id, "owner")
    for key, value in body.model_dump(exclude_none=True).items():
        setattr(project, key, value)
    audit(db, request, principal, "project.update", "project", project.id, project.id)
    db.commit()
    return serialize.project(project, "owner")


@router.delete("/api/projects/{project_id}")
def delete_project(
    project_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Delete a project and everything in it (owners). Files stay in the data folder."""
    project = get_project(db, principal.id, project_id, "owner")
    audit(db, request, principal, "project.delete", "project", project.id, project.id)
    db.delete(project)
    db.commit()
    return {"ok": True}


@router.get("/api/projects/{project_id}/members")
def list_members(
    project_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> list:
    """Members and their roles."""
    get_project(db, principal.id, project_id)
    rows = db.execute(
        select(User, ProjectMember.role)
        .join(ProjectMember, ProjectMember.user_id == User.id)
        .where(ProjectMember.project_id == project_id)
        .order_by(User.id)
    )
    return [{**serialize.user(u), "role": role} for u, role in rows]


@router.post("/api/projects/{project_id}/members")
def set_member(
    project_id: int,
    body: MemberIn,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Add a member or change a member's role (owners)."""
    get_project(db, principal.id, project_id, "owner")
    user = db.scalar(select(User).where(User.email == body.email.strip().lower()))
    if user is None:
        raise HTTPException(404, f"no account with e-mail {body.email!r}")
    member = db.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project_id, ProjectMember.user_id == user.id
        )
    )
    if member is None:
        member = ProjectMember(project_id=project_id, user_id=user.id, role=body.role)
        db.add(member)
    else:
        _keep_an_owner(db, project_id, member, body.role)
        member.role = body.role
    audit(db, request, principal, "member.set", "user", user.id, project_id, role=body.role)
    db.commit()
    return {**serialize.user(user), "role": body.role}


@router.delete("/api/projects/{project_id}/members/{user_id}")
def remove_member(
    project_id: int,
    user_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Remove a member (owners; the last owner cannot be removed)."""
    get_project(db, principal.id, project_id, "owner")
    member = db.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project_id, ProjectMember.user_id == user_id
        )
    )
    if member is None:
        raise HTTPException(404, "member not found")
    _keep_an_owner(db, project_id, member, None)
    db.delete(member)
    audit(db, request, principal, "member.remove", "user", user_id, project_id)
    db.commit()
    return {"ok": True}


def _keep_an_owner(
    db: Session, project_id: int, member: ProjectMember, new_role: str | None
) -> None:
    if member.role != "owner" or new_role == "owner":
        return
    owners = db.scalar(
        select(func.count(ProjectMember.id)).where(
            ProjectMember.project_id == project_id, ProjectMember.role == "owner"
        )
    )
    if owners <= 1:
        raise HTTPException(409, "a project needs at least one owner")


@router.get("/api/projects/{project_id}/audit")
def project_audit(
    project_id: int,
    limit: int = 200,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> list:
    """Who accessed or changed what in this project, newest first (owners)."""
    get_project(db, principal.id, project_id, "owner")
    rows = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.project_id == project_id)
        .order_by(AuditEntry.id.desc())
        .limit(max(1, min(limit, 1000)))
    )
    return [audit_dict(a) for a in rows]


def audit_dict(a: AuditEntry) -> dict:
    """An audit entry as JSON."""
    return {
        "id": a.id,
        "user_id": a.user_id,
        "token_id": a.token_id,
        "action": a.action,
        "object_type": a.object_type,
        "object_id": a.object_id,
        "project_id": a.project_id,
        "detail": a.detail,
        "ip": a.ip,
        "created_at": a.created_at.isoformat() if a.created_at else None,
    }
