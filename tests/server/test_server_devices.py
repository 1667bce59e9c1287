"""The computing-service choice of trainings (auto/cpu/gpu, mixed precision), the CPU fallback of
a worker without GPU and the GPU-aware queue (one training per GPU unless configured), on the
real app and database. This machine has no GPU: the GPU counts are configured."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from deephealth.server import devices
from deephealth.server.db.models import Job, JobEvent
from deephealth.server.jobs import queue


def _family(client, name: str) -> int:
    return next(f["id"] for f in client.get("/api/families").json() if f["name"] == name)


def _train(client, project, dataset, **kw) -> dict:
    r = client.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": dataset["id"], "family_id": _family(client, "lenet"), **kw},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _job(app, job_id: int) -> tuple[dict, list[str]]:
    with app.state.sessionmaker() as db:
        cfg = dict(db.get(Job, job_id).config)
        msgs = [e.data.get("message", "") for e in db.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))]  # fmt: skip
    return cfg, msgs


def test_the_choice_is_stored_in_the_job_config(app, users, project, dataset):
    owner = users["owner"]
    cpu = _train(owner, project, dataset, device="cpu", mixed_precision="bf16")
    cfg, msgs = _job(app, cpu["id"])
    assert cfg["computing_service"]["type"] == "cpu"
    assert cfg["computing_service"]["mixed_precision"] is None  # only on the GPU
    auto = _train(owner, project, dataset)  # no GPU here: auto is the CPU
    cfg, msgs = _job(app, auto["id"])
    assert cfg["computing_service"]["type"] == "cpu" and "no GPU on this server" in msgs[0]
    gpu = _train(owner, project, dataset, device="gpu", mixed_precision="fp16")
    cfg, msgs = _job(app, gpu["id"])
    cs = cfg["computing_service"]
    assert (cs["type"], cs["gpus"], cs["mixed_precision"]) == ("gpu", [1], "fp16")
    assert "a worker without one runs it on the CPU" in msgs[0]
    r = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": dataset["id"], "family_id": _family(owner, "lenet"), "device": "tpu"},
    )
    assert r.status_code == 422


def test_auto_picks_the_gpu_when_the_server_has_one():
    cs, note = devices.computing_service("auto", "bf16", 4, gpus=2)
    assert cs == {"type": "gpu", "threads": 4, "gpus": [1], "mixed_precision": "bf16"}
    assert note == "computing service auto: GPU, bf16"
    assert devices.computing_service("cpu", "bf16", 4, gpus=2)[0] == {"type": "cpu", "threads": 4}


def test_worker_without_gpu_runs_a_gpu_job_on_the_cpu(app, users, project, dataset):
    job = _train(users["owner"], project, dataset, device="gpu", mixed_precision="bf16")
    with app.state.sessionmaker() as db:
        claimed = queue.claim_next(db, 2, "host:1", gpus=0)
        assert claimed.id == job["id"] and claimed.status == "running"
        assert claimed.config["computing_service"] == {"type": "cpu", "threads": 1}
    assert "no GPU on this worker: running on the CPU" in _job(app, job["id"])[1][-1]


def _add(db, project_id: int, gpu: bool) -> int:
    cs = {"type": "gpu", "threads": 1, "gpus": [1]} if gpu else {"type": "cpu", "threads": 1}
    job = Job(project_id=project_id, kind="training", config={"computing_service": cs})
    db.add(job)
    db.commit()
    return job.id


@pytest.mark.parametrize("gpus, per_gpu", [(1, 1), (2, 1), (1, 2)])
def test_queue_gives_each_gpu_its_trainings(app, project, gpus, per_gpu):
    with app.state.sessionmaker() as db:
        g1, g2, c1 = (
            _add(db, project["id"], True),
            _add(db, project["id"], True),
            _add(db, project["id"], False),
        )
        first = queue.claim_next(db, 10, "h:1", gpus, per_gpu)
        assert first.id == g1 and first.config["computing_service"]["gpus"] == [1]
        second = queue.claim_next(db, 10, "h:1", gpus, per_gpu)
        if gpus * per_gpu == 1:  # the GPU is busy: the CPU job passes the waiting GPU job
            assert second.id == c1
            assert queue.claim_next(db, 10, "h:1", gpus, per_gpu) is None
            queue.finish(db, first, "finished")
            third = queue.claim_next(db, 10, "h:1", gpus, per_gpu)
            assert third.id == g2 and third.config["computing_service"]["gpus"] == [1]
        else:  # a second slot: on the other GPU, or shared
            assert second.id == g2
            mask = second.config["computing_service"]["gpus"]
            assert mask == ([0, 1] if gpus == 2 else [1])
            assert queue.claim_next(db, 10, "h:1", gpus, per_gpu).id == c1


def test_a_gpu_slot_taken_twice_goes_back_to_the_queue(app, project):
    with app.state.sessionmaker() as db:
        a, b = _add(db, project["id"], True), _add(db, project["id"], True)
        assert queue.claim_next(db, 10, "h:1", 1, 1).id == a
        # another worker counted before `a` ran and claimed `b` for the same GPU
        db.get(Job, b).status, db.get(Job, b).config = "running", devices.on_gpu(
            db.get(Job, b).config, 0)  # fmt: skip
        db.commit()
        assert not queue._gpu_slot_held(db, b, 0, 1)
        db.refresh(db.get(Job, b))
        assert db.get(Job, b).status == "queued"
