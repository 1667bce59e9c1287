"""Jobs end to end on a real database: the queue (limit, positions, stop, resume, recovery), a
real training through `deephealth.pipelines.run.train` stopped and resumed from its checkpoint,
its events (polling and server-sent events), model lineage, report, ONNX download, and an
inference job over a dataset split."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone

import onnxruntime as ort
import pytest

from deephealth.server.db.models import Job
from deephealth.server.jobs import queue
from deephealth.server.jobs.worker import run_in_child


def _training(owner, project, dataset, epochs: int = 2) -> dict:
    r = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={
            "dataset_id": dataset["id"],
            "family_id": 1,
            "hyperparameters": {"epochs": epochs, "batch_size": 8},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def _claim(app, limit: int = 1) -> Job | None:
    with app.state.sessionmaker() as db:
        return queue.claim_next(db, limit, queue.worker_name())


def _run(app, job_id: int) -> str:
    """Run a claimed job the way workers do: in a fresh child process."""
    run_in_child(app.state.config, job_id, lambda: False)
    with app.state.sessionmaker() as db:
        return db.get(Job, job_id).status


def _wait(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_queue_limit_positions_stop_resume(app, users, project, dataset):
    owner = users["owner"]
    jobs = [_training(owner, project, dataset) for _ in range(3)]
    assert [j["queue_position"] for j in jobs] == [1, 2, 3]
    assert jobs[0]["config"]["model"] == "lenet" and jobs[0]["config"]["epochs"] == 2
    claimed = _claim(app, limit=1)
    assert claimed.id == jobs[0]["id"] and claimed.status == "running"
    assert _claim(app, limit=1) is None  # the concurrency limit holds
    assert owner.get(f"/api/jobs/{jobs[1]['id']}").json()["queue_position"] == 1
    stopped = owner.post(f"/api/jobs/{jobs[1]['id']}/stop").json()
    assert stopped["status"] == "cancelled"
    assert owner.get(f"/api/jobs/{jobs[2]['id']}").json()["queue_position"] == 1
    assert owner.post(f"/api/jobs/{jobs[1]['id']}/stop").status_code == 409
    resumed = owner.post(f"/api/jobs/{jobs[1]['id']}/resume").json()
    assert resumed["status"] == "queued" and resumed["resume"] and resumed["queue_position"] == 2
    assert owner.post(f"/api/jobs/{jobs[2]['id']}/resume").status_code == 409
    statuses = [
        e["data"].get("status")
        for e in owner.get(f"/api/jobs/{jobs[1]['id']}/events").json()["events"]
    ]
    assert statuses == ["queued", "cancelled", "queued"]


@pytest.mark.parametrize("auto_resume", [True, False])
def test_orphaned_running_jobs_are_recovered(app, users, project, dataset, auto_resume):
    jobs = [_training(users["owner"], project, dataset)["id"] for _ in range(3)]
    now = datetime.now(timezone.utc)
    with app.state.sessionmaker() as db:
        rows = [db.get(Job, j) for j in jobs]
        for row, worker, beat in [
            (rows[0], "other-host:1", now),  # another host, fresh heartbeat: alive
            (rows[1], "other-host:2", now - timedelta(minutes=5)),  # another host, silent: lost
            (rows[2], queue.worker_name(pid=2**22 + 12345), now),  # no such process here: lost
        ]:
            row.status, row.worker, row.heartbeat_at = "running", worker, beat
        db.commit()
        assert sorted(queue.recover_orphans(db, auto_resume)) == jobs[1:]
        for row in rows:
            db.refresh(row)
    expected = "queued" if auto_resume else "interrupted"
    assert [r.status for r in rows] == ["running", expected, expected]
    assert rows[1].resume == auto_resume


def test_training_stop_resume_finish_report_download_inference(app, users, project, dataset):
    owner, viewer = users["owner"], users["viewer"]
    job = _training(owner, project, dataset, epochs=30)
    jid = job["id"]
    assert _claim(app).id == jid
    runner = threading.Thread(target=_run, args=(app, jid))
    runner.start()

    def epochs_done() -> list[dict]:
        events = owner.get(f"/api/jobs/{jid}/events").json()["events"]
        return [e for e in events if e["type"] == "epoch"]

    _wait(lambda: len(epochs_done()) >= 2, what="two epochs")
    assert owner.post(f"/api/jobs/{jid}/stop").json()["stop_requested"]
    runner.join(60)
    stopped = owner.get(f"/api/jobs/{jid}").json()
    assert stopped["status"] == "cancelled" and stopped["error"] == "stopped by user"
    done_before = len(epochs_done())
    assert 2 <= done_before < 30
    assert (
        "job 1" in owner.get(f"/api/jobs/{jid}/log").text or owner.get(f"/api/jobs/{jid}/log").text
    )

    # Resume: continues from the checkpoint (epoch numbers go on), finishes with the best model.
    owner.post(f"/api/jobs/{jid}/resume")
    with app.state.sessionmaker() as db:
        db.get(Job, jid).config["epochs"]
        row = db.get(Job, jid)
        row.config = {**row.config, "epochs": done_before + 2}
        db.commit()
    assert _claim(app).id == jid
    assert _run(app, jid) == "finished"
    epochs = epochs_done()
    assert [e["epoch"] for e in epochs] == list(range(1, done_before + 3))
    final = owner.get(f"/api/jobs/{jid}").json()
    assert final["status"] == "finished" and final["result"]["status"] == "completed"
    wid = final["result"]["weights_id"]

    # Lineage, ONNX download (viewers too), report pages.
    w = viewer.get(f"/api/weights/{wid}").json()
    assert w["origin"] == "training" and w["training_job_id"] == jid
    assert w["pretrained_on"] == "phantoms"
    onnx_bytes = viewer.get(f"/api/weights/{wid}/download").content
    sess = ort.InferenceSession(onnx_bytes)
    assert sess.get_inputs()[0].shape[1:] == [1, 32, 32] or len(sess.get_inputs()[0].shape) == 4
    report = viewer.get(f"/api/jobs/{jid}/report")
    assert report.status_code == 200 and "<html" in report.text.lower()
    kpis = viewer.get(f"/api/jobs/{jid}/report.json").json()
    assert kpis["run"]["resumed"] is True
    assert viewer.get(f"/api/jobs/{jid}/files/..%2F..%2Fdeephealth.db").status_code == 404

    # Server-sent events replay every stored event and end once the job is done.
    with viewer.stream("GET", f"/api/jobs/{jid}/stream") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert "event: epoch" in text and "event: end" in text
    assert text.count("event: epoch") == len(epochs)
    last = max(e["id"] for e in owner.get(f"/api/jobs/{jid}/events").json()["events"])
    with viewer.stream("GET", f"/api/jobs/{jid}/stream", headers={"Last-Event-ID": str(last)}) as r:
        assert "event: epoch" not in "".join(r.iter_text())

    # Single-image prediction with the trained model.
    image = next(iter((app.state.config.data_dir / "datasets").rglob("*.png")))
    pred = viewer.post(f"/api/v1/predict/{wid}", content=image.read_bytes()).json()
    assert pred["label"] in {"normal", "nodule", "cyst"}
    assert abs(sum(pred["probabilities"].values()) - 1) < 1e-4
    overlay = viewer.post(f"/api/v1/predict/{wid}?format=overlay", content=image.read_bytes())
    assert overlay.headers["content-type"] == "image/png" and overlay.headers["x-prediction"]

    # Inference over the test split, as a job.
    inf = owner.post(
        f"/api/projects/{project['id']}/inferences",
        json={"weights_id": wid, "dataset_id": dataset["id"], "split": "test"},
    )
    assert inf.status_code == 201, inf.text
    assert _claim(app).id == inf.json()["id"]
    assert _run(app, inf.json()["id"]) == "finished"
    result = owner.get(f"/api/jobs/{inf.json()['id']}").json()["result"]
    assert result["metrics"]["samples"] == dataset["stats"]["splits"]["test"]
    assert 0 <= result["metrics"]["accuracy"] <= 1
    preds = owner.get(f"/api/jobs/{inf.json()['id']}/files/predictions.json").json()
    assert len(preds["predictions"]) == result["metrics"]["samples"]
    assert json.dumps(preds)  # plain JSON


def test_training_validation_errors(users, project, dataset):
    owner = users["owner"]
    url = f"/api/projects/{project['id']}/trainings"
    base = {"dataset_id": dataset["id"], "family_id": 1}
    for body, words in [
        ({**base, "hyperparameters": {"epochs": 0}}, "below"),
        ({**base, "hyperparameters": {"optimizer": "magic"}}, "not in"),
        ({**base, "hyperparameters": {"nope": 1}}, "unknown hyper-parameter"),
        ({**base, "augmentations": {"training": "AugWhat x=1"}}, "invalid augmentation"),
        ({"dataset_id": dataset["id"]}, "model family"),
    ]:
        r = owner.post(url, json=body)
        assert r.status_code == 422 and words in r.text, (body, r.text)
    assert owner.post(url, json={**base, "family_id": 999}).status_code == 422


def test_training_from_starting_weights_records_lineage(users, project, dataset, weights):
    owner = users["owner"]
    r = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": dataset["id"], "base_weights_id": weights["id"], "family_id": 1},
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["base_weights_id"] == weights["id"] and job["config"]["model"].endswith(".onnx")
    other = users["stranger"].post("/api/projects", json={"name": "s", "task": "classification"})
    r = users["stranger"].post(
        f"/api/projects/{other.json()['id']}/trainings",
        json={"dataset_id": dataset["id"], "family_id": 1},
    )
    assert r.status_code == 404  # someone else's dataset


def test_failed_training_keeps_its_error_and_log_and_can_be_retried(app, users, project, dataset):
    owner = users["owner"]
    job = _training(owner, project, dataset)
    assert job["config"]["dataset"].startswith("<data>/")  # the API hides server paths
    with app.state.sessionmaker() as db:
        yaml_path = db.get(Job, job["id"]).config["dataset"]
    with open(yaml_path, "w") as f:
        f.write("name: broken\nimages: 12\n")  # the dataset file is damaged after queuing
    assert _claim(app).id == job["id"]
    assert _run(app, job["id"]) == "failed"
    failed = owner.get(f"/api/jobs/{job['id']}").json()
    assert failed["error"] and "dataset" in failed["error"].lower()
    assert str(app.state.config.data_dir) not in failed["error"]
    assert "Traceback" in owner.get(f"/api/jobs/{job['id']}/log").text
    assert owner.post(f"/api/jobs/{job['id']}/resume").json()["status"] == "queued"
