"""Fixtures of the server tests: a real app on a fresh SQLite database in a temp folder, HTTPS
test clients (so Secure cookies are sent) logged in as different users, and a synthetic dataset."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
pytest.importorskip("fastapi", reason="the server extra is not installed")

import _server_helpers as helpers  # noqa: E402
from _server_helpers import new_client, signup  # noqa: E402

from deephealth.server.app import create_app  # noqa: E402
from deephealth.server.config import ServerConfig  # noqa: E402


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    approved = tmp_path / "approved"
    approved.mkdir()
    return ServerConfig(
        data_dir=tmp_path / "data",
        approved_folders=[approved],
        job_threads=1,
        poll_interval_s=0.1,
        max_upload_bytes=8 * 1024 * 1024,
        max_image_upload_bytes=4 * 1024 * 1024,
        max_zip_total_bytes=16 * 1024 * 1024,
        max_zip_entries=40_000,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )


@pytest.fixture
def app(config: ServerConfig):
    application = create_app(config)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def users(app):
    """admin (first account), owner, viewer, stranger clients and an anonymous one."""
    admin = signup(app, "admin@example.org")
    owner = signup(app, "owner@example.org")
    viewer = signup(app, "viewer@example.org")
    stranger = signup(app, "stranger@example.org")
    return {
        "admin": admin,
        "owner": owner,
        "viewer": viewer,
        "stranger": stranger,
        "anonymous": new_client(app),
    }


@pytest.fixture
def project(users) -> dict:
    """A classification project of `owner` with `viewer` as viewer."""
    owner = users["owner"]
    p = owner.post("/api/projects", json={"name": "Phantoms", "task": "classification"}).json()
    r = owner.post(
        f"/api/projects/{p['id']}/members", json={"email": "viewer@example.org", "role": "viewer"}
    )
    assert r.status_code == 200, r.text
    return p


@pytest.fixture(scope="session")
def dataset_zip(tmp_path_factory) -> bytes:
    root = tmp_path_factory.mktemp("synthetic")
    helpers.make_dataset_dir(root)
    return helpers.zip_folder(root)


@pytest.fixture
def dataset(users, project, dataset_zip) -> dict:
    r = users["owner"].post(
        f"/api/projects/{project['id']}/datasets",
        files={"file": ("phantoms.zip", dataset_zip, "application/zip")},
        data={"name": "phantoms"},
    )
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="session")
def onnx_model(tmp_path_factory) -> Path:
    return helpers.tiny_classifier_onnx(tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture
def weights(users, project, onnx_model) -> dict:
    r = users["owner"].post(
        f"/api/projects/{project['id']}/weights",
        files={"file": ("tiny.onnx", onnx_model.read_bytes(), "application/octet-stream")},
        data={"name": "tiny", "pretrained_on": "nothing"},
    )
    assert r.status_code == 201, r.text
    return r.json()
