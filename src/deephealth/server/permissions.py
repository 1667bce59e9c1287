"""Project-membership checks applied to every object on every request.

Objects belong to projects; a user sees an object only through a project membership. For users who
are not members, an existing object and a missing one answer the same 404, so guessing ids reveals
nothing. Members whose role is too low for an action (a viewer trying to edit) get 403.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from deephealth.server.db.models import Project, ProjectMember

ROLES = ("viewer", "owner")
T = TypeVar("T")


def role_of(db: Session, user_id: int, project_id: int) -> str | None:
    """The user's role in the project, or None."""
    return db.scalar(
        select(ProjectMember.role).where(
            ProjectMember.project_id == project_id, ProjectMember.user_id == user_id
        )
    )


def _check(role: str | None, need: str, what: str) -> None:
    if role is None:
        raise HTTPException(404, f"{what} not found")
    if ROLES.index(role) < ROLES.index(need):
        raise HTTPException(403, f"this needs the {need} role in the project")


def get_project(db: Session, user_id: int, project_id: int, need: str = "viewer") -> Project:
    """The project if the user has at least role `need` (404 for strangers, 403 if too low)."""
    project = db.get(Project, project_id)
    _check(role_of(db, user_id, project_id) if project else None, need, "project")
    return project  # type: ignore[return-value]


def get_in_project(
    db: Session, user_id: int, model: type[T], object_id: int, need: str = "viewer"
) -> T:
    """An object with a `project_id` column, checked against the user's membership."""
    obj = db.get(model, object_id)
    role = role_of(db, user_id, obj.project_id) if obj is not None else None  # type: ignore[attr-defined]
    _check(role, need, model.__tablename__.rstrip("s").replace("_", " "))  # type: ignore[attr-defined]
    return obj  # type: ignore[return-value]
