"""Accounts, login sessions and API tokens: `/api/auth/*` and `/api/tokens`.

Sign-up creates the account and logs it in; the first account of a server is its admin. Login sets
the session cookie (httpOnly, SameSite=Strict, Secure unless configured off) and returns the CSRF
token that pages send back in `X-CSRF-Token`. API tokens are shown once at creation.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deephealth.server import auth
from deephealth.server.api import serialize
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import ApiToken, User, utcnow
from deephealth.server.deps import Principal, audit, get_config, get_db, require_user

router = APIRouter(tags=["auth"])
_failures = auth.FailureThrottle(max_failures=10, window_s=600.0)


class SignupIn(BaseModel):
    """Sign-up form."""

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=auth.MIN_PASSWORD_LENGTH, max_length=200)
    name: str = Field(default="", max_length=200)


class LoginIn(BaseModel):
    """Login form."""

    email: str = Field(max_length=254)
    password: str = Field(max_length=200)


class TokenIn(BaseModel):
    """A new API token's name."""

    name: str = Field(min_length=1, max_length=200)


def _login(db: Session, response: Response, config: ServerConfig, user: User) -> dict:
    secret, session = auth.create_session(db, user, config.session_hours)
    db.commit()
    response.set_cookie(
        auth.SESSION_COOKIE,
        secret,
        max_age=int(config.session_hours * 3600),
        httponly=True,
        secure=config.secure_cookies,
        samesite="strict",
        path="/",
    )
    return {"user": serialize.user(user), "csrf_token": session.csrf_token}


@router.post("/api/auth/signup", status_code=201)
def signup(
    body: SignupIn,
    request: Request,
    response: Response,
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict:
    """Create an account and log it in (the first account becomes admin; when sign-up is closed,
    only that first one)."""
    first = not db.scalar(select(func.count(User.id)))
    if not config.signup_open and not first:
        raise HTTPException(403, "sign-up is closed on this server; ask an admin for an account")
    email = body.email.strip().lower()
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise HTTPException(409, "an account with this e-mail exists")
    user = User(email=email, name=body.name, password_hash=auth.hash_password(body.password))
    user.is_admin = first
    db.add(user)
    db.flush()
    audit(db, request, Principal(user), "user.signup", "user", user.id)
    return _login(db, response, config, user)


@router.post("/api/auth/login")
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict:
    """Log in with e-mail and password; sets the session cookie."""
    key = body.email.strip().lower()
    if _failures.blocked(key):
        raise HTTPException(429, "too many failed logins for this e-mail; try again later")
    user = auth.authenticate(db, body.email, body.password)
    if user is None:
        _failures.add(key)
        audit(db, request, None, "user.login_failed", detail_email=body.email[:254])
        db.commit()
        raise HTTPException(401, "wrong e-mail or password")
    audit(db, request, Principal(user), "user.login", "user", user.id)
    return _login(db, response, config, user)


@router.post("/api/auth/logout")
def logout(
    response: Response, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> dict:
    """End the current login session."""
    if principal.session is not None:
        db.delete(db.merge(principal.session))
        db.commit()
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return {"ok": True}


@router.get("/api/auth/me")
def me(principal: Principal = Depends(require_user)) -> dict:
    """The caller, and the session's CSRF token when logged in by cookie."""
    csrf = principal.session.csrf_token if principal.session else None
    return {"user": serialize.user(principal.user), "csrf_token": csrf}


@router.get("/api/tokens", tags=["tokens"])
def list_tokens(
    principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> list:
    """The caller's API tokens (secrets are never shown again)."""
    rows = db.scalars(
        select(ApiToken).where(ApiToken.user_id == principal.id).order_by(ApiToken.id)
    )
    return [serialize.token(t) for t in rows]


@router.post("/api/tokens", status_code=201, tags=["tokens"])
def create_token(
    body: TokenIn,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Issue an API token for platform clients; the secret is in this answer only."""
    text, row = auth.create_api_token(db, principal.user, body.name)
    audit(db, request, principal, "token.create", "api_token", row.id)
    db.commit()
    return {**serialize.token(row), "token": text}


@router.delete("/api/tokens/{token_id}", tags=["tokens"])
def revoke_token(
    token_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Revoke one of the caller's tokens (it stops working at once)."""
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != principal.id:
        raise HTTPException(404, "token not found")
    row.revoked_at = row.revoked_at or utcnow()
    audit(db, request, principal, "token.revoke", "api_token", row.id)
    db.commit()
    return serialize.token(row)
