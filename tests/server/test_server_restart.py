"""The restart test: kill `deephealth serve` and its workers (SIGKILL, whole process group) in the
middle of a training, start it again on the same data folder, and the training continues from its
checkpoint; stop the server gracefully (SIGTERM) mid-training, and the job goes back to the queue;
start it a third time and the training finishes (epoch numbers go on; nothing is redone from
scratch)."""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest
from _server_process import ServerProcess, api_client


def _epochs(client, job_id: int) -> list[int]:
    events = client.get(f"/api/jobs/{job_id}/events").json()["events"]
    return [e["epoch"] for e in events if e["type"] == "epoch"]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_kill_server_and_workers_mid_training_then_finish_from_checkpoint(tmp_path, dataset_zip):
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    try:
        client = api_client(server, "restart@example.org")
        project = client.post("/api/projects", json={"name": "r", "task": "classification"}).json()
        ds = client.post(
            f"/api/projects/{project['id']}/datasets",
            files={"file": ("d.zip", dataset_zip, "application/zip")},
        ).json()
        job = client.post(
            f"/api/projects/{project['id']}/trainings",
            json={
                "dataset_id": ds["id"],
                "family_id": 1,
                "hyperparameters": {"epochs": 10, "batch_size": 4},
            },
        ).json()
        _wait(lambda: len(_epochs(client, job["id"])) >= 2, 90, "two epochs")
        server.kill()
    finally:
        server.stop()
    # The database still says running: nobody told it otherwise.
    with sqlite3.connect(data / "deephealth.db") as db:
        status, done = db.execute(
            "select status, (select max(epoch) from job_events where "
            "job_id=jobs.id) from jobs where id=?",
            (job["id"],),
        ).fetchone()
    assert status == "running" and 2 <= done < 10

    # Second start: the orphaned job is re-queued and resumes; a graceful stop hands it back.
    server = ServerProcess(data).start()
    try:
        client = _login(server)
        _wait(lambda: max(_epochs(client, job["id"]), default=0) > done, 90, "resumed epochs")
    finally:
        server.stop()
    with sqlite3.connect(data / "deephealth.db") as db:
        status, resume = db.execute("select status, resume from jobs").fetchone()
    assert (status, resume) == ("queued", 1)

    server = ServerProcess(data).start()
    try:
        client = _login(server)
        final = _wait(
            lambda: (
                (j := client.get(f"/api/jobs/{job['id']}").json())["status"]
                in ("finished", "failed")
                and j
            ),
            180,
            "the training to finish",
        )
        assert final["status"] == "finished", final["error"]
        epochs = _epochs(client, job["id"])
        assert epochs.count(1) == 1, epochs  # not restarted from scratch
        assert sorted(set(epochs)) == list(range(1, 11))
        statuses = [
            e["data"].get("status")
            for e in client.get(f"/api/jobs/{job['id']}/events").json()["events"]
            if e["type"] == "status"
        ]
        assert statuses.count("queued") >= 3  # created, re-queued after the kill, handed back
        report = client.get(f"/api/jobs/{job['id']}/report.json").json()
        assert report["run"]["resumed"] is True
        assert client.get(f"/api/weights/{final['result']['weights_id']}/download").content
    finally:
        server.stop()


def _login(server: ServerProcess) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    r = client.post(
        "/api/auth/login",
        json={"email": "restart@example.org", "password": "correct horse battery"},
    )
    r.raise_for_status()
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client
