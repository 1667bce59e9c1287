"""FastAPI dependencies shared by the routers: the database session, the caller and the audit log.

The caller is found from an `Authorization: Bearer <api token>` header or from the session cookie.
Cookie-authenticated requests that change state (POST, PUT, PATCH, DELETE) must carry the session's
CSRF token in the `X-CSRF-Token` header; token-authenticated requests need none (browsers never
send bearer tokens on their own). An API token is checked against its scope (read, inference or
full) before anything else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from deephealth.server import auth
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import ApiToken, AuditEntry, LoginSession, User

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass
class Principal:
    """Who is calling: the user and how they authenticated."""

    user: User
    session: LoginSession | None = None
    token: ApiToken | None = None

    @property
    def id(self) -> int:
        """The user's id."""
        return self.user.id


def get_config(request: Request) -> ServerConfig:
    """The server configuration."""
    return request.app.state.config


def get_db(request: Request) -> Iterator[Session]:
    """A database session for the request, closed afterwards."""
    db = request.app.state.sessionmaker()
    try:
        yield db
    finally:
        db.close()


def find_principal(request: Request, db: Session) -> Principal | None:
    """The authenticated caller, or None; raises 401/403 for bad tokens or missing CSRF."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = auth.lookup_api_token(db, header[7:].strip())
        if token is None:
            raise HTTPException(401, "invalid or revoked API token")
        if not auth.scope_allows(token.scope, request.method, request.url.path):
            raise HTTPException(403, f"this API token's scope ({token.scope}) does not allow this")
        return Principal(user=token.user, token=token)
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if not cookie:
        return None
    session = auth.lookup_session(db, cookie)
    if session is None:
        return None
    if request.method not in SAFE_METHODS and not auth.csrf_ok(
        session, request.headers.get(auth.CSRF_HEADER)
    ):
        raise HTTPException(403, "missing or wrong CSRF token (header X-CSRF-Token)")
    return Principal(user=session.user, session=session)


def optional_user(request: Request, db: Session = Depends(get_db)) -> Principal | None:
    """The caller if authenticated, else None."""
    return find_principal(request, db)


def require_user(request: Request, db: Session = Depends(get_db)) -> Principal:
    """The authenticated caller (401 otherwise)."""
    principal = find_principal(request, db)
    if principal is None:
        raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})
    return principal


def require_admin(principal: Principal = Depends(require_user)) -> Principal:
    """The caller, who must be an admin (403 otherwise)."""
    if not principal.user.is_admin:
        raise HTTPException(403, "admins only")
    return principal


def audit(
    db: Session,
    request: Request | None,
    principal: Principal | None,
    action: str,
    object_type: str = "",
    object_id: int | None = None,
    project_id: int | None = None,
    **detail: object,
) -> None:
    """Append an entry to the audit log (committed with the caller's transaction)."""
    db.add(
        AuditEntry(
            user_id=principal.id if principal else None,
            token_id=principal.token.id if principal and principal.token else None,
            action=action,
            object_type=object_type,
            object_id=object_id,
            project_id=project_id,
            detail=detail,
            ip=request.client.host if request is not None and request.client else "",
        )
    )
