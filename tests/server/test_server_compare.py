"""The job list with filters and progress, and the comparison of two real trainings (run the way
workers run them, in a child process) on the real app and database."""

from __future__ import annotations

import threading

import pytest

from deephealth.server.db.models import Job
from deephealth.server.jobs import queue
from deephealth.server.jobs.worker import run_in_child


def _family(client, name: str) -> int:
    return next(f["id"] for f in client.get("/api/families").json() if f["name"] == name)


def _train(owner, project, dataset, lr: float) -> int:
    r = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={
            "dataset_id": dataset["id"],
            "family_id": _family(owner, "lenet"),
            "hyperparameters": {"epochs": 2, "batch_size": 8, "lr": lr},
            "device": "cpu",
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.mark.slow
def test_job_list_filters_progress_and_run_comparison(app, users, project, dataset):
    owner, pid = users["owner"], project["id"]
    a, b = _train(owner, project, dataset, 0.01), _train(owner, project, dataset, 0.0001)
    c = _train(owner, project, dataset, 0.001)  # stays queued
    runners = []
    for job_id in (a, b):  # two workers at once
        with app.state.sessionmaker() as db:
            assert queue.claim_next(db, 2, queue.worker_name()).id == job_id
        runners.append(
            threading.Thread(target=run_in_child, args=(app.state.config, job_id, lambda: False))
        )
        runners[-1].start()
    for t in runners:
        t.join()
    with app.state.sessionmaker() as db:
        assert [db.get(Job, j).status for j in (a, b)] == ["finished", "finished"]

    rows = owner.get(f"/api/projects/{pid}/job-list").json()
    assert [r["id"] for r in rows] == [c, b, a]
    done = {r["id"]: r for r in rows}
    assert done[a]["progress"] == {"epoch": 2, "epochs": 2} and done[c]["progress"] is None
    assert done[a]["family"] == "lenet" and done[a]["device"] == "cpu"
    finished = owner.get(f"/api/projects/{pid}/job-list?status=finished&kind=training").json()
    assert [r["id"] for r in finished] == [b, a]
    assert [r["id"] for r in owner.get(f"/api/projects/{pid}/job-list?status=queued").json()] == [c]
    assert owner.get(f"/api/projects/{pid}/job-list?status=done").status_code == 422

    cmp = users["viewer"].get(f"/api/projects/{pid}/compare?jobs={a},{b}").json()["runs"]
    assert [r["id"] for r in cmp] == [a, b]
    assert [r["hyperparameters"]["lr"] for r in cmp] == [0.01, 0.0001]
    for run in cmp:
        assert [e["epoch"] for e in run["epochs"]] == [1, 2]
        assert all(isinstance(e["loss"], float) for e in run["epochs"])
        assert "accuracy" in run["kpis"] and 0 <= run["kpis"]["accuracy"] <= 1
        report = owner.get(f"/api/jobs/{run['id']}/report.json").json()
        assert run["kpis"] == report["kpis"]
    assert cmp[0]["epochs"] != cmp[1]["epochs"]  # different learning rates, different curves
    assert owner.get(f"/api/projects/{pid}/compare?jobs={a}").status_code == 422
    assert owner.get(f"/api/projects/{pid}/compare?jobs={a},x").status_code == 422
    assert owner.get(f"/api/projects/{pid}/compare?jobs={a},99999").status_code == 404
    assert users["stranger"].get(f"/api/projects/{pid}/compare?jobs={a},{b}").status_code == 404
