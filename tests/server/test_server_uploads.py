"""Hostile uploads: path traversal, absolute paths, symlinks, zip bombs, too many entries,
disguised files, oversized bodies, bad and self-referencing ONNX files. Nothing may be written
outside the data folder, and a refused upload leaves nothing behind."""

from __future__ import annotations

import _server_helpers as helpers
import onnx
import pytest
from _server_helpers import new_client


def _post_zip(client, project_id: int, content: bytes):
    return client.post(
        f"/api/projects/{project_id}/datasets",
        files={"file": ("d.zip", content, "application/zip")},
    )


@pytest.mark.parametrize(
    ("kind", "status", "words"),
    [
        ("traversal", 400, "path traversal"),
        ("absolute", 400, "absolute path"),
        ("symlink", 400, "links are not allowed"),
        ("bomb", 413, "zip bomb"),
        ("fake_png", 415, "not a PNG"),
        ("exe", 400, "file type not allowed"),
    ],
)
def test_hostile_zips_are_refused(users, project, config, tmp_path, kind, status, words):
    r = _post_zip(users["owner"], project["id"], helpers.hostile_zip(kind))
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]
    assert not (tmp_path / "evil.yml").exists() and not (config.data_dir / "evil.yml").exists()
    assert list(config.path("datasets").iterdir()) == []  # nothing left behind
    assert list(config.path("tmp").iterdir()) == []


def test_too_many_zip_entries(users, project, config):
    config.max_zip_entries = 10
    r = _post_zip(users["owner"], project["id"], helpers.hostile_zip("many"))
    assert r.status_code == 400 and "limit is 10" in r.json()["detail"]


def test_corrupt_zip_and_unknown_content(users, project):
    owner = users["owner"]
    r = _post_zip(owner, project["id"], b"PK\x03\x04" + b"garbage" * 20)
    assert r.status_code == 400 and "not a valid zip" in r.json()["detail"]
    r = owner.post(
        f"/api/projects/{project['id']}/datasets",
        files={"file": ("x.bin", b"\x00\x01binary", "application/octet-stream")},
    )
    assert r.status_code == 415


def test_oversized_body_is_refused_early(users, project, config, weights):
    big = b"PK\x03\x04" + b"\0" * (config.max_upload_bytes + 10)
    r = _post_zip(users["owner"], project["id"], big)
    assert r.status_code == 413

    # Also without a Content-Length header (chunked body).
    def chunks():
        for _ in range(10):
            yield b"\0" * (config.max_upload_bytes // 5)

    r = users["owner"].post(
        f"/api/v1/predict/{weights['id']}", content=chunks(), headers={"Content-Type": "image/png"}
    )
    assert r.status_code == 413


def test_bad_onnx_uploads(users, project, tmp_path, onnx_model):
    owner = users["owner"]
    url = f"/api/projects/{project['id']}/weights"
    r = owner.post(url, files={"file": ("m.onnx", b"not a protobuf at all \xff\xfe", "x/y")})
    assert r.status_code in (415, 422), r.text
    # A model whose weights live in an external file could make the server read any file.
    from onnx.external_data_helper import set_external_data

    model = onnx.load(str(onnx_model))
    tensor = model.graph.initializer[0]
    set_external_data(tensor, location="../../../../etc/passwd", offset=0, length=16)
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.ClearField("raw_data")
    ext = tmp_path / "ext.onnx"
    ext.write_bytes(model.SerializeToString())
    r = owner.post(url, files={"file": ("ext.onnx", ext.read_bytes(), "x/y")})
    assert r.status_code == 422 and "external data" in r.json()["detail"]


def test_prediction_image_types_checked_by_content(users, weights):
    owner = users["owner"]
    url = f"/api/v1/predict/{weights['id']}"
    r = owner.post(url, files={"file": ("x.png", b"GIF89a not really", "image/png")})
    assert r.status_code == 415
    r = owner.post(url, content=b"", headers={"Content-Type": "image/png"})
    assert r.status_code == 422
    anonymous = new_client(owner.app)
    assert anonymous.post(url, content=helpers.png_bytes()).status_code == 401
