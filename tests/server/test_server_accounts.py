"""Issue #13 account hardening: password policy, e-mail syntax, 422 bodies without the password,
database-backed login limits (per IP, progressive delay per IP and account; they survive a
restart), scoped API tokens that cannot mint tokens, password change and admin reset."""

from __future__ import annotations

import sqlite3
import time

from _server_helpers import new_client, signup
from sqlalchemy import create_engine, text

from deephealth.server.app import create_app
from deephealth.server.db.migrate import upgrade

GOOD = "correct horse battery"


def test_weak_passwords_refused_without_echo(app):
    c = new_client(app)
    for weak in ("12345678", "password", "aaaaaaaaaaaa", "weak@example.orgweak"):
        r = c.post("/api/auth/signup", json={"email": "weak@example.org", "password": weak})
        assert r.status_code == 422, weak
        assert "too easy to guess" in r.text and '"input"' not in r.text
        assert weak == "password" or weak not in r.text
    r = c.post("/api/auth/signup", json={"email": "weak@example.org", "password": "s3cr"})
    assert r.status_code == 422 and "s3cr" not in r.text and '"input"' not in r.text


def test_email_syntax_checked_by_email_validator(app):
    c = new_client(app)
    for bad in ("<script>@x", "a@b@c.org", "no-at-sign", "a b@example.org", "x@-bad-.org"):
        r = c.post("/api/auth/signup", json={"email": bad, "password": GOOD})
        assert r.status_code == 422, bad
        assert "e-mail" in r.json()["detail"][0]["msg"]
    r = c.post("/api/auth/signup", json={"email": "Ann@Hospital.Example", "password": GOOD})
    assert r.status_code == 201 and r.json()["user"]["email"] == "ann@hospital.example"


def _login(client, email: str, password: str) -> int:
    return client.post("/api/auth/login", json={"email": email, "password": password}).status_code


def test_login_delay_per_ip_and_account_survives_restart(config):
    config.login_free_failures = 3
    app = create_app(config)
    signup(app, "victim@example.org", GOOD)
    attacker = new_client(app, ip="203.0.113.9")
    assert [_login(attacker, "victim@example.org", "guess") for _ in range(3)] == [401] * 3
    r = attacker.post("/api/auth/login", json={"email": "victim@example.org", "password": GOOD})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    # The owner, from her own address, is not locked out.
    assert _login(new_client(app, ip="198.51.100.7"), "victim@example.org", GOOD) == 200
    app.state.engine.dispose()
    # A restarted server still remembers the attacker's failures (they are in the database).
    again = create_app(config)
    assert _login(new_client(again, ip="203.0.113.9"), "victim@example.org", GOOD) == 429
    # The delay starts at 1 s (then doubles): after it, one more try is allowed.
    time.sleep(1.2)
    assert _login(new_client(again, ip="203.0.113.9"), "victim@example.org", "x") == 401
    assert _login(new_client(again, ip="203.0.113.9"), "victim@example.org", GOOD) == 429
    again.state.engine.dispose()


def test_per_ip_limit_across_accounts(config):
    config.login_ip_limit = 6
    app = create_app(config)
    sprayer = new_client(app, ip="192.0.2.1")
    codes = [_login(sprayer, f"user{i}@example.org", "guess") for i in range(8)]
    assert codes[:6] == [401] * 6 and codes[6:] == [429, 429]
    assert _login(new_client(app, ip="192.0.2.2"), "user0@example.org", "guess") == 401
    app.state.engine.dispose()


def test_token_scopes_and_tokens_cannot_mint_tokens(app, users, weights):
    owner = users["owner"]
    made = {
        s: owner.post("/api/tokens", json={"name": s, "scope": s}).json()
        for s in ("read", "inference", "full")
    }
    bearer = new_client(app)

    def call(scope: str, method: str, url: str, **kw):
        headers = {"Authorization": f"Bearer {made[scope]['token']}"}
        return bearer.request(method, url, headers=headers, **kw)

    new_project = {"json": {"name": "p", "task": "classification"}}
    assert call("read", "GET", "/api/projects").status_code == 200
    assert call("read", "POST", "/api/projects", **new_project).status_code == 403
    assert call("inference", "GET", "/api/projects").status_code == 403
    assert call("inference", "GET", "/api/auth/me").status_code == 200
    assert call("full", "POST", "/api/projects", **new_project).status_code == 201
    for scope in made:
        r = call(scope, "POST", "/api/tokens", json={"name": "child"})
        assert r.status_code == 403, scope
    listed = owner.get("/api/tokens").json()
    assert {t["scope"] for t in listed} == {"read", "inference", "full"} and len(listed) == 3
    # A token may revoke itself, not its siblings.
    assert call("full", "DELETE", f"/api/tokens/{made['read']['id']}").status_code == 403
    assert call("full", "DELETE", f"/api/tokens/{made['full']['id']}").status_code == 200
    assert call("full", "GET", "/api/auth/me").status_code == 401


