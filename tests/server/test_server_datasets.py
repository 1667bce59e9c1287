"""Datasets: zip upload with statistics and thumbnails, DICOM/NIfTI thumbnails with CT windowing,
augmentation validation, and registration of admin-approved folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import _server_helpers as helpers
import cv2
import numpy as np
import pytest


def _png(content: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return img


def test_zip_upload_stats_and_thumbnails(users, dataset):
    owner = users["owner"]
    stats = dataset["stats"]
    assert stats["samples"] == 40
    assert set(stats["classes"]) == {"normal", "nodule", "cyst"}
    assert sum(stats["splits"].values()) == 40 and "training" in stats["splits"]
    assert sum(stats["balance"]["training"].values()) == stats["splits"]["training"]
    assert "yaml_path" not in dataset and "root_dir" not in dataset  # no server paths leak
    page = owner.get(f"/api/datasets/{dataset['id']}/samples?split=training&limit=5").json()
    assert page["total"] == stats["splits"]["training"] and len(page["samples"]) == 5
    first = page["samples"][0]
    assert first["labels"][0] in stats["classes"]
    r = owner.get(f"/api/datasets/{dataset['id']}/samples/{first['index']}/thumbnail?size=64")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert max(_png(r.content).shape[:2]) == 64
    assert owner.get(f"/api/datasets/{dataset['id']}/samples/999/thumbnail").status_code == 404
    assert owner.get(f"/api/datasets/{dataset['id']}/samples?split=nope").status_code == 404


def test_augmentations_are_validated_as_ecvl_text(users, dataset):
    owner, viewer = users["owner"], users["viewer"]
    url = f"/api/datasets/{dataset['id']}/augmentations/training"
    good = "SequentialAugmentationContainer\n  AugMirror p=0.5\n  AugRotate angle=[-10,10]\nend"
    r = owner.put(url, json={"text": good})
    assert r.status_code == 200, r.text
    bad = owner.put(url, json={"text": "AugFlipp p=0.5"})
    assert bad.status_code == 422 and "AugFlipp" in bad.json()["detail"]
    assert owner.get(f"/api/datasets/{dataset['id']}/augmentations").json() == {"training": good}
    assert viewer.put(url, json={"text": good}).status_code == 403
    assert (
        owner.put(
            f"/api/datasets/{dataset['id']}/augmentations/nosplit", json={"text": good}
        ).status_code
        == 404
    )
    assert owner.put(url, json={"text": ""}).status_code == 200
    assert owner.get(f"/api/datasets/{dataset['id']}/augmentations").json() == {}


def _write_yaml(folder: Path, image_name: str) -> Path:
    yml = folder / "dataset.yml"
    yml.write_text(f"name: medical\nimages:\n  - location: {image_name}\n")
    return yml


@pytest.mark.parametrize("kind", ["dicom", "nifti"])
def test_register_folder_and_windowed_thumbnails(users, project, config, kind):
    admin, owner = users["admin"], users["owner"]
    folder = config.approved_folders[0] / kind
    folder.mkdir()
    if kind == "dicom":
        from pydicom.data import get_testdata_file

        shutil.copy(get_testdata_file("CT_small.dcm"), folder / "ct.dcm")
        _write_yaml(folder, "ct.dcm")
    else:
        import nibabel as nib

        vol = np.linspace(-1000, 1000, 16 * 16 * 8, dtype=np.float32).reshape(16, 16, 8)
        nib.save(nib.Nifti1Image(vol, np.eye(4)), folder / "vol.nii.gz")
        _write_yaml(folder, "vol.nii.gz")
    # Only admins register folders, and only inside approved ones.
    owner.post(
        f"/api/projects/{project['id']}/members",
        json={"email": "admin@example.org", "role": "owner"},
    )
    url = f"/api/projects/{project['id']}/datasets/register"
    assert owner.post(url, json={"path": str(folder)}).status_code == 403
    assert admin.post(url, json={"path": "/etc"}).status_code == 403
    assert admin.post(url, json={"path": str(folder / ".." / ".." / "data")}).status_code == 403
    r = admin.post(url, json={"path": str(folder), "name": kind})
    assert r.status_code == 201, r.text
    ds = r.json()
    thumb = f"/api/datasets/{ds['id']}/samples/0/thumbnail?size=64"
    soft = _png(owner.get(thumb).content)
    bone = _png(owner.get(thumb + "&window=bone").content)
    lung = _png(owner.get(thumb + "&window=-600,1500").content)
    assert soft.shape == bone.shape == lung.shape
    assert not np.array_equal(soft, bone) and not np.array_equal(bone, lung)
    assert owner.get(thumb + "&window=bogus").status_code == 422


def test_bare_yaml_must_stay_inside_approved_folders(users, project, config, tmp_path):
    owner = users["owner"]
    url = f"/api/projects/{project['id']}/datasets"
    inside = config.approved_folders[0] / "pngs"
    inside.mkdir()
    (inside / "a.png").write_bytes(helpers.png_bytes())
    ok = f"name: ok\nimages:\n  - location: {inside / 'a.png'}\n"
    r = owner.post(url, files={"file": ("d.yml", ok.encode(), "text/yaml")})
    assert r.status_code == 201, r.text
    outside = tmp_path / "secret.png"
    outside.write_bytes(helpers.png_bytes())
    for location in (str(outside), "../../../../etc/passwd", "http://example.org/x.png"):
        text = f"name: bad\nimages:\n  - location: {location}\n"
        r = owner.post(url, files={"file": ("d.yml", text.encode(), "text/yaml")})
        assert r.status_code == 422, (location, r.text)
        assert "refused" in r.json()["detail"]


def test_delete_dataset(users, dataset, config):
    owner = users["owner"]
    assert users["viewer"].delete(f"/api/datasets/{dataset['id']}").status_code == 403
    before = list(config.path("datasets").iterdir())
    assert owner.delete(f"/api/datasets/{dataset['id']}").status_code == 200
    assert owner.get(f"/api/datasets/{dataset['id']}").status_code == 404
    assert len(list(config.path("datasets").iterdir())) == len(before) - 1
