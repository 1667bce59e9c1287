"""Explanations on the REST endpoint (`?explain=`) and the live augmentation preview endpoint,
against the real app on SQLite with a real ONNX model exported by deephealth.eddl."""

from __future__ import annotations

import base64
import time
from urllib.parse import unquote

import _server_helpers as helpers
import cv2
import numpy as np
import pytest

pytest.importorskip("captum", reason="the explain extra is not installed")


def _png(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("method", ["gradcam", "integrated_gradients", "occlusion"])
def test_predict_explain_returns_a_heat_map_png(users, weights, method):
    image = helpers.png_bytes(32, seed=4)
    r = users["viewer"].post(f"/api/v1/predict/{weights['id']}?explain={method}", content=image)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    pic = _png(r.content)
    assert pic.ndim == 3 and pic.shape[1] == 512  # fitted, with the caption band under it
    label = users["viewer"].post(f"/api/v1/predict/{weights['id']}", content=image).json()["label"]
    assert unquote(r.headers["x-explanation"]) == f"{method} {label}"
    gray = _png(
        users["viewer"]
        .post(f"/api/v1/predict/{weights['id']}?format=overlay", content=image)
        .content
    )
    assert np.abs(pic[:512].astype(int) - gray[:512].astype(int)).mean() > 1  # colour drawn over


def test_predict_explain_errors(users, weights, project):
    image = helpers.png_bytes(32)
    r = users["viewer"].post(f"/api/v1/predict/{weights['id']}?explain=shap", content=image)
    assert r.status_code == 422 and "gradcam" in r.json()["detail"]
    seg = users["owner"].post("/api/projects", json={"name": "S", "task": "segmentation"}).json()
    r = users["owner"].post(
        f"/api/projects/{seg['id']}/weights",
        files={"file": ("s.onnx", weights_bytes(), "application/octet-stream")},
        data={"name": "s"},
    )
    r = users["owner"].post(f"/api/v1/predict/{r.json()['id']}?explain=gradcam", content=image)
    assert r.status_code == 422 and "classification" in r.json()["detail"]
    r = users["stranger"].post(f"/api/v1/predict/{weights['id']}?explain=gradcam", content=image)
    assert r.status_code == 404


def weights_bytes() -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        return helpers.tiny_segmenter_onnx(Path(d) / "s.onnx").read_bytes()


@pytest.fixture
def seg_dataset(users, tmp_path) -> dict:
    owner = users["owner"]
    p = owner.post("/api/projects", json={"name": "Seg", "task": "segmentation"}).json()
    helpers.make_dataset_dir(tmp_path / "seg", n=8, size=48, task="segmentation")
    r = owner.post(
        f"/api/projects/{p['id']}/datasets",
        files={"file": ("seg.zip", helpers.zip_folder(tmp_path / "seg"), "application/zip")},
        data={"name": "seg"},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _draws(client, ds_id: int, text: str, **kw) -> dict:
    r = client.post(f"/api/datasets/{ds_id}/augmentation-preview", json={"text": text, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def test_augmentation_preview_draws_image_and_mask(users, seg_dataset):
    owner, ds = users["owner"], seg_dataset["id"]
    plain = _draws(owner, ds, "", index=2, n=1)
    assert plain["draws"][0]["mask"] is not None
    original = _png(base64.b64decode(plain["draws"][0]["image"]))
    with_mask = _png(base64.b64decode(plain["draws"][0]["mask"]))
    assert (with_mask != np.repeat(original[..., None], 3, 2)).any()  # the mask is drawn

    mirror = _draws(
        owner, ds, "SequentialAugmentationContainer\n  AugMirror p=1\nend", index=2, n=2
    )
    for d in mirror["draws"]:
        np.testing.assert_array_equal(_png(base64.b64decode(d["image"])), original[:, ::-1])
        np.testing.assert_array_equal(_png(base64.b64decode(d["mask"])), with_mask[:, ::-1])

    text = "SequentialAugmentationContainer\n  AugRotate angle=[-90,90]\nend"
    start = time.perf_counter()
    rot = _draws(owner, ds, text, index=2, n=6, seed=7)
    elapsed = time.perf_counter() - start
    images = [d["image"] for d in rot["draws"]]
    assert len(set(images)) == 6  # independent draws
    assert _draws(owner, ds, text, index=2, n=6, seed=7)["draws"] == rot["draws"]  # seeded
    assert elapsed < 1.0, elapsed
    # viewers of the project may preview too; strangers may not see the dataset
    assert (
        users["stranger"]
        .post(f"/api/datasets/{ds}/augmentation-preview", json={"text": ""})
        .status_code
        == 404
    )


def test_augmentation_preview_errors_name_line_and_column(users, seg_dataset):
    owner, ds = users["owner"], seg_dataset["id"]
    bad = "SequentialAugmentationContainer\n  AugRotate angel=[-5,5]\nend"
    r = owner.post(f"/api/datasets/{ds}/augmentation-preview", json={"text": bad})
    assert r.status_code == 422
    assert "line 2" in r.json()["detail"] and "column" in r.json()["detail"]
    r = owner.post(f"/api/datasets/{ds}/augmentation-preview", json={"text": "", "index": 999})
    assert r.status_code == 404
    r = owner.post(f"/api/datasets/{ds}/augmentation-preview", json={"text": "", "n": 50})
    assert r.status_code == 422


def test_inference_job_explanations(app, users, project, dataset, weights):
    from deephealth.server.db.models import Job
    from deephealth.server.jobs import queue
    from deephealth.server.jobs.worker import run_in_child

    owner = users["owner"]
    r = owner.post(
        f"/api/projects/{project['id']}/inferences",
        json={"weights_id": weights["id"], "dataset_id": dataset["id"], "split": "test"},
    )
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    with app.state.sessionmaker() as db:
        assert queue.claim_next(db, 1, queue.worker_name()).id == job_id
    run_in_child(app.state.config, job_id, lambda: False)
    with app.state.sessionmaker() as db:
        assert db.get(Job, job_id).status == "finished"
    preds = owner.get(f"/api/jobs/{job_id}/files/predictions.json").json()["predictions"]
    first = preds[0]
    r = users["viewer"].get(f"/api/jobs/{job_id}/samples/{first['index']}/explanation")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert _png(r.content).shape[1] == 512
    missing = max(p["index"] for p in preds) + 1000
    assert owner.get(f"/api/jobs/{job_id}/samples/{missing}/explanation").status_code == 404
    bad = owner.get(f"/api/jobs/{job_id}/samples/{first['index']}/explanation?method=lime")
    assert bad.status_code == 422
    stranger = users["stranger"].get(f"/api/jobs/{job_id}/samples/{first['index']}/explanation")
    assert stranger.status_code == 404
    page = owner.get(f"/jobs/{job_id}").text
    assert 'id="inference-results"' in page and "/static/inference_results.js" in page
