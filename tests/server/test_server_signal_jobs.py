"""Signal trainings and inferences as server jobs, over HTTP on a real app and database: a
signal_classification training stopped after its first epoch and resumed from its checkpoint
(epochs numbered on, history kept, weights bit-identical to an uninterrupted run with the same
seed), then an inference job over the test split of the recordings dataset: the events stored per
recording equal those of the single-recording inference path, the split's metrics equal a direct
computation with the pipeline's metric function, and the job's trace endpoint overlays them."""

from __future__ import annotations

import csv
import json

import _server_helpers as helpers
import numpy as np
import pytest
import torch

pytest.importorskip("pyedflib")

from deephealth.pipelines import metrics
from deephealth.pipelines.signals.events import event_metrics
from deephealth.pipelines.signals.predict import predict_recording
from deephealth.pipelines.signals.run import train_signal
from deephealth.pipelines.signals.synthetic import write_synthetic_dataset
from deephealth.server import recordings as rsvc
from deephealth.server.db.models import Job, ModelWeights
from deephealth.server.jobs import queue
from deephealth.server.jobs.runner import run_job


@pytest.fixture(scope="module")
def eeg_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eeg")
    write_synthetic_dataset(folder, splits={"training": 1, "test": 2}, duration=240, fs=64,
                            channels=2, seizures_per_hour=30, seed=3)  # fmt: skip
    return folder


def _run(app, job_id: int) -> str:
    """Claim and run a job in this process, as a worker's child would."""
    with app.state.sessionmaker() as db:
        claimed = queue.claim_next(db, 1, queue.worker_name())
        assert claimed is not None and claimed.id == job_id
    return run_job(app.state.sessionmaker, app.state.config, job_id, lambda: False)


def _truth(path) -> list[tuple[float, float]]:
    with open(path, newline="") as f:
        return [(float(r["onset"]), float(r["onset"]) + float(r["duration"]))
                for r in csv.DictReader(f) if r["label"] == "seizure"]  # fmt: skip


