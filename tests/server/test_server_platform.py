"""The platform around the API: migrations, configuration, the `serve` command, offline docs and
pages, the distributed-launcher hook, hyper-parameter definitions and segmentation inference."""

from __future__ import annotations

import re
from pathlib import Path

import _server_helpers as helpers
import cv2
import numpy as np
import pytest
from _server_helpers import new_client
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from deephealth.server.config import ServerConfig
from deephealth.server.db import migrate
from deephealth.server.db.engine import make_engine
from deephealth.server.db.models import Base


def test_migrations_build_the_model_schema_and_go_both_ways(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    head = migrate.current_revision(engine)
    assert head is not None
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff  # the migrations create exactly what the models describe
    migrate.upgrade(engine)  # idempotent
    from alembic import command

    command.downgrade(migrate.alembic_config(str(engine.url)), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert "jobs" in inspect(engine).get_table_names()
    engine.dispose()


def test_config_from_env_and_validation(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPHEALTH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DEEPHEALTH_WORKERS", "3")
    monkeypatch.setenv("DEEPHEALTH_AUTO_RESUME", "0")
    monkeypatch.setenv("DEEPHEALTH_APPROVED_FOLDERS", f"{tmp_path}/a:{tmp_path}/b")
    cfg = ServerConfig.from_env(max_concurrent_jobs=4)
    assert cfg.workers == 3 and cfg.auto_resume is False and cfg.max_concurrent_jobs == 4
    assert cfg.approved_folders == [tmp_path / "a", tmp_path / "b"]
    assert cfg.database_url == f"sqlite:///{tmp_path / 'deephealth.db'}"
    assert ServerConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="launcher"):
        ServerConfig(launcher="cloud")
    pg = ServerConfig(data_dir=tmp_path, db_url="postgresql+psycopg://u:p@db/deephealth")
    assert pg.database_url.startswith("postgresql")


def test_serve_command_is_registered():
    from deephealth.cli import build_parser

    args = build_parser().parse_args(
        ["serve", "--port", "9000", "--data-dir", "/tmp/x", "--workers", "0", "--db-url",
         "sqlite:///x.db", "--approved-folder", "/a", "--approved-folder", "/b"]
    )  # fmt: skip
    assert (args.port, args.workers, args.approved_folder) == (9000, 0, ["/a", "/b"])
    assert args.func.__module__ == "deephealth.cli.serve"


def test_import_deephealth_does_not_import_the_web_stack():
    import subprocess
    import sys

    code = "import sys, deephealth; assert 'fastapi' not in sys.modules and 'sqlalchemy' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_docs_and_pages_work_offline(app):
    c = new_client(app)
    docs = c.get("/docs")
    assert docs.status_code == 200
    external = re.findall(r"""(?:src|href)=["']?(https?://[^"' >]+)""", docs.text)
    assert external == []  # no CDN
    for src in re.findall(r"""(?:src|href)=["']?(/static/[^"' >]+)""", docs.text):
        assert c.get(src).status_code == 200, src
    assert c.get("/openapi.json").json()["info"]["title"] == "DeepHealth"
    login = c.get("/login")
    assert "script-src 'self'" in login.headers["content-security-policy"]
    assert not re.findall(r"https?://(?!www\.w3\.org)", login.text)
    js = c.get("/static/app.js").text
    assert "http://" not in js.replace("http://www.w3.org/2000/svg", "")
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"


def test_distributed_launcher_hook(config, tmp_path):
    from deephealth.pipelines.synthetic import generate_dataset
    from deephealth.server.jobs.launcher import launch_training

    data = generate_dataset(tmp_path / "data", "classification", n_patients=12, shape=(16, 16))
    config.launcher = "distributed"
    config.launcher_options = {"nproc": 2, "max_restarts": 0}
    cfg = {"task": "classification", "dataset": str(data), "model": "lenet", "epochs": 1}
    result = launch_training(config, cfg, tmp_path / "run", lambda e: None, lambda: True, False)
    assert result["status"] == "stopped"  # handed to `deephealth launch`, then stopped on request
    assert result["launch"].nproc == 2


def test_hyperparameter_definitions_per_family_and_dataset(users, project, dataset):
    admin, owner, viewer = users["admin"], users["owner"], users["viewer"]
    general = {d["name"]: d for d in owner.get("/api/hyperparameters").json()}
    assert general["epochs"]["default"] == 10 and "adam" in general["optimizer"]["allowed"]
    body = {"name": "epochs", "kind": "int", "default": 3, "minimum": 1, "maximum": 5}
    assert owner.put("/api/hyperparameters", json={**body, "family_id": 1}).status_code == 403
    assert admin.put("/api/hyperparameters", json={**body, "family_id": 1}).status_code == 200
    per_dataset = {**body, "default": 2, "dataset_id": dataset["id"]}
    assert viewer.put("/api/hyperparameters", json=per_dataset).status_code == 403
    assert owner.put("/api/hyperparameters", json=per_dataset).status_code == 200
    bad = {**body, "default": 9, "dataset_id": dataset["id"]}
    assert owner.put("/api/hyperparameters", json=bad).status_code == 422
    fam = {d["name"]: d for d in owner.get("/api/hyperparameters?family_id=1").json()}
    both = {
        d["name"]: d
        for d in owner.get(f"/api/hyperparameters?family_id=1&dataset_id={dataset['id']}").json()
    }
    assert fam["epochs"]["default"] == 3 and both["epochs"]["default"] == 2
    job = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": dataset["id"], "family_id": 1},
    ).json()
    assert job["config"]["epochs"] == 2 and job["hyperparameters"]["epochs"] == 2
    r = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": dataset["id"], "family_id": 1, "hyperparameters": {"epochs": 6}},
    )
    assert r.status_code == 422 and "above" in r.text


