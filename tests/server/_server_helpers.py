"""Builders of real test inputs for the server tests (a synthetic PNG dataset as a zip, hostile
zips, a tiny ONNX classifier exported by deephealth.eddl) and HTTPS test clients that keep their
login's CSRF token."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient


def make_dataset_dir(root: Path, n: int = 40, size: int = 32, task: str = "classification") -> Path:
    """A DeepHealth dataset of `n` synthetic phantom PNGs (pipelines.synthetic); returns its YAML."""
    from deephealth.pipelines.synthetic import generate_dataset

    return generate_dataset(
        root, task=task, n_patients=n, shape=(size, size), seed=1, name="phantoms"
    )


def zip_folder(folder: Path) -> bytes:
    """The files of `folder` as zip bytes (paths relative to the folder)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder).as_posix())
    return buf.getvalue()


def hostile_zip(kind: str) -> bytes:
    """A zip built to attack the extractor: traversal, absolute, symlink, bomb, many entries."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if kind == "traversal":
            zf.writestr("../../evil.yml", "name: x\n")
        elif kind == "absolute":
            zf.writestr("/tmp/evil.yml", "name: x\n")
        elif kind == "symlink":
            info = zipfile.ZipInfo("link.yml")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
        elif kind == "bomb":
            zf.writestr("bomb.txt", b"\0" * (64 * 1024 * 1024))
        elif kind == "many":
            for i in range(50):
                zf.writestr(f"f{i}.txt", "x")
        elif kind == "fake_png":
            zf.writestr("dataset.yml", "name: x\nimages:\n  - a.png\n")
            zf.writestr("a.png", "<?php echo 'not an image'; ?>")
        elif kind == "exe":
            zf.writestr("run.sh", "#!/bin/sh\necho hi\n")
    return buf.getvalue()


def tiny_classifier_onnx(path: Path, classes: int = 3, size: int = 32, channels: int = 1) -> Path:
    """Export a tiny conv classifier (random weights, seeded: with some draws every ReLU is dead
    on the test images and explanations are blank) with deephealth.eddl; returns `path`."""
    import torch

    import deephealth.eddl as eddl

    torch.manual_seed(0)
    x = eddl.Input([channels, size, size])
    h = eddl.ReLu(eddl.Conv(x, 4, [3, 3]))
    h = eddl.GlobalAveragePool(h)
    h = eddl.Flatten(h)
    y = eddl.Softmax(eddl.Dense(h, classes))
    net = eddl.Model([x], [y])
    eddl.build(
        net, eddl.adam(0.001), ["softmax_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU()
    )
    eddl.save_net_to_onnx_file(net, str(path))
    return path


def tiny_segmenter_onnx(path: Path, size: int = 32) -> Path:
    """Export a tiny 2-class per-pixel segmenter (random weights) with deephealth.eddl."""
    import deephealth.eddl as eddl

    x = eddl.Input([1, size, size])
    y = eddl.Softmax(eddl.Conv(x, 2, [3, 3]), axis=0)
    net = eddl.Model([x], [y])
    eddl.build(
        net, eddl.adam(0.001), ["softmax_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU()
    )
    eddl.save_net_to_onnx_file(net, str(path))
    return path


def png_bytes(size: int = 32, seed: int = 0) -> bytes:
    """A real grayscale PNG."""
    import cv2

    rng = np.random.default_rng(seed)
    ok, buf = cv2.imencode(".png", (rng.random((size, size)) * 255).astype(np.uint8))
    assert ok
    return buf.tobytes()


class Client(TestClient):
    """A test client that remembers the CSRF token of its login."""

    csrf: str = ""
    user: dict = {}

    def request(self, method, url, **kw):
        if self.csrf:
            kw.setdefault("headers", {})
            kw["headers"] = {"X-CSRF-Token": self.csrf, **(kw["headers"] or {})}
        return super().request(method, url, **kw)


def new_client(app, ip: str = "testclient") -> Client:
    return Client(app, base_url="https://testserver", client=(ip, 50000))


def signup(app, email: str, password: str = "correct horse") -> Client:
    client = new_client(app)
    r = client.post("/api/auth/signup", json={"email": email, "password": password})
    assert r.status_code == 201, r.text
    client.csrf = r.json()["csrf_token"]
    client.user = r.json()["user"]
    return client
