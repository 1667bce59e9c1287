"""REST inference with a detector: `POST /api/v1/predict/{id}` answers the boxes of the exported
model (NonMaxSuppression in the graph, onnxruntime only) in the sent image's own pixels, and
`?format=overlay` draws them on the image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    import deephealth.eddl as eddl
    from deephealth.eddl import zoo
    from deephealth.eddl.zoo.detection.onnx_nms import save_detector

    torch.manual_seed(0)
    net = zoo.build_model("fcos", (1, 32, 32), 2, filters=(8, 16), fpn_filters=8, stride=2)
    eddl.build(net, eddl.adam(1e-3), ["fcos"], [], eddl.CS_CPU(1))
    path = tmp_path_factory.mktemp("det") / "det.onnx"
    save_detector(net, path, 2, 2, iou_threshold=0.3, score_threshold=0.0, max_per_class=3)
    return path


def test_predict_returns_boxes_and_overlay(users, detector: Path) -> None:
    from deephealth.server.inference import model_input, session_for
    from deephealth.serving.detection import detect

    owner = users["owner"]
    project = owner.post("/api/projects", json={"name": "cells", "task": "detection"}).json()
    w = owner.post(
        f"/api/projects/{project['id']}/weights",
        files={"file": ("det.onnx", detector.read_bytes(), "application/octet-stream")},
    )
    assert w.status_code == 201, w.text
    img = (np.random.default_rng(0).random((48, 64)) * 255).astype(np.uint8)  # H 48, W 64
    png = cv2.imencode(".png", img)[1].tobytes()
    r = owner.post(f"/api/v1/predict/{w.json()['id']}", content=png)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["task"] == "detection" and out["count"] == len(out["boxes"]) == 6  # 3 per class
    assert sorted(out["scores"], reverse=True) == out["scores"]
    # the same boxes as the model run directly, scaled from 32x32 to the image's 64x48
    session = session_for(detector)
    x = model_input(session, img[:, :, None])
    direct = detect(session, x[None], (64 / 32, 48 / 32))[0]
    assert out["boxes"] == direct["boxes"] and out["labels"] == direct["labels"]
    xs = np.array(out["boxes"])[:, [0, 2]]
    assert xs.max() > 32  # in the sent image's pixels, not the model's
    pic = owner.post(f"/api/v1/predict/{w.json()['id']}?format=overlay", content=png)
    assert pic.status_code == 200 and pic.headers["content-type"] == "image/png"
    assert pic.headers["X-Prediction"].startswith("6 boxes (best ")
    drawn = cv2.imdecode(np.frombuffer(pic.content, np.uint8), cv2.IMREAD_COLOR)
    assert (drawn[..., 2].astype(int) - drawn[..., 0] > 100).any()  # red box edges