def test_segmentation_prediction_mask_and_overlay(users, tmp_path):
    owner = users["owner"]
    project = owner.post("/api/projects", json={"name": "seg", "task": "segmentation"}).json()
    model = helpers.tiny_segmenter_onnx(tmp_path / "seg.onnx")
    w = owner.post(
        f"/api/projects/{project['id']}/weights",
        files={"file": ("seg.onnx", model.read_bytes(), "x/y")},
    )
    assert w.status_code == 201, w.text
    url = f"/api/v1/predict/{w.json()['id']}"
    image = helpers.png_bytes(size=48)
    out = owner.post(url, content=image).json()
    assert out["task"] == "segmentation" and out["mask_shape"] == [48, 48]
    import base64

    mask = cv2.imdecode(np.frombuffer(base64.b64decode(out["mask_png"]), np.uint8), 0)
    assert mask.shape == (48, 48) and set(np.unique(mask)) <= {0, 1}
    assert abs(out["foreground_fraction"] - (mask > 0).mean()) < 1e-6
    png = owner.post(url + "?format=png", content=image)
    assert np.array_equal(cv2.imdecode(np.frombuffer(png.content, np.uint8), 0), mask)
    over = owner.post(url + "?format=overlay", content=image)
    pic = cv2.imdecode(np.frombuffer(over.content, np.uint8), cv2.IMREAD_COLOR)
    assert pic.shape[2] == 3 and over.headers["x-prediction"].startswith("foreground")
    if (mask > 0).any():
        assert (np.abs(pic[:, :, 2].astype(int) - pic[:, :, 0]) > 20).any()  # coloured pixels
    assert owner.post(url + "?format=bogus", content=image).status_code == 422


@pytest.mark.parametrize("kind", ["jpeg", "dicom", "nifti"])
def test_prediction_reads_every_image_format(users, weights, tmp_path, kind):
    owner = users["owner"]
    if kind == "jpeg":
        data = cv2.imencode(".jpg", np.full((40, 30, 3), 120, np.uint8))[1].tobytes()
    elif kind == "dicom":
        from pydicom.data import get_testdata_file

        data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    else:
        import nibabel as nib

        path = tmp_path / "v.nii.gz"
        nib.save(nib.Nifti1Image(np.random.rand(20, 20, 6).astype(np.float32), np.eye(4)), path)
        data = path.read_bytes()
    r = owner.post(f"/api/v1/predict/{weights['id']}", files={"file": ("img", data, "x/y")})
    assert r.status_code == 200, r.text
    assert abs(sum(r.json()["probabilities"].values()) - 1) < 1e-4


def test_used_weights_and_datasets_cannot_be_deleted(users, project, dataset, weights):
    owner = users["owner"]
    r = owner.post(
        f"/api/projects/{project['id']}/inferences",
        json={"weights_id": weights["id"], "dataset_id": dataset["id"], "split": "test"},
    )
    assert r.status_code == 201
    assert owner.delete(f"/api/weights/{weights['id']}").status_code == 409
    assert owner.delete(f"/api/datasets/{dataset['id']}").status_code == 409


def test_many_open_event_streams_do_not_starve_the_server(tmp_path, dataset_zip):
    import asyncio
    import time

    import httpx
    from _server_process import ServerProcess, api_client

    server = ServerProcess(tmp_path / "data", workers=0).start()
    try:
        client = api_client(server, "sse@example.org")
        p = client.post("/api/projects", json={"name": "s", "task": "classification"}).json()
        ds = client.post(
            f"/api/projects/{p['id']}/datasets",
            files={"file": ("d.zip", dataset_zip, "application/zip")},
        ).json()
        job = client.post(
            f"/api/projects/{p['id']}/trainings", json={"dataset_id": ds["id"], "family_id": 1}
        ).json()  # stays queued
        cookies = dict(client.cookies)

        async def main() -> float:
            async with httpx.AsyncClient(base_url=server.url, cookies=cookies, timeout=20) as ac:
                streams = []
                for _ in range(30):  # more than the database connection pool holds
                    cm = ac.stream("GET", f"/api/jobs/{job['id']}/stream")
                    r = await cm.__aenter__()
                    assert r.status_code == 200
                    streams.append((cm, r))
                for _, r in streams:
                    async for chunk in r.aiter_text():
                        if "queue_position" in chunk:
                            break
                t0 = time.perf_counter()
                other = await ac.get(f"/api/jobs/{job['id']}")
                elapsed = time.perf_counter() - t0
                assert other.json()["queue_position"] == 1
                for cm, _ in streams:
                    await cm.__aexit__(None, None, None)
                return elapsed

        assert asyncio.run(main()) < 5.0
    finally:
        server.stop()
