"""Authentication: argon2 password hashes, login sessions with CSRF tokens, API tokens.

Secrets handed to clients (session cookie values, API tokens) are random 256-bit strings; the
database keeps only their SHA-256, so a copy of the database cannot be used to log in. Passwords
are hashed with argon2id (argon2-cffi). API tokens look like `dh_<prefix>_<secret>`; the prefix is
stored in clear so users can tell their tokens apart, and revoking sets `revoked_at`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from deephealth.server.db.models import ApiToken, LoginSession, User, utcnow

SESSION_COOKIE = "dh_session"
CSRF_HEADER = "X-CSRF-Token"
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200
MIN_PASSWORD_SCORE = 3  # zxcvbn's 0-4 scale: 3 is "safely unguessable" (~10^8 guesses and more)
TOKEN_SCOPES = ("read", "inference", "full")

_hasher = PasswordHasher()


def configure_hashing(time_cost: int, memory_kib: int) -> None:
    """Set the argon2id cost of new password hashes (existing hashes keep verifying)."""
    global _hasher
    if (_hasher.time_cost, _hasher.memory_cost) != (time_cost, memory_kib):
        _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def password_problem(password: str, user_inputs: list[str]) -> str | None:
    """Why `password` is refused (length, or too guessable for zxcvbn given the user's e-mail and
    name), or None when it is accepted. The message never contains the password."""
    from zxcvbn import zxcvbn

    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        return f"password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
    # zxcvbn's cost grows with the length; its authors advise scoring the first 100 characters.
    result = zxcvbn(password[:100], user_inputs=[u for u in user_inputs if u][:10])
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = result.get("feedback") or {}
    hints = " ".join([feedback.get("warning") or "", *(feedback.get("suggestions") or [])])
    return "password too easy to guess" + (f": {hints.strip()}" if hints.strip() else "")


def normalize_email(email: str) -> str:
    """The e-mail address checked for syntax (email-validator) and lower-cased.

    Intranet domains (no dot, `.local`) are accepted; deliverability is not checked.

    Raises:
        ValueError: naming what is wrong with the address.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        info = validate_email(email.strip(), check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as err:
        raise ValueError(f"invalid e-mail address: {err}") from None
    return info.normalized.lower()


def scope_allows(scope: str, method: str, path: str) -> bool:
    """Whether an API token of `scope` may make this request.

    `read`: safe methods (GET, HEAD, OPTIONS) only. `inference`: the predict endpoint and
    `GET /api/auth/me`. `full`: everything an API token may do (never managing tokens or
    passwords: that needs a login session).
    """
    if scope == "full":
        return True
    if scope == "read":
        return method in ("GET", "HEAD", "OPTIONS")
    if scope == "inference":
        return path.startswith("/api/v1/predict/") or (method == "GET" and path == "/api/auth/me")
    return False


def hash_password(password: str) -> str:
    """The argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash` (False for malformed hashes)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sha256(text: str) -> str:
    """Hex SHA-256 of a secret (what the database stores)."""
    return hashlib.sha256(text.encode()).hexdigest()


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def authenticate(db: Session, email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None (same cost either way)."""
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        verify_password(_dummy_hash(), password)
        return None
    return user if verify_password(user.password_hash, password) else None


def create_session(db: Session, user: User, hours: float) -> tuple[str, LoginSession]:
    """Start a login session; returns the cookie value (shown once) and the stored row."""
    secret = secrets.token_urlsafe(32)
    row = LoginSession(
        user_id=user.id,
        token_hash=sha256(secret),
        csrf_token=secrets.token_urlsafe(32),
        expires_at=utcnow() + timedelta(hours=hours),
    )
    db.add(row)
    db.flush()
    return secret, row


def lookup_session(db: Session, cookie_value: str) -> LoginSession | None:
    """The live session for a cookie value (expired sessions are deleted)."""
    row = db.scalar(select(LoginSession).where(LoginSession.token_hash == sha256(cookie_value)))
    if row is None:
        return None
    if _aware(row.expires_at) < utcnow():
        db.delete(row)
        db.commit()
        return None
    return row


def csrf_ok(session: LoginSession, header_value: str | None) -> bool:
    """Whether the request's CSRF header matches the session's token."""
    return bool(header_value) and hmac.compare_digest(session.csrf_token, header_value or "")


def create_api_token(
    db: Session, user: User, name: str, scope: str = "full"
) -> tuple[str, ApiToken]:
    """Issue an API token; returns the token text (shown once) and the stored row."""
    if scope not in TOKEN_SCOPES:
        raise ValueError(f"token scope must be one of {TOKEN_SCOPES}")
    prefix = secrets.token_hex(4)
    token = f"dh_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(user_id=user.id, name=name, prefix=prefix, token_hash=sha256(token), scope=scope)
    db.add(row)
    db.flush()
    return token, row


def lookup_api_token(db: Session, token: str) -> ApiToken | None:
    """The live (not revoked) token row for `token`, with its last-use time updated."""
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == sha256(token)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - _aware(row.last_used_at) > timedelta(minutes=1):
        row.last_used_at = now
        db.commit()
    return row


_dummy_hashes: dict[tuple[int, int], str] = {}


def _dummy_hash() -> str:
    """A hash with the current cost, verified for unknown e-mails so both paths take as long."""
    key = (_hasher.time_cost, _hasher.memory_cost)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = _hasher.hash(secrets.token_hex(8))
    return _dummy_hashes[key]


def end_sessions(db: Session, user: User, keep: LoginSession | None = None) -> None:
    """Log `user` out everywhere (but `keep`), e.g. after a password change."""
    for row in db.scalars(select(LoginSession).where(LoginSession.user_id == user.id)):
        if keep is None or row.id != keep.id:
            db.delete(row)


def revoke_tokens(db: Session, user: User) -> None:
    """Revoke every live API token of `user` (after an admin reset)."""
    now = utcnow()
    for row in db.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        row.revoked_at = now
