"""Whole-slide projects end to end over REST: slides registered from an approved folder, a
slide-classification training with tiling settings run as a server job through the slide
pipeline, its slide-level results (accuracy on the synthetic slides whose truth is known), the
heat maps and the slide served as Deep Zoom tiles, the predicted regions as GeoJSON; slides and
GeoJSON uploaded in a zip (checked by OpenSlide / parsed); and the clear refusals (a
segmentation dataset without annotations, a fake slide, bad GeoJSON)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import yaml
from _slide_data import CMU, HYPER, SLIDE_SETTINGS, make_slide_dataset

from deephealth.server.db.models import Job
from deephealth.server.jobs import queue
from deephealth.server.jobs.worker import run_in_child


def _slide_project(admin, config, task: str, name: str = "slides") -> tuple[dict, dict]:
    folder = make_slide_dataset(config.approved_folders[0] / name)
    p = admin.post("/api/projects", json={"name": "Pathology", "task": task}).json()
    r = admin.post(f"/api/projects/{p['id']}/datasets/register", json={"path": str(folder)})
    assert r.status_code == 201, r.text
    return p, r.json()


def _family(client, task: str, name: str) -> int:
    fams = client.get(f"/api/families?task={task}").json()
    return next(f["id"] for f in fams if f["name"] == name)


def test_slide_classification_project_trains_and_shows_slide_results(app, users, config):
    admin = users["admin"]
    project, dataset = _slide_project(admin, config, "slide_classification")
    assert dataset["stats"]["splits"] == {"training": 4, "test": 3}
    r = admin.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": dataset["id"], "family_id": _family(admin, "slide_classification",
              "lenet"), "hyperparameters": HYPER, "slide": SLIDE_SETTINGS, "device": "cpu"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    job = r.json()
    cfg = job["config"]
    assert cfg["task"] == "slide_classification" and cfg["model"] == "lenet"
    assert cfg["tiler"] == {"size": 32, "mpp": 2.0, "level": None, "magnification": None,
                            "overlap": 0, "min_tissue": 0.5}  # fmt: skip
    assert [s["split"] for s in cfg["slides"]].count("test") == 3
    with app.state.sessionmaker() as db:
        claimed = queue.claim_next(db, 1, queue.worker_name())
        assert claimed is not None and claimed.id == job["id"]
    run_in_child(app.state.config, job["id"], lambda: False)
    with app.state.sessionmaker() as db:
        done = db.get(Job, job["id"])
        assert done.status == "finished", done.error
    events = admin.get(f"/api/jobs/{job['id']}/events").json()["events"]
    assert {"batch", "epoch", "slide", "done"} <= {e["type"] for e in events}
    assert sum(e["type"] == "epoch" for e in events) == 3

    out = admin.get(f"/api/jobs/{job['id']}/slides").json()
    assert out["task"] == "slide_classification" and out["classes"] == ["normal", "tumour"]
    names = [s["name"] for s in out["slides"]]
    assert names == ["slide_4.tif", "slide_5.tif", "cmu_1.svs"]
    synthetic = out["slides"][:2]
    assert [s["label"] for s in synthetic] == [s["true"] for s in synthetic] == ["normal", "tumour"]
    for s in out["slides"]:
        assert s["tiles"] > 0 and set(s["maps"]) == {"heatmap_normal", "heatmap_tumour"}
        assert abs(sum(s["scores"].values()) - 1) < 1e-3
    # the trained weights are a project model, usable like any other
    assert admin.get(f"/api/jobs/{job['id']}").json()["result"]["weights_id"]

    view = admin.get(f"/api/jobs/{job['id']}/slides/1/view").json()
    assert view["kind"] == "slide" and view["size"] == [1024, 1024]
    assert view["labels"] == ["predicted tumour", "true tumour"]
    assert view["mask"].endswith("part=heatmap_tumour")
    assert [m["name"] for m in view["maps"]] == ["normal", "tumour"]
    dzi = admin.get(view["mask"])
    assert dzi.status_code == 200 and "<Image" in dzi.text
    # the tumour heat map is bright where the purple block is (x 160..800 of 1024), dark beside
    heat = _dz_level_image(admin, view["mask"].replace("slide.dzi", "slide_files"), dzi.text)
    h, w = heat.shape
    assert heat[h // 2, int(w * 0.45)] > 150 and heat[h // 2, int(w * 0.95)] < 60
    tile = admin.get(f"/api/jobs/{job['id']}/slides/2/slide_files/12/5_4.jpeg")  # CMU-1, level 12
    assert tile.status_code == 200 and tile.content[:2] == b"\xff\xd8"
    regions = admin.get(view["geojson"])
    assert regions.status_code == 200 and regions.json()["type"] == "FeatureCollection"
    assert admin.get(f"/api/jobs/{job['id']}/slides/1/slide.dzi?part=../../x").status_code == 404
    assert admin.get(f"/api/jobs/{job['id']}/slides/9/view").status_code == 404
    assert users["stranger"].get(f"/api/jobs/{job['id']}/slides").status_code == 404
    page = admin.get(f"/jobs/{job['id']}/slides/1")
    assert page.status_code == 200 and f"/api/jobs/{job['id']}/slides/1/view" in page.text
    assert 'id="slide-results"' in admin.get(f"/jobs/{job['id']}").text


def _dz_level_image(client, files_url: str, dzi: str) -> np.ndarray:
    """A Deep Zoom level of a map that fits one tile (at most 128 px), as a grey image."""
    import math
    import re

    size = max(int(v) for v in re.findall(r'(?:Width|Height)="(\d+)"', dzi))
    level = min(math.ceil(math.log2(size)), 7)
    base, _, query = files_url.partition("?")
    r = client.get(f"{base}/{level}/0_0.jpeg?{query}")
    assert r.status_code == 200, r.text
    return cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_GRAYSCALE)


def test_slide_projects_offer_patch_models_and_refuse_what_cannot_train(app, users, config):
    admin = users["admin"]
    assert {"slide_classification", "patch_segmentation"} <= set(
        _task for _task in _tasks_offered(admin)
    )
    cls = {f["name"] for f in admin.get("/api/families?task=slide_classification").json()}
    seg = {f["name"] for f in admin.get("/api/families?task=patch_segmentation").json()}
    assert "lenet" in cls and "unet" not in cls and "unet" in seg and "lenet" not in seg
    project, dataset = _slide_project(admin, config, "patch_segmentation", "seg")
    r = admin.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": dataset["id"], "family_id": _family(admin, "patch_segmentation",
              "unet"), "hyperparameters": HYPER},
    )  # fmt: skip
    assert r.status_code == 422
    assert "sample 0 (slide_0.tif) has no annotations (slide_0.geojson next to it)" in r.text
    bad = admin.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": dataset["id"], "slide": {"size": 4}},
    )
    assert bad.status_code == 422 and "size" in bad.text


def _tasks_offered(client) -> list[str]:
    page = client.get("/").text
    return [part.split("</option>")[0] for part in page.split("<option>")[1:]]


def test_job_page_and_project_page_have_the_slide_parts(app, users, config):
    admin = users["admin"]
    project, _ = _slide_project(admin, config, "slide_classification")
    page = admin.get(f"/projects/{project['id']}").text
    assert 'id="slide-settings"' in page and "/static/slides.js" in page
    other = admin.post("/api/projects", json={"name": "2D", "task": "classification"}).json()
    assert 'id="slide-settings"' not in admin.get(f"/projects/{other['id']}").text
    assert Path(config.approved_folders[0] / "slides" / "cmu_1.svs").is_file()


def test_a_zip_of_slides_uploads_and_a_fake_slide_is_refused(users, config, tmp_path):
    owner = users["owner"]
    p = owner.post("/api/projects", json={"name": "P", "task": "patch_segmentation"}).json()
    doc = {"classes": ["tissue", "tumour"], "images": [{"location": "cmu.svs"}]}
    geojson = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"classification": {"name": "tumour"}},
        "geometry": {"type": "Polygon", "coordinates": [[[10, 10], [90, 10], [90, 90], [10, 10]]]},
    }]}  # fmt: skip

    def upload(members: dict[str, bytes]):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        return owner.post(
            f"/api/projects/{p['id']}/datasets",
            files={"file": ("slides.zip", buf.getvalue(), "application/zip")},
        )

    good = {"slides.yml": yaml.safe_dump(doc).encode(), "cmu.svs": CMU.read_bytes(),
            "cmu.geojson": json.dumps(geojson).encode()}  # fmt: skip
    r = upload(good)
    assert r.status_code == 201, r.text
    view = owner.get(f"/api/datasets/{r.json()['id']}/samples/0/view").json()
    assert view["kind"] == "slide" and [a["label"] for a in view["annotations"]] == ["tumour"]
    fake = upload({**good, "cmu.svs": b"\x89PNG\r\n\x1a\n not a slide"})
    assert fake.status_code == 422 and "cmu.svs: not a whole slide OpenSlide reads" in fake.text
    bad = upload({**good, "cmu.geojson": b'{"type": "Point"}'})
    assert bad.status_code == 422 and "cmu.geojson: not GeoJSON annotations" in bad.text
