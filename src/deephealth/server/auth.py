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
import threading
import time
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from deephealth.server.db.models import ApiToken, LoginSession, User, utcnow

SESSION_COOKIE = "dh_session"
CSRF_HEADER = "X-CSRF-Token"
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


def configure_hashing(time_cost: int, memory_kib: int) -> None:
    """Set the argon2id cost of new password hashes (existing hashes keep verifying)."""
    global _hasher
    if (_hasher.time_cost, _hasher.memory_cost) != (time_cost, memory_kib):
        _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


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


def create_api_token(db: Session, user: User, name: str) -> tuple[str, ApiToken]:
    """Issue an API token; returns the token text (shown once) and the stored row."""
    prefix = secrets.token_hex(4)
    token = f"dh_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(user_id=user.id, name=name, prefix=prefix, token_hash=sha256(token))
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


class FailureThrottle:
    """Counts failed logins per key (e-mail) in a sliding window; blocks a key after too many.

    Kept in memory: it slows down password guessing against one account from one server process.
    """

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures, self.window_s = max_failures, window_s
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._seen.get(key, []) if now - t < self.window_s]
        self._seen[key] = times
        return times

    def add(self, key: str) -> None:
        """Record one failure for `key`."""
        with self._lock:
            if len(self._seen) > 100_000:
                self._seen.clear()
            self._recent(key, time.monotonic()).append(time.monotonic())

    def blocked(self, key: str) -> bool:
        """Whether `key` has reached `max_failures` within the window."""
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.max_failures
