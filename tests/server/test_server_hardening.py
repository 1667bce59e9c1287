"""Issue #13 reproductions against a real app: hostile uploads and requests get a clear 4xx (never
a 500, never a server path), images are decoded (bounded) before they are accepted."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from urllib.parse import unquote

import _server_helpers as helpers
import numpy as np
import pytest
from pydicom.data import get_testdata_file


def _png(size: int = 32) -> bytes:
    import cv2

    ok, buf = cv2.imencode(
        ".png", (np.arange(size * size) % 251).astype(np.uint8).reshape(size, -1)
    )
    assert ok
    return buf.tobytes()


def _post_zip(client, project_id: int, data: bytes, name: str = "d.zip"):
    return client.post(
        f"/api/projects/{project_id}/datasets", files={"file": (name, data, "application/zip")}
    )


def _dataset_zip_with(tmp_path: Path, mutate) -> bytes:
    root = tmp_path / "ds"
    helpers.make_dataset_dir(root, n=6)
    mutate(root)
    return helpers.zip_folder(root)


def _no_server_path(r, config) -> None:
    assert str(config.data_dir) not in r.text and "/tmp" not in r.text, r.text


def test_zip_text_member_is_streamed_with_a_cap(users, project, config):
    # 32 MiB of mostly blank text with a random letter every ~100 bytes: a compression ratio far
    # under the zip-bomb limit (200), more than the 16 MiB text cap once expanded.
    rng = np.random.default_rng(0)
    text = np.full(32 * 1024 * 1024, ord(" "), np.uint8)
    hits = rng.integers(0, text.size, text.size // 100)
    text[hits] = rng.integers(ord("a"), ord("z") + 1, hits.size)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("notes.txt", text.tobytes())
    data = buf.getvalue()
    assert len(data) < config.max_upload_bytes and text.size / len(data) < config.max_zip_ratio
    r = _post_zip(users["owner"], project["id"], data)
    assert r.status_code == 413, r.text
    assert "notes.txt" in r.json()["detail"] and "text file larger than" in r.json()["detail"]
    assert not any(config.path("datasets").iterdir())  # nothing left behind


@pytest.mark.parametrize(
    "names", [("a.png", "a.png/inner.png"), ("a.png/inner.png", "a.png"), ("a.png", "a.png")]
)
def test_zip_members_that_clash_are_a_clear_400(users, project, config, names):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name
        for n in names:
            zf.writestr(n, _png())
    r = _post_zip(users["owner"], project["id"], buf.getvalue())
    assert r.status_code == 400, r.text
    assert "clashes with another member" in r.json()["detail"]
    _no_server_path(r, config)


def test_truncated_png_is_refused_at_upload(users, project, config, tmp_path):
    def truncate(root: Path) -> None:
        victim = sorted(root.rglob("*.png"))[2]
        victim.write_bytes(victim.read_bytes()[:-40])

    r = _post_zip(users["owner"], project["id"], _dataset_zip_with(tmp_path, truncate))
    assert r.status_code == 422, r.text
    assert "cannot decode the PNG image" in r.json()["detail"]
    _no_server_path(r, config)


def test_decompression_bomb_png_is_refused_before_decoding(users, project, tmp_path):
    # A valid PNG header declaring 40000 x 40000 pixels (1.6 G samples) with a tiny IDAT.
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 40000, 40000, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 40001))
        + chunk(b"IEND", b"")
    )

    def plant(root: Path) -> None:
        sorted(root.rglob("*.png"))[0].write_bytes(bomb)

    r = _post_zip(users["owner"], project["id"], _dataset_zip_with(tmp_path, plant))
    assert r.status_code == 413, r.text
    assert "1600000000 pixels" in r.json()["detail"]


def test_thumbnail_of_truncated_png_in_registered_folder_is_422(users, project, config):
    root = config.approved_folders[0] / "reg"
    helpers.make_dataset_dir(root, n=6)
    victim = sorted(root.rglob("*.png"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    admin = users["admin"]
    admin_project = admin.post("/api/projects", json={"name": "a", "task": "classification"})
    pid = admin_project.json()["id"]
    r = admin.post(f"/api/projects/{pid}/datasets/register", json={"path": str(root)})
    assert r.status_code == 201, r.text
    ds = r.json()["id"]
    samples = admin.get(f"/api/datasets/{ds}/samples?limit=200").json()["samples"]
    codes = {
        admin.get(f"/api/datasets/{ds}/samples/{s['index']}/thumbnail").status_code for s in samples
    }
    assert codes == {200, 422}
    bad = next(
        s["index"]
        for s in samples
        if admin.get(f"/api/datasets/{ds}/samples/{s['index']}/thumbnail").status_code == 422
    )
    r = admin.get(f"/api/datasets/{ds}/samples/{bad}/thumbnail")
    assert "cannot decode" in r.json()["detail"] and str(root) not in r.text


def _training(users, project, dataset) -> dict:
    families = users["owner"].get("/api/families").json()
    fam = next(f for f in families if f["task"] == "classification")
    r = users["owner"].post(
        f"/api/projects/{project['id']}/trainings",
        json={
            "dataset_id": dataset["id"],
            "family_id": fam["id"],
            "hyperparameters": {"epochs": 1},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_job_files_with_nul_and_job_json_without_server_paths(users, project, dataset, config):
    job = _training(users, project, dataset)
    text = str(job)
    assert str(config.data_dir) not in text and "<data>/datasets/" in job["config"]["dataset"]
    for name in ("%00", "a%00b", "%00/../x", "x" * 5000):
        r = users["viewer"].get(f"/api/jobs/{job['id']}/files/{name}")
        assert r.status_code == 404, (name, r.status_code)
    listed = users["viewer"].get(f"/api/projects/{project['id']}/jobs").text
    assert str(config.data_dir) not in listed


def test_admin_hyperparameter_limits_cannot_be_overridden(users, project, dataset):
    owner = users["owner"]
    families = owner.get("/api/families").json()
    fam = next(f for f in families if f["task"] == "classification")
    r = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={
            "dataset_id": dataset["id"],
            "family_id": fam["id"],
            "hyperparameters": {"epochs": 100000000},
        },
    )
    assert r.status_code == 422 and "above" in r.json()["detail"]
    wide = {"name": "epochs", "kind": "int", "default": 10, "minimum": 1, "maximum": 1e9}
    r = owner.put("/api/hyperparameters", json={**wide, "dataset_id": dataset["id"]})
    assert r.status_code == 422 and "at most 1000 (admin)" in r.json()["detail"]
    r = owner.put(
        "/api/hyperparameters",
        json={**wide, "maximum": 50, "default": 5, "dataset_id": dataset["id"]},
    )
    assert r.status_code == 200, r.text  # narrowing is the owner's right
    r = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={
            "dataset_id": dataset["id"],
            "family_id": fam["id"],
            "hyperparameters": {"epochs": 60},
        },
    )
    assert r.status_code == 422 and "above 50" in r.json()["detail"]
    # A definition the admin cannot check against (choice with ranges) is a 422, not a 500.
    r = owner.put(
        "/api/hyperparameters",
        json={
            "name": "optimizer",
            "kind": "choice",
            "default": "adam",
            "minimum": 1,
            "allowed": [{"x": 1}],
            "dataset_id": dataset["id"],
        },
    )
    assert r.status_code == 422


@pytest.fixture(scope="module")
def unicode_classifier(tmp_path_factory) -> bytes:
    import onnx

    from deephealth.serving.preprocessing import METADATA_KEY, Preprocessing

    path = helpers.tiny_classifier_onnx(tmp_path_factory.mktemp("uni") / "uni.onnx")
    model = onnx.load(str(path))
    prep = Preprocessing(class_names=("肺炎", "正常", "Ωmega/x"))
    del model.metadata_props[:]
    model.metadata_props.add(key=METADATA_KEY, value=prep.to_json())
    return model.SerializeToString()


def test_prediction_header_with_non_latin1_class_names(users, project, unicode_classifier):
    owner = users["owner"]
    r = owner.post(
        f"/api/projects/{project['id']}/weights",
        files={"file": ("uni.onnx", unicode_classifier, "application/octet-stream")},
        data={"name": "uni"},
    )
    assert r.status_code == 201, r.text
    r = owner.post(
        f"/api/v1/predict/{r.json()['id']}?format=overlay",
        content=_png(),
        headers={"Content-Type": "image/png"},
    )
    assert r.status_code == 200, r.text
    header = r.headers["X-Prediction"]
    assert header.isascii()
    label = unquote(header).rsplit(" (", 1)[0]
    assert label in ("肺炎", "正常", "Ωmega/x")


def test_predict_on_hostile_dicoms_is_422(users, weights, config):
    raw = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    at = raw.find(b"\x10\x00\x10\x00PN")
    unknown_vr = raw[: at + 4] + b"ZZ" + raw[at + 6 :]
    truncated = raw[: len(raw) // 2]
    url = f"/api/v1/predict/{weights['id']}"
    for body in (unknown_vr, truncated):
        r = users["owner"].post(url, content=body, headers={"Content-Type": "application/dicom"})
        assert r.status_code == 422, r.text
        _no_server_path(r, config)
    good = users["owner"].post(url, content=raw, headers={"Content-Type": "application/dicom"})
    assert good.status_code == 200, good.text


def test_small_json_bodies_and_deep_nesting(users, config):
    owner = users["owner"]
    big = {"name": "x" * (config.max_request_bytes + 10), "task": "classification"}
    assert owner.post("/api/projects", json=big).status_code == 413
    deep = "[" * 200_000 + "]" * 200_000
    r = owner.post("/api/projects", content=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text


def test_dataset_errors_name_no_server_path(users, project, config):
    for yaml_text in ("name: x\nimages: [\n", "name: x\nimages:\n  - location: missing.png\n"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("dataset.yml", yaml_text)
        r = _post_zip(users["owner"], project["id"], buf.getvalue())
        assert 400 <= r.status_code < 500, r.text
        _no_server_path(r, config)


def test_nifti_counted_as_decoded_bytes(app, users, weights, tmp_path):
    """A NIfTI whose header scales its int16 data decodes to float64 (nibabel): 8 bytes each."""
    import nibabel as nib

    app.state.config.max_image_bytes = 3000
    bodies = {}
    for name, slope in (("plain", 1.0), ("scaled", 2.0)):
        img = nib.Nifti1Image(np.arange(512, dtype=np.int16).reshape(8, 8, 8), np.eye(4))
        img.header.set_slope_inter(slope, 0.0)
        path = tmp_path / f"{name}.nii.gz"
        nib.save(img, str(path))
        bodies[name] = path.read_bytes()
    url = f"/api/v1/predict/{weights['id']}"
    ctype = {"Content-Type": "application/gzip"}
    assert users["owner"].post(url, content=bodies["plain"], headers=ctype).status_code == 200
    r = users["owner"].post(url, content=bodies["scaled"], headers=ctype)
    assert r.status_code == 413 and "512 samples of 8 bytes" in r.json()["detail"], r.text
