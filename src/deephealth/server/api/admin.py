"""Admin endpoints: accounts (for servers with sign-up closed, and password resets), the approved
dataset folders and the server-wide audit log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from deephealth.server import auth
from deephealth.server.api import serialize
from deephealth.server.api.auth import SignupIn, require_session
from deephealth.server.api.projects import audit_dict
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import AuditEntry, User
from deephealth.server.deps import Principal, audit, get_config, get_db, require_admin

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


class NewUserIn(SignupIn):
    """An account created by an admin."""

    is_admin: bool = False


@router.get("/api/admin/users")
def list_users(_admin: Principal = Depends(require_admin), db: Session = Depends(get_db)) -> list:
    """Every account."""
    return [serialize.user(u) for u in db.scalars(select(User).order_by(User.id))]


@router.post("/api/admin/users", status_code=201)
def create_user(
    body: NewUserIn,
    request: Request,
    admin: Principal = Depends(require_admin),
    db: Session = Depends(get_db),
) -> dict:
    """Create an account (the way in when sign-up is closed)."""
    email = body.email
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise HTTPException(409, "an account with this e-mail exists")
    user = User(
        email=email,
        name=body.name,
        password_hash=auth.hash_password(body.password),
        is_admin=body.is_admin,
    )
    db.add(user)
    db.flush()
    audit(db, request, admin, "user.create", "user", user.id, is_admin=body.is_admin)
    db.commit()
    return serialize.user(user)


class ResetIn(BaseModel):
    """A new password set by an admin."""

    new_password: str = Field(
        min_length=auth.MIN_PASSWORD_LENGTH, max_length=auth.MAX_PASSWORD_LENGTH
    )


@router.post("/api/admin/users/{user_id}/password")
def reset_password(
    user_id: int,
    body: ResetIn,
    request: Request,
    admin: Principal = Depends(require_admin),
    db: Session = Depends(get_db),
) -> dict:
    """Set a user's password (admins, logged in by session): the user is logged out everywhere
    and their API tokens are revoked."""
    require_session(admin, "reset passwords")
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, "user not found")
    problem = auth.password_problem(body.new_password, [user.email, user.name])
    if problem:
        raise HTTPException(422, problem)
    user.password_hash = auth.hash_password(body.new_password)
    auth.end_sessions(db, user, keep=admin.session if admin.id == user.id else None)
    auth.revoke_tokens(db, user)
    audit(db, request, admin, "user.password_reset", "user", user.id)
    db.commit()
    return serialize.user(user)
