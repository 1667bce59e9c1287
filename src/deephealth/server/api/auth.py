"""Accounts, login sessions and API tokens: `/api/auth/*` and `/api/tokens`.

Sign-up creates the account and logs it in; the first account of a server is its admin. E-mail
addresses are checked with email-validator and passwords with zxcvbn (see `auth.password_problem`).
Login sets the session cookie (httpOnly, SameSite=Strict, Secure unless configured off) and
returns the CSRF token that pages send back in `X-CSRF-Token`; failed logins are rate limited per
IP address and per IP address and account (`deephealth.server.ratelimit`). A logged-in user
changes their password at `/api/auth/password`. API tokens have a scope (read, inference, full),
are shown once at creation and are created only from a login session, never by another token.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deephealth.server import auth, ratelimit
from deephealth.server.api import serialize
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import ApiToken, User, utcnow
from deephealth.server.deps import Principal, audit, get_config, get_db, require_user

router = APIRouter(tags=["auth"])


class SignupIn(BaseModel):
    """Sign-up form: a valid e-mail address and a password zxcvbn does not find guessable."""

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=auth.MIN_PASSWORD_LENGTH, max_length=auth.MAX_PASSWORD_LENGTH)
    name: str = Field(default="", max_length=200)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return auth.normalize_email(value)

    @model_validator(mode="after")
    def _strong(self) -> SignupIn:
        problem = auth.password_problem(self.password, [self.email, self.name])
        if problem:
            raise ValueError(problem)
        return self


class PasswordIn(BaseModel):
    """A password change: the current password and the new one."""

    current_password: str = Field(max_length=auth.MAX_PASSWORD_LENGTH)
    new_password: str = Field(
        min_length=auth.MIN_PASSWORD_LENGTH, max_length=auth.MAX_PASSWORD_LENGTH
    )


class LoginIn(BaseModel):
    """Login form."""

    email: str = Field(max_length=254)
    password: str = Field(max_length=200)


class TokenIn(BaseModel):
    """A new API token: its name and scope (read: GET only; inference: the predict endpoint;
    full: everything but token and password management)."""

    name: str = Field(min_length=1, max_length=200)
    scope: Literal["read", "inference", "full"] = "full"


def require_session(principal: Principal, what: str) -> None:
    """403 unless the caller is logged in with a session (API tokens cannot do `what`)."""
    if principal.session is None:
        raise HTTPException(403, f"API tokens cannot {what}; log in to the web pages")


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
    ip = ratelimit.client_ip(request)
    ratelimit.check_signup(db, ip, config)
    email = body.email
    ratelimit.record_failure(db, "signup", ip, email, config)
    db.commit()
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
    key = body.email.strip().lower()[:254]
    ip = ratelimit.client_ip(request)
    ratelimit.check_login(db, ip, key, config)
    user = auth.authenticate(db, body.email, body.password)
    if user is None:
        ratelimit.record_failure(db, "login", ip, key, config)
        audit(db, request, None, "user.login_failed", detail_email=body.email[:254])
        db.commit()
        raise HTTPException(401, "wrong e-mail or password")
    ratelimit.clear(db, ip, key)
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


@router.post("/api/auth/password")
def change_password(
    body: PasswordIn,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict:
    """Change the caller's password (logged in by session; the current password is needed).
    The caller's other sessions are ended."""
    require_session(principal, "change passwords")
    user = db.merge(principal.user)
    ip = ratelimit.client_ip(request)
    ratelimit.check_login(db, ip, user.email, config)
    if not auth.verify_password(user.password_hash, body.current_password):
        ratelimit.record_failure(db, "login", ip, user.email, config)
        audit(db, request, principal, "user.password_change_failed", "user", user.id)
        db.commit()
        raise HTTPException(403, "the current password is wrong")
    problem = auth.password_problem(body.new_password, [user.email, user.name])
    if problem:
        raise HTTPException(422, problem)
    user.password_hash = auth.hash_password(body.new_password)
    auth.end_sessions(db, user, keep=principal.session)
    audit(db, request, principal, "user.password_change", "user", user.id)
    db.commit()
    return {"ok": True}


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
    """Issue an API token for platform clients (from a login session only: tokens cannot mint
    tokens); the secret is in this answer only."""
    require_session(principal, "create API tokens")
    text, row = auth.create_api_token(db, principal.user, body.name, body.scope)
    audit(db, request, principal, "token.create", "api_token", row.id, scope=body.scope)
    db.commit()
    return {**serialize.token(row), "token": text}


@router.delete("/api/tokens/{token_id}", tags=["tokens"])
def revoke_token(
    token_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Revoke one of the caller's tokens (it stops working at once); a token may revoke itself."""
    row = db.get(ApiToken, token_id)
    if row is None or row.user_id != principal.id:
        raise HTTPException(404, "token not found")
    if principal.session is None and row.id != principal.token.id:  # type: ignore[union-attr]
        raise HTTPException(403, "an API token can only revoke itself; log in to revoke others")
    row.revoked_at = row.revoked_at or utcnow()
    audit(db, request, principal, "token.revoke", "api_token", row.id)
    db.commit()
    return serialize.token(row)
