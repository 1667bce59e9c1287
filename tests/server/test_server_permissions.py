"""The permission matrix: every project-scoped endpoint called by the owner, a viewer, a
stranger, an anonymous client and API tokens (owner's, viewer's, revoked). Strangers get the same
404 for an existing object as for a missing one, so guessing ids reveals nothing."""

from __future__ import annotations

import _server_helpers as helpers
import pytest
from _server_helpers import new_client

MISSING = 987654

# (method, url template, json body or "files", least role that may call it)
ENDPOINTS = [
    ("GET", "/api/projects/{project}", None, "viewer"),
    ("PATCH", "/api/projects/{project}", {"description": "d"}, "owner"),
    ("GET", "/api/projects/{project}/members", None, "viewer"),
    (
        "POST",
        "/api/projects/{project}/members",
        {"email": "admin@example.org", "role": "viewer"},
        "owner",
    ),
    ("GET", "/api/projects/{project}/audit", None, "owner"),
    ("GET", "/api/projects/{project}/datasets", None, "viewer"),
    ("POST", "/api/projects/{project}/datasets", "dataset", "owner"),
    ("GET", "/api/datasets/{dataset}", None, "viewer"),
    ("GET", "/api/datasets/{dataset}/samples", None, "viewer"),
    ("GET", "/api/datasets/{dataset}/samples/0/thumbnail", None, "viewer"),
    ("GET", "/api/datasets/{dataset}/augmentations", None, "viewer"),
    ("PUT", "/api/datasets/{dataset}/augmentations/training", {"text": "AugMirror p=0.5"}, "owner"),
    ("GET", "/api/hyperparameters?dataset_id={dataset}", None, "viewer"),
    ("GET", "/api/projects/{project}/weights", None, "viewer"),
    ("POST", "/api/projects/{project}/weights", "onnx", "owner"),
    ("GET", "/api/weights/{weights}", None, "viewer"),
    ("GET", "/api/weights/{weights}/download", None, "viewer"),
    ("POST", "/api/v1/predict/{weights}", "image", "viewer"),
    ("POST", "/api/projects/{project}/trainings", "training", "owner"),
    ("POST", "/api/projects/{project}/inferences", "inference", "owner"),
    ("GET", "/api/projects/{project}/jobs", None, "viewer"),
    ("GET", "/api/jobs/{job}", None, "viewer"),
    ("GET", "/api/jobs/{job}/events", None, "viewer"),
    ("GET", "/api/jobs/{job}/log", None, "viewer"),
    ("POST", "/api/jobs/{job}/stop", None, "owner"),
    ("POST", "/api/jobs/{job}/resume", None, "owner"),
    ("GET", "/projects/{project}", None, "viewer"),
    ("GET", "/datasets/{dataset}", None, "viewer"),
    ("GET", "/jobs/{job}", None, "viewer"),
    ("GET", "/weights/{weights}", None, "viewer"),
]
DELETES = [
    ("DELETE", "/api/weights/{weights}"),
    ("DELETE", "/api/datasets/{dataset}"),
    ("DELETE", "/api/projects/{project}"),
]


@pytest.fixture
def world(users, project, dataset, weights, dataset_zip, onnx_model):
    owner = users["owner"]
    job = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": dataset["id"], "family_id": 1, "hyperparameters": {"epochs": 1}},
    )
    assert job.status_code == 201, job.text
    tokens = {}
    for who in ("owner", "viewer"):
        tokens[who] = users[who].post("/api/tokens", json={"name": who}).json()["token"]
    revoked = owner.post("/api/tokens", json={"name": "old"}).json()
    owner.delete(f"/api/tokens/{revoked['id']}")
    ids = {
        "project": project["id"],
        "dataset": dataset["id"],
        "weights": weights["id"],
        "job": job.json()["id"],
    }
    bodies = {
        "dataset": {"files": {"file": ("d.zip", dataset_zip, "application/zip")}},
        "onnx": {"files": {"file": ("m.onnx", onnx_model.read_bytes(), "x/y")}},
        "image": {"files": {"file": ("x.png", helpers.png_bytes(), "image/png")}},
        "training": {"json": {"dataset_id": dataset["id"], "family_id": 1}},
        "inference": {
            "json": {"weights_id": weights["id"], "dataset_id": dataset["id"], "split": "test"}
        },
    }
    return {"ids": ids, "tokens": tokens, "revoked": revoked["token"], "bodies": bodies}


