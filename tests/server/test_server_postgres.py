"""The server on PostgreSQL: a throwaway cluster (Debian's PostgreSQL binaries, a Unix socket in a
temp folder) gets the Alembic migrations, and the API, the queue and the events work on it."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from _server_helpers import new_client
from _server_process import free_port
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from deephealth.server.app import create_app
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import Base, Job
from deephealth.server.jobs import queue
from deephealth.server.jobs.events import EventRecorder

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _pg(*args: str) -> None:
    cmd = [os.path.join(BIN[-1], args[0]), *args[1:]]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def postgres_url():
    if not BIN:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    pytest.importorskip("psycopg", reason="pip install psycopg[binary]")
    root = Path(tempfile.mkdtemp(prefix="dh-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    port = free_port()
    _pg("initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres")
    _pg(
        "pg_ctl",
        "-D",
        str(root / "data"),
        "-l",
        str(root / "log"),
        "-w",
        "start",
        "-o",
        f"-p {port} -k {root} -c listen_addresses='' -c fsync=off",
    )
    try:
        yield f"postgresql+psycopg://postgres@/postgres?host={root}&port={port}"
    finally:
        _pg("pg_ctl", "-D", str(root / "data"), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_server_on_postgresql(postgres_url, tmp_path, dataset_zip):
    config = ServerConfig(
        data_dir=tmp_path, db_url=postgres_url, argon2_time_cost=1, argon2_memory_kib=1024
    )
    app = create_app(config)
    try:
        with app.state.engine.connect() as conn:
            assert app.state.engine.dialect.name == "postgresql"
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        c = new_client(app)
        r = c.post(
            "/api/auth/signup",
            json={"email": "pg@example.org", "password": "correct horse battery"},
        )
        c.csrf = r.json()["csrf_token"]
        p = c.post("/api/projects", json={"name": "pg", "task": "classification"}).json()
        ds = c.post(
            f"/api/projects/{p['id']}/datasets",
            files={"file": ("d.zip", dataset_zip, "application/zip")},
        )
        assert ds.status_code == 201, ds.text
        jobs = [c.post(f"/api/projects/{p['id']}/trainings",
                       json={"dataset_id": ds.json()["id"], "family_id": 1}).json()
                for _ in range(2)]  # fmt: skip
        assert [j["queue_position"] for j in jobs] == [1, 2]
        with app.state.sessionmaker() as db:
            claimed_id = queue.claim_next(db, 1, queue.worker_name()).id
            assert claimed_id == jobs[0]["id"]
            assert queue.claim_next(db, 1, queue.worker_name()) is None
        EventRecorder(app.state.sessionmaker, claimed_id)(
            {"type": "epoch", "epoch": 1, "loss": 0.5, "metrics": {"accuracy": 0.75}, "x": [1]}
        )
        events = c.get(f"/api/jobs/{claimed_id}/events").json()["events"]
        assert events[-1]["metrics"] == {"accuracy": 0.75} and events[-1]["data"] == {"x": [1]}
        assert c.post(f"/api/jobs/{claimed_id}/stop").json()["stop_requested"]
        with app.state.sessionmaker() as db:
            assert db.get(Job, claimed_id).stop_requested
        actions = [a["action"] for a in c.get("/api/admin/audit").json()]
        assert actions[:2] == ["job.stop", "training.create"]
    finally:
        app.state.engine.dispose()