def test_inference_token_predicts(app, users, weights):
    import cv2
    import numpy as np

    token = users["owner"].post("/api/tokens", json={"name": "pacs", "scope": "inference"}).json()
    ok, png = cv2.imencode(".png", np.zeros((32, 32), np.uint8))
    r = new_client(app).post(
        f"/api/v1/predict/{weights['id']}",
        content=png.tobytes(),
        headers={"Authorization": f"Bearer {token['token']}", "Content-Type": "image/png"},
    )
    assert r.status_code == 200, r.text


def test_password_change_and_admin_reset(app, users):
    owner = users["owner"]
    second = new_client(app)
    assert _login(second, "owner@example.org", "correct horse") == 200
    r = owner.post(
        "/api/auth/password", json={"current_password": "wrong one", "new_password": GOOD}
    )
    assert r.status_code == 403
    r = owner.post(
        "/api/auth/password", json={"current_password": "correct horse", "new_password": "password"}
    )
    assert r.status_code == 422 and "guess" in r.json()["detail"]
    r = owner.post(
        "/api/auth/password", json={"current_password": "correct horse", "new_password": GOOD}
    )
    assert r.status_code == 200, r.text
    assert owner.get("/api/auth/me").status_code == 200  # this session stays
    assert second.get("/api/auth/me").status_code == 401  # the others end
    assert _login(new_client(app), "owner@example.org", GOOD) == 200
    token = owner.post("/api/tokens", json={"name": "t"}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    r = new_client(app).post(
        "/api/auth/password",
        json={"current_password": GOOD, "new_password": "violet basalt river"},
        headers=bearer,
    )
    assert r.status_code == 403  # API tokens cannot change passwords

    admin = users["admin"]
    uid = owner.user["id"]
    assert (
        users["viewer"]
        .post(f"/api/admin/users/{uid}/password", json={"new_password": "violet basalt river"})
        .status_code
        == 403
    )
    r = admin.post(f"/api/admin/users/{uid}/password", json={"new_password": "violet basalt river"})
    assert r.status_code == 200, r.text
    assert owner.get("/api/auth/me").status_code == 401  # logged out everywhere
    assert new_client(app).get("/api/auth/me", headers=bearer).status_code == 401  # token revoked
    assert _login(new_client(app), "owner@example.org", "violet basalt river") == 200
    actions = [a["action"] for a in admin.get("/api/admin/audit").json()]
    assert "user.password_reset" in actions and "user.password_change" in actions


def test_migration_revokes_tokens_minted_by_tokens(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, name, password_hash, is_admin, created_at) "
                "VALUES (1, 'a@example.org', '', 'x', 1, CURRENT_TIMESTAMP)"
            )
        )
        for tid in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO api_tokens (id, user_id, name, prefix, token_hash, created_at) "
                    f"VALUES ({tid}, 1, 't{tid}', 'p{tid}', 'h{tid}', CURRENT_TIMESTAMP)"
                )
            )
        # token 1 was made from a session, token 2 by token 1
        conn.execute(
            text(
                "INSERT INTO audit_log (user_id, token_id, action, object_type, object_id, "
                "detail, ip, created_at) VALUES "
                "(1, NULL, 'token.create', 'api_token', 1, '{}', '', CURRENT_TIMESTAMP), "
                "(1, 1, 'token.create', 'api_token', 2, '{}', '', CURRENT_TIMESTAMP)"
            )
        )
    upgrade(engine)
    engine.dispose()
    with sqlite3.connect(tmp_path / "old.db") as db:  # read back outside SQLAlchemy
        rows = dict(db.execute("SELECT id, revoked_at IS NOT NULL FROM api_tokens"))
        scopes = {r[0] for r in db.execute("SELECT scope FROM api_tokens")}
    assert rows == {1: 0, 2: 1} and scopes == {"full"}


def test_account_page_has_password_forms(users):
    page = users["admin"].get("/tokens").text
    assert 'id="password-form"' in page and 'id="reset-form"' in page and 'name="scope"' in page
    assert 'id="reset-form"' not in users["owner"].get("/tokens").text
