"""Accounts, sessions, CSRF and API tokens against a real app and SQLite database."""

from __future__ import annotations

from _server_helpers import new_client, signup
from sqlalchemy import select

from deephealth.server.db.models import ApiToken, LoginSession, User


def test_first_account_is_admin_and_password_is_argon2(app):
    first = signup(app, "a@example.org", "violet basalt 1")
    second = signup(app, "b@example.org", "violet basalt 2")
    assert first.user["is_admin"] and not second.user["is_admin"]
    with app.state.sessionmaker() as db:
        hashes = db.scalars(select(User.password_hash)).all()
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any("violet basalt 1" in h for h in hashes)


def test_signup_validation_and_duplicates(app):
    c = new_client(app)
    assert (
        c.post("/api/auth/signup", json={"email": "x@y.z", "password": "short"}).status_code == 422
    )
    assert (
        c.post("/api/auth/signup", json={"email": "nope", "password": "long enough"}).status_code
        == 422
    )
    signup(app, "dup@example.org")
    r = new_client(app).post(
        "/api/auth/signup", json={"email": "DUP@example.org", "password": "correct horse battery"}
    )
    assert r.status_code == 409


def test_login_logout_and_cookie_flags(app):
    signup(app, "u@example.org", "right password")
    c = new_client(app)
    assert (
        c.post("/api/auth/login", json={"email": "u@example.org", "password": "wrong"}).status_code
        == 401
    )
    r = c.post("/api/auth/login", json={"email": "u@example.org", "password": "right password"})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=strict" in cookie
    c.csrf = r.json()["csrf_token"]
    assert c.get("/api/auth/me").json()["user"]["email"] == "u@example.org"
    with app.state.sessionmaker() as db:
        stored = db.scalars(select(LoginSession.token_hash)).all()
    assert c.cookies.get("dh_session") not in stored  # only the hash is stored
    assert c.post("/api/auth/logout").status_code == 200
    assert c.get("/api/auth/me").status_code == 401


def test_csrf_required_for_cookie_writes(app):
    c = signup(app, "c@example.org")
    token, c.csrf = c.csrf, ""
    r = c.post("/api/projects", json={"name": "p", "task": "classification"})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = c.post(
        "/api/projects",
        json={"name": "p", "task": "classification"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert r.status_code == 403
    r = c.post(
        "/api/projects",
        json={"name": "p", "task": "classification"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 201


def test_api_token_lifecycle(app):
    c = signup(app, "t@example.org")
    created = c.post("/api/tokens", json={"name": "pacs"}).json()
    secret = created["token"]
    assert secret.startswith("dh_") and created["prefix"] in secret
    with app.state.sessionmaker() as db:
        row = db.scalar(select(ApiToken))
    assert row.token_hash != secret and secret not in row.token_hash
    bearer = new_client(app)
    auth = {"Authorization": f"Bearer {secret}"}
    assert bearer.get("/api/auth/me", headers=auth).json()["user"]["email"] == "t@example.org"
    # Token clients need no CSRF header.
    assert (
        bearer.post(
            "/api/projects", json={"name": "x", "task": "regression"}, headers=auth
        ).status_code
        == 201
    )
    listed = c.get("/api/tokens").json()
    assert "token" not in listed[0] and listed[0]["last_used_at"]
    assert c.delete(f"/api/tokens/{created['id']}").json()["revoked"]
    assert bearer.get("/api/auth/me", headers=auth).status_code == 401
    assert (
        bearer.get("/api/auth/me", headers={"Authorization": "Bearer dh_bad_guess"}).status_code
        == 401
    )
    other = signup(app, "o@example.org")
    assert other.delete(f"/api/tokens/{created['id']}").status_code == 404


def test_audit_log_records_logins(app):
    admin = signup(app, "root@example.org")
    new_client(app).post("/api/auth/login", json={"email": "root@example.org", "password": "bad"})
    actions = [a["action"] for a in admin.get("/api/admin/audit").json()]
    assert "user.login_failed" in actions and "user.signup" in actions
    assert signup(app, "plain@example.org").get("/api/admin/audit").status_code == 403


def test_closed_signup_and_admin_created_accounts(app):
    app.state.config.signup_open = False
    admin = signup(app, "first@example.org")  # the first account is still possible: the admin
    r = new_client(app).post(
        "/api/auth/signup", json={"email": "x@example.org", "password": "correct horse battery"}
    )
    assert r.status_code == 403
    made = admin.post(
        "/api/admin/users", json={"email": "Nurse@example.org", "password": "correct horse battery"}
    )
    assert made.status_code == 201 and made.json()["email"] == "nurse@example.org"
    assert (
        admin.post(
            "/api/admin/users",
            json={"email": "nurse@example.org", "password": "correct horse battery"},
        ).status_code
        == 409
    )
    nurse = new_client(app)
    assert (
        nurse.post(
            "/api/auth/login",
            json={"email": "nurse@example.org", "password": "correct horse battery"},
        ).status_code
        == 200
    )
    assert len(admin.get("/api/admin/users").json()) == 2
    assert nurse.get("/api/admin/users").status_code == 403