def test_signal_training_resume_and_split_inference(app, users, eeg_folder, tmp_path):
    owner = users["owner"]
    p = owner.post("/api/projects", json={"name": "EEG", "task": "signal_classification"}).json()
    ds = owner.post(f"/api/projects/{p['id']}/datasets",
                    files={"file": ("eeg.zip", helpers.zip_folder(eeg_folder), "application/zip")})  # fmt: skip
    assert ds.status_code == 201, ds.text
    ds = ds.json()
    cnn = next(f for f in owner.get("/api/families", params={"task": "signal_classification"}).json()
               if f["name"] == "cnn1d")  # fmt: skip
    r = owner.post(f"/api/projects/{p['id']}/trainings",
                   json={"dataset_id": ds["id"], "family_id": cnn["id"],
                         "hyperparameters": {"epochs": 2, "batch_size": 16, "lr": 0.003,
                                             "windows_per_epoch": 96}})  # fmt: skip
    assert r.status_code == 201, r.text
    jid = r.json()["id"]

    # Stopped while running: the epoch ends, the job is cancelled with its checkpoint.
    with app.state.sessionmaker() as db:
        queue.claim_next(db, 1, queue.worker_name())
    assert owner.post(f"/api/jobs/{jid}/stop").json()["stop_requested"]
    assert run_job(app.state.sessionmaker, app.state.config, jid, lambda: False) == "cancelled"
    with app.state.sessionmaker() as db:
        run_dir, cfg = db.get(Job, jid).run_dir, dict(db.get(Job, jid).config)
    ckpt = torch.load(f"{run_dir}/checkpoint/checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and len(ckpt["history"]) == 1

    # Resumed: epochs go on from the checkpoint, the history is kept.
    assert owner.post(f"/api/jobs/{jid}/resume").json()["resume"] is True
    assert _run(app, jid) == "finished", owner.get(f"/api/jobs/{jid}").json()["error"]
    events = owner.get(f"/api/jobs/{jid}/events").json()["events"]
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2]
    report = owner.get(f"/api/jobs/{jid}/report.json").json()
    assert report["run"]["resumed"] and [h["epoch"] for h in report["history"]] == [1, 2]
    # ... and ends bit-identical to an uninterrupted run of the same config and seed
    whole = train_signal(cfg, tmp_path / "whole")
    a = torch.load(tmp_path / "whole/checkpoint/checkpoint.pt", weights_only=True)
    b = torch.load(f"{run_dir}/checkpoint/checkpoint.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2
    for (name, x), y in zip(a["model"].items(), b["model"].values()):
        assert torch.equal(x, y), name
    assert [h["loss"] for h in report["history"]] == [h["loss"] for h in whole["history"]]
    wid = owner.get(f"/api/jobs/{jid}").json()["result"]["weights_id"]

    # Inference over the test split, as a job: events per recording and the split's metrics.
    inf = owner.post(f"/api/projects/{p['id']}/inferences",
                     json={"weights_id": wid, "dataset_id": ds["id"], "split": "test"})  # fmt: skip
    assert inf.status_code == 201, inf.text
    iid = inf.json()["id"]
    assert _run(app, iid) == "finished", owner.get(f"/api/jobs/{iid}").json()["error"]
    result = owner.get(f"/api/jobs/{iid}").json()
    assert result["dataset_id"] == ds["id"] and result["split"] == "test"
    preds = owner.get(f"/api/jobs/{iid}/files/predictions.json").json()
    rows = preds["predictions"]
    assert [(r["index"], r["name"]) for r in rows] == [(1, "rec001.edf"), (2, "rec002.edf")]
    progress = owner.get(f"/api/jobs/{iid}/events").json()["events"]
    # one progress event per recording; the recorder keeps at most one per 0.1 s (the first always)
    done = [e["metrics"]["done"] for e in progress if e["type"] == "batch"]
    assert done in ([1], [1, 2])

    # The same events as the single-recording inference path on the same file.
    truth, found, labels, scores, hours = [], [], [], [], 0.0
    for row in rows:
        edf = eeg_folder / row["name"]
        single = owner.post(f"/api/weights/{wid}/recordings",
                            files={"file": (row["name"], edf.read_bytes(), "x/y")})  # fmt: skip
        assert single.status_code == 201, single.text
        assert row["events"] == single.json()["events"]
        assert row["windows"] == single.json()["windows"]
        t = _truth(edf.with_suffix(".csv"))
        got = [(a["onset"], a["onset"] + a["duration"]) for a in row["annotations"]]
        np.testing.assert_allclose(got, t, atol=2e-3)
        truth.append(t)
        found.append([(e["onset"], e["end"], e["score"]) for e in row["events"]])
        hours += row["duration_s"] / 3600
    # The metrics: the pipeline's event metrics of the stored events against the CSV annotations.
    direct = event_metrics(truth, found, hours)
    summary = preds["summary"]
    assert summary["events_seizure"] == pytest.approx(direct)
    assert summary["event_sensitivity"] == direct["event_sensitivity"]
    assert summary["false_alarms_per_24h"] == direct["false_alarms_per_24h"]
    assert direct["events"] == sum(len(t) for t in truth) > 0
    assert summary == result["result"]["metrics"]
    # window metrics: the model's window scores against window labels from the annotations
    rds = rsvc.load(eeg_folder / "dataset.yml")
    with app.state.sessionmaker() as db:
        weights_path = db.get(ModelWeights, wid).path
    for row in rows:
        r = predict_recording(weights_path, rds.recordings[row["index"]])
        labels += r["labels"]
        scores += r["scores"]
    m = metrics.classification_metrics(np.array(labels), np.array(scores), 2)
    assert summary["accuracy"] == pytest.approx(m["accuracy"])
    assert summary["roc_auc"] == pytest.approx(m["roc_auc"])

    # The trace of a recording of the job, with its predicted events.
    tr = owner.get(f"/api/jobs/{iid}/recordings/{rows[0]['index']}/trace", params={"width": 300})
    assert tr.status_code == 200, tr.text
    predicted = [a for a in tr.json()["annotations"] if a["source"] == "prediction"]
    assert [(a["onset"], a["label"]) for a in predicted] == [
        (e["onset"], e["label"]) for e in rows[0]["events"]
    ]
    assert len(tr.json()["min"][0]) == 300
    assert owner.get(f"/api/jobs/{iid}/recordings/0/trace").status_code == 404  # training split
    assert owner.get(f"/api/jobs/{jid}/recordings/1/trace").status_code == 422  # a training job
    assert users["stranger"].get(f"/api/jobs/{iid}/recordings/1/trace").status_code == 404
    page = owner.get(f"/jobs/{iid}")
    assert page.status_code == 200 and "signal_results.js" in page.text
    assert json.dumps(preds)
