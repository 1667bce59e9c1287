"""REST inference on a recording: `POST /api/v1/predict/{id}` with an EDF body and a signal model
(uploaded as its ONNX file alone: the window spec travels in the ONNX metadata) answers events."""

import numpy as np
import pytest

pytest.importorskip("pyedflib")


@pytest.fixture(scope="module")
def signal_model(tmp_path_factory):
    import deephealth.eddl as eddl
    from deephealth.eddl import zoo
    from deephealth.serving.signals import SignalModelInfo, save_signal_info

    path = tmp_path_factory.mktemp("sigmodel") / "model.onnx"
    net = zoo.build_model("cnn1d", (2, 128), 2, filters=4)
    eddl.build(
        net, eddl.adam(1e-3), ["softmax_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU(1)
    )
    eddl.save_net_to_onnx_file(net, str(path))
    window = {
        "length": 2.0,
        "step": 2.0,
        "classes": ["background", "seizure"],
        "fs": 64.0,
        "channels": ["Fp1", "C3"],
    }
    save_signal_info(
        path,
        SignalModelInfo(
            window, {"threshold": 0.0, "smooth": 1, "min_duration": 0.0, "merge_gap": 0.0}
        ),
    )
    path.with_name("model.signal.json").unlink()  # the upload carries only the ONNX file
    return path


def test_predict_recording_over_http(users, signal_model, tmp_path):
    from deephealth.ecvl.signal import SignalWrite
    from deephealth.pipelines.signals.synthetic import synthetic_eeg

    owner = users["owner"]
    project = owner.post("/api/projects", json={"name": "eeg", "task": "classification"}).json()
    w = owner.post(
        f"/api/projects/{project['id']}/weights",
        files={"file": ("m.onnx", signal_model.read_bytes(), "x/y")},
    )
    assert w.status_code == 201, w.text
    SignalWrite(tmp_path / "r.edf", synthetic_eeg(120, 64, 2, seed=3))
    data = (tmp_path / "r.edf").read_bytes()
    r = owner.post(f"/api/v1/predict/{w.json()['id']}", content=data)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (
        out["task"] == "signal_classification" and out["windows"] == 60 and out["duration_s"] == 120
    )
    # threshold 0: one event spanning the whole recording
    assert [(e["onset"], e["end"], e["label"]) for e in out["events"]] == [(0.0, 120.0, "seizure")]
    bad = owner.post(f"/api/v1/predict/{w.json()['id']}", content=data[:2000])
    assert bad.status_code == 422 and "truncated" in bad.json()["detail"]
    assert np.isfinite(out["events"][0]["score"])
