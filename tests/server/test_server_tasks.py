"""Every task type of the pipelines as a project, the model families each accepts, and 3D
volume inference (the whole volume, not its middle slice) on real ONNX models exported by
deephealth.eddl, checked against onnxruntime run directly."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import onnxruntime as ort
import pytest

from deephealth.pipelines.tasks import TASKS


def test_every_pipeline_task_type_is_a_project_type(users):
    owner = users["owner"]
    for task in TASKS:
        r = owner.post("/api/projects", json={"name": task, "task": task})
        assert r.status_code == 201 and r.json()["task"] == task, r.text
    r = owner.post("/api/projects", json={"name": "x", "task": "astrology"})
    assert r.status_code == 422 and "signal_classification" in r.text
    page = owner.get("/").text
    assert all(f"<option>{t}</option>" in page for t in TASKS)


def test_families_offered_are_those_the_pipeline_accepts(users, dataset, project):
    owner = users["owner"]
    names = {t: {f["name"] for f in owner.get(f"/api/families?task={t}").json()} for t in TASKS}
    assert {"unet", "unet3d"} <= names["regression"] and "lenet" not in names["regression"]
    assert names["segmentation"] == names["regression"]
    assert {"lenet", "resnet18", "cnn3d"} <= names["classification"]
    assert "unet" not in names["classification"]
    assert names["signal_classification"] == {"cnn1d", "resnet1d", "cnnlstm", "eegnet"}
    assert "fcos" in names["detection"] and "lenet" not in names["detection"]
    assert names["report_generation"] == set()  # its encoder-decoder is not a zoo family
    # a classification project refuses a dense family with a message naming the kind it needs
    fams = {f["name"]: f["id"] for f in owner.get("/api/families").json()}
    r = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": dataset["id"], "family_id": fams["unet"]},
    )
    assert r.status_code == 422 and "needs a classifier network" in r.json()["detail"]


def _tiny_3d(path: Path, task: str, shape=(8, 16, 16)) -> Path:
    import deephealth.eddl as eddl

    x = eddl.Input([1, *shape])
    h = eddl.ReLu(eddl.Conv3D(x, 4, [3, 3, 3]))
    if task == "classification":
        y = eddl.Softmax(eddl.Dense(eddl.Flatten(eddl.GlobalAveragePool3D(h)), 2))
    else:
        y = eddl.Softmax(eddl.Conv3D(h, 2, [3, 3, 3]), axis=0)
    net = eddl.Model([x], [y])
    eddl.build(
        net, eddl.adam(0.001), ["softmax_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU()
    )
    eddl.save_net_to_onnx_file(net, str(path))
    return path


def _upload(owner, project_id: int, path: Path) -> int:
    r = owner.post(
        f"/api/projects/{project_id}/weights",
        files={"file": (path.name, path.read_bytes(), "application/octet-stream")},
        data={"name": path.stem},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture(scope="module")
def volume_bytes(tmp_path_factory) -> tuple[bytes, np.ndarray]:
    """A NIfTI volume (x, y, z) = (16, 16, 8) with a bright block away from the middle slice."""
    rng = np.random.default_rng(0)
    data = rng.normal(100, 5, (16, 16, 8)).astype(np.float32)
    data[4:10, 4:10, 0:3] += 400
    path = tmp_path_factory.mktemp("vol") / "v.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    return path.read_bytes(), data


def test_3d_classification_uses_the_whole_volume(users, tmp_path, volume_bytes):
    owner = users["owner"]
    p = owner.post("/api/projects", json={"name": "v", "task": "classification"}).json()
    onnx = _tiny_3d(tmp_path / "c3d.onnx", "classification")
    wid = _upload(owner, p["id"], onnx)
    body, data = volume_bytes
    r = owner.post(f"/api/v1/predict/{wid}", content=body)
    assert r.status_code == 200, r.text
    vol = data.transpose(2, 1, 0)[None]  # (C, D, H, W)
    vol = (vol - vol.min()) / (vol.max() - vol.min())
    expected = ort.InferenceSession(str(onnx)).run(None, {"input1": vol[None]})[0][0]
    got = np.array(list(r.json()["probabilities"].values()))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # the overlay shows a slice of the volume with the label of the whole volume
    assert owner.post(f"/api/v1/predict/{wid}?format=overlay", content=body).status_code == 200


def test_3d_segmentation_returns_the_label_volume(users, tmp_path, volume_bytes):
    owner = users["owner"]
    p = owner.post("/api/projects", json={"name": "s", "task": "segmentation"}).json()
    onnx = _tiny_3d(tmp_path / "s3d.onnx", "segmentation")
    wid = _upload(owner, p["id"], onnx)
    body, data = volume_bytes
    out = owner.post(f"/api/v1/predict/{wid}", content=body).json()
    assert out["volume_shape"] == [8, 16, 16]
    vol = data.transpose(2, 1, 0)[None]
    vol = (vol - vol.min()) / (vol.max() - vol.min())
    scores = ort.InferenceSession(str(onnx)).run(None, {"input1": vol[None]})[0][0]
    expected = scores.argmax(axis=0)
    assert out["volume_foreground_voxels"] == int((expected > 0).sum())
    if expected.any():
        assert out["slice"] == int(np.argmax((expected > 0).reshape(8, -1).sum(1)))
    assert out["mask_shape"] == [16, 16]
