"""Login and sign-up rate limits kept in the database (they survive restarts and are shared by
every server process).

* **Per IP address**: at most `login_ip_limit` failed logins (all accounts together) and as many
  sign-ups per `login_window_s`; then 429 until the window has passed.
* **Per IP address and account**: after `login_free_failures` failures of one address on one
  account, each further attempt from that address must wait a delay that doubles with every
  failure (1 s, 2 s, 4 s, ... up to `login_max_delay_s`). A successful login clears the count.

There is no per-account lockout: an attacker who knows an e-mail address can slow down only
their own addresses, never the account's owner logging in from elsewhere.
"""

from __future__ import annotations

import time

from fastapi import HTTPException, Request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from deephealth.server.config import ServerConfig
from deephealth.server.db.models import AuthAttempt


def client_ip(request: Request) -> str:
    """The caller's address as the server sees it (a reverse proxy's address behind one)."""
    return (request.client.host if request.client else "")[:64] or "unknown"


def _too_many(retry_after: float, message: str) -> HTTPException:
    return HTTPException(429, message, headers={"Retry-After": str(max(1, int(retry_after + 1)))})


def check_login(db: Session, ip: str, email: str, config: ServerConfig) -> None:
    """Refuse (429 with Retry-After) a login attempt that the limits do not allow yet."""
    now = time.time()
    since = now - config.login_window_s
    ip_failures = db.scalar(
        select(func.count(AuthAttempt.id)).where(
            AuthAttempt.kind == "login", AuthAttempt.ip == ip, AuthAttempt.at > since
        )
    )
    if ip_failures >= config.login_ip_limit:
        raise _too_many(
            config.login_window_s, "too many failed logins from this address; try again later"
        )
    count, last = db.execute(
        select(func.count(AuthAttempt.id), func.max(AuthAttempt.at)).where(
            AuthAttempt.kind == "login",
            AuthAttempt.ip == ip,
            AuthAttempt.email == email,
            AuthAttempt.at > since,
        )
    ).one()
    extra = count - config.login_free_failures
    if extra >= 0 and last is not None:
        delay = min(config.login_max_delay_s, 2.0**extra)
        if now - last < delay:
            raise _too_many(
                delay - (now - last),
                f"too many failed logins for this account from this address; wait {delay:g} s",
            )


def record_failure(db: Session, kind: str, ip: str, email: str, config: ServerConfig) -> None:
    """Store one failed login (or one sign-up) and prune rows older than the window."""
    now = time.time()
    db.add(AuthAttempt(kind=kind, ip=ip, email=email[:254], at=now))
    db.execute(delete(AuthAttempt).where(AuthAttempt.at < now - config.login_window_s))


def clear(db: Session, ip: str, email: str) -> None:
    """Forget the failed logins of one address on one account (after a successful login)."""
    db.execute(
        delete(AuthAttempt).where(
            AuthAttempt.kind == "login", AuthAttempt.ip == ip, AuthAttempt.email == email
        )
    )


def check_signup(db: Session, ip: str, config: ServerConfig) -> None:
    """Refuse (429) a sign-up from an address that made `login_ip_limit` in the window."""
    since = time.time() - config.login_window_s
    n = db.scalar(
        select(func.count(AuthAttempt.id)).where(
            AuthAttempt.kind == "signup", AuthAttempt.ip == ip, AuthAttempt.at > since
        )
    )
    if n >= config.login_ip_limit:
        raise _too_many(config.login_window_s, "too many sign-ups from this address")