def _call(client, method, url, body, bodies, headers=None):
    kw = {"headers": headers or {}, "follow_redirects": False}
    if isinstance(body, str):
        kw.update(bodies[body])
    elif body is not None:
        kw["json"] = body
    return client.request(method, url, **kw)


def _actors(app, users, world):
    token_client = new_client(app)
    return [
        ("anonymous", users["anonymous"], {}, None),
        ("revoked", token_client, {"Authorization": f"Bearer {world['revoked']}"}, None),
        ("stranger", users["stranger"], {}, None),
        ("viewer", users["viewer"], {}, "viewer"),
        (
            "viewer-token",
            token_client,
            {"Authorization": f"Bearer {world['tokens']['viewer']}"},
            "viewer",
        ),
        ("owner", users["owner"], {}, "owner"),
        (
            "owner-token",
            token_client,
            {"Authorization": f"Bearer {world['tokens']['owner']}"},
            "owner",
        ),
    ]


def _expect(role: str | None, need: str, name: str, page: bool) -> set[int] | None:
    if name in ("anonymous", "revoked"):
        return {307} if page and name == "anonymous" else {401}
    if role is None:
        return {404}
    if need == "owner" and role == "viewer":
        return {403}
    return None  # allowed: anything but 401/403/404


def test_permission_matrix(app, users, world):
    ids, bodies = world["ids"], world["bodies"]
    failures = []
    for method, template, body, need in ENDPOINTS:
        url = template.format(**ids)
        page = not url.startswith("/api/")
        for name, client, headers, role in _actors(app, users, world):
            if page and "token" in name:
                continue
            r = _call(client, method, url, body, bodies, headers)
            expected = _expect(role, need, name, page)
            ok = r.status_code in expected if expected else r.status_code not in (401, 403, 404)
            if not ok:
                failures.append(f"{name} {method} {url}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


def test_strangers_cannot_tell_existing_ids_from_missing_ones(users, world):
    stranger = users["stranger"]
    for method, template, body, _ in ENDPOINTS:
        if not template.startswith("/api/") or "{" not in template:
            continue
        real = template.format(**world["ids"])
        fake = template.format(**{k: MISSING for k in world["ids"]})
        a = _call(stranger, method, real, body, world["bodies"])
        b = _call(stranger, method, fake, body, world["bodies"])
        assert (a.status_code, a.json()) == (b.status_code, b.json()), real


def test_deletes(users, world):
    ids = world["ids"]
    for method, template in DELETES:
        url = template.format(**ids)
        assert users["anonymous"].request(method, url).status_code == 401
        assert users["stranger"].request(method, url).status_code == 404
        assert users["viewer"].request(method, url).status_code == 403
    # Weights used by a training cannot go; the project (and everything in it) can.
    assert users["owner"].delete(f"/api/projects/{ids['project']}").status_code == 200
    assert users["owner"].get(f"/api/datasets/{ids['dataset']}").status_code == 404
    assert users["owner"].get("/api/projects").json() == []


def test_last_owner_stays(users, project):
    owner = users["owner"]
    me = owner.user["id"]
    r = owner.delete(f"/api/projects/{project['id']}/members/{me}")
    assert r.status_code == 409
    r = owner.post(
        f"/api/projects/{project['id']}/members",
        json={"email": "owner@example.org", "role": "viewer"},
    )
    assert r.status_code == 409
    viewer_id = users["viewer"].user["id"]
    assert owner.delete(f"/api/projects/{project['id']}/members/{viewer_id}").status_code == 200
    assert users["viewer"].get(f"/api/projects/{project['id']}").status_code == 404
