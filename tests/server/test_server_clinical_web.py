"""Clinical values in the web front-end (issue 20, item 6), on synthetic patients
(`generate_clinical_dataset`: a phantom image + age, sex, a biomarker missing for ~10 %, a
diagnosis date, and a score, survival time and class generated from both):

- the feature table (per sample, per patient) and the distributions per split, checked against
  the dataset YAML read independently with PyYAML and numpy's histogram;
- trainings of `scalar_regression` and `multimodal_classification` created through the REST API
  as the web form sends them (fusion, ablation), run by a worker child process, with the task's
  KPIs in the report;
- in headless Chromium against a real `deephealth serve`: the dataset page's feature table and
  distribution chart, a `survival` training started from the form (gated fusion + ablation) whose
  job page shows the C-index, the Kaplan-Meier curves and the ablation table, and an inference
  whose out-of-range value is refused next to its field. Screenshots: test-artifacts/server/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from _server_helpers import zip_folder

from deephealth.pipelines.synthetic_clinical import generate_clinical_dataset
from deephealth.server.db.models import Job
from deephealth.server.jobs import queue
from deephealth.server.jobs.worker import run_in_child

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "server"
N_PATIENTS = 40


@pytest.fixture(scope="module")
def clinical_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clinical-web")
    generate_clinical_dataset(root, N_PATIENTS, (32, 32), seed=0, classes=True)
    return root


def _project(owner, task: str) -> dict:
    r = owner.post("/api/projects", json={"name": f"{task} project", "task": task})
    assert r.status_code == 201, r.text
    return r.json()


def _upload(owner, project: dict, folder: Path) -> dict:
    r = owner.post(
        f"/api/projects/{project['id']}/datasets",
        files={"file": ("clinical.zip", zip_folder(folder), "application/zip")},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _expected(folder: Path) -> tuple[dict, dict[str, list[dict]]]:
    """The YAML read with PyYAML: each image's values merged with its patient's, per split."""
    doc = yaml.safe_load((folder / "dataset.yml").read_text())
    rows = []
    for img in doc["images"]:
        values = {k: str(v) for k, v in img["values"].items()}
        values.update({k: str(v) for k, v in doc["patients"][values["patient"]].items()})
        rows.append(values)
    return doc, {name: [rows[i] for i in ix] for name, ix in doc["split"].items()}


def test_feature_table_and_distributions_match_the_yaml(users, clinical_dir):
    owner = users["owner"]
    project = _project(owner, "survival")
    ds = _upload(owner, project, clinical_dir)
    doc, splits = _expected(clinical_dir)
    url = f"/api/datasets/{ds['id']}/features"

    page = owner.get(url, params={"split": "test", "offset": 2, "limit": 3}).json()
    assert [s["name"] for s in page["schema"]] == [f["name"] for f in doc["features"]]
    age = next(s for s in page["schema"] if s["name"] == "age")
    assert (age["type"], age["unit"], age["min"], age["max"]) == ("numeric", "years", 0, 120)
    assert page["total"] == len(splits["test"]) and page["offset"] == 2
    for row, want in zip(page["rows"], splits["test"][2:5], strict=True):
        assert row["index"] == doc["split"]["test"][page["rows"].index(row) + 2]
        assert {k: v for k, v in row["values"].items() if v is not None} == want
    patients = owner.get(url, params={"level": "patient", "limit": 500}).json()
    assert patients["total"] == N_PATIENTS == len(doc["patients"])
    assert all(
        r["samples"] == 1 and r["values"]["patient"] == r["patient"] for r in patients["rows"]
    )
    assert owner.get(url, params={"split": "nope"}).status_code == 404
    assert owner.get(url, params={"level": "visit"}).status_code == 422
    assert users["stranger"].get(url).status_code == 404

    dist = owner.get(f"{url}/distributions", params={"bins": 5}).json()
    assert set(dist["splits"]) == set(doc["split"])
    all_ages = [float(r["age"]) for rows in splits.values() for r in rows]
    for name, rows in splits.items():
        got = dist["splits"][name]["features"]
        assert dist["splits"][name]["samples"] == len(rows)
        ages = [float(r["age"]) for r in rows]
        counts, _ = np.histogram(ages, bins=5, range=(min(all_ages), max(all_ages)))
        assert got["age"]["counts"] == counts.tolist()
        assert got["age"]["edges"][0] == min(all_ages) and got["age"]["edges"][-1] == max(all_ages)
        assert got["sex"]["categories"] == {s: sum(r["sex"] == s for r in rows) for s in "FM"}
        assert got["biomarker"]["missing"] == sum("biomarker" not in r for r in rows)
        assert got["biomarker"]["present"] + got["biomarker"]["missing"] == len(rows)
        assert sum(got["diagnosis"]["counts"]) == len(rows)  # dates: ISO edges
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", got["diagnosis"]["edges"][0])
    assert sum(d["features"]["biomarker"]["missing"] for d in dist["splits"].values()) > 0


def _train(app, owner, task: str, ds: dict, project: dict, **extra) -> dict:
    families = owner.get("/api/families", params={"task": task}).json()
    fusion = next(f for f in families if f["name"] == "fusion")
    r = owner.post(
        f"/api/projects/{project['id']}/trainings",
        json={"dataset_id": ds["id"], "family_id": fusion["id"],
              "hyperparameters": {"epochs": 2, "batch_size": 8, "normalize": "divby255"},
              **extra},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    with app.state.sessionmaker() as db:
        assert queue.claim_next(db, 1, queue.worker_name()).id == r.json()["id"]
    run_in_child(app.state.config, r.json()["id"], lambda: False)
    with app.state.sessionmaker() as db:
        job = db.get(Job, r.json()["id"])
        assert job.status == "finished", job.error
    return r.json()


def test_regression_and_classification_trainings_from_the_form(app, users, clinical_dir):
    """What the training form sends (fusion, ablation) reaches the pipelines config; the jobs
    train, and their reports hold the task's KPIs (R², MAE; accuracy) and the ablation table."""
    owner = users["owner"]
    plain = _project(owner, "classification")
    ds = _upload(owner, plain, clinical_dir)
    refused = owner.post(
        f"/api/projects/{plain['id']}/trainings",
        json={"dataset_id": ds["id"], "family_id": 1, "fusion": "gated"},
    )
    assert refused.status_code == 422 and "clinical tasks" in refused.text

    reg = _project(owner, "scalar_regression")
    job = _train(
        app, owner, "scalar_regression", _upload(owner, reg, clinical_dir), reg, fusion="late"
    )  # fmt: skip (the ablation: in the browser test)
    assert job["config"]["model_params"] == {"fusion": "late"} and not job["config"]["ablation"]
    report = owner.get(f"/api/jobs/{job['id']}/report.json").json()
    assert report["run"]["task"] == "scalar_regression" and report["clinical"]["fusion"] == "late"
    assert {"r2", "mae", "rmse"} <= set(report["test_metrics"])
    assert np.isfinite(report["test_metrics"]["r2"]) and report["test_metrics"]["mae"] > 0

    cls = _project(owner, "multimodal_classification")
    job = _train(app, owner, "multimodal_classification", _upload(owner, cls, clinical_dir), cls,
                 fusion="early")  # fmt: skip
    report = owner.get(f"/api/jobs/{job['id']}/report.json").json()
    assert 0 <= report["test_metrics"]["accuracy"] <= 1 and report["classes"] == ["low", "high"]
    weights = owner.get(f"/api/projects/{cls['id']}/weights").json()[0]
    schema = owner.get(f"/api/weights/{weights['id']}/features").json()
    assert [f["name"] for f in schema["features"]] == ["age", "sex", "biomarker", "diagnosis"]
    image = next((clinical_dir / "images").iterdir()).read_bytes()
    row = {"age": 64, "sex": "F", "biomarker": 0.2, "diagnosis": "2019-05-01"}
    url = f"/api/v1/predict/{weights['id']}"
    ok = owner.post(url, params={"features": json.dumps(row)}, content=image)
    assert ok.status_code == 200 and set(ok.json()["probabilities"]) == {"low", "high"}
    # null: the value is unknown and imputed as in training; left out: refused, naming it
    unknown = owner.post(url, params={"features": json.dumps({**row, "biomarker": None})},
                         content=image)  # fmt: skip
    assert unknown.status_code == 200, unknown.text
    left_out = {k: v for k, v in row.items() if k != "biomarker"}
    bad = owner.post(url, params={"features": json.dumps(left_out)}, content=image)
    assert bad.status_code == 422 and bad.json()["feature"] == "biomarker"


@pytest.mark.browser
def test_clinical_dataset_training_and_inference_in_the_browser(tmp_path, clinical_dir):
    playwright = pytest.importorskip("playwright.sync_api")
    from _server_process import ServerProcess

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    archive = tmp_path / "clinical.zip"
    archive.write_bytes(zip_folder(clinical_dir))
    image = next((clinical_dir / "images").iterdir())
    server = ServerProcess(tmp_path / "data", secure_cookies=True).start()
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(90_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/")
            form = page.locator("#signup-form")
            form.locator("input[name=email]").fill("oncologist@example.org")
            form.locator("input[name=password]").fill("a good password")
            form.locator("button[type=submit]").click()
            page.wait_for_url(server.url + "/")
            page.fill("#project-form input[name=name]", "Nodule survival")
            page.select_option("#project-form select[name=task]", "survival")
            page.click("#project-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/projects/\d+$"))
            project_url = page.url
            page.set_input_files("#dataset-form input[name=file]", str(archive))
            page.click("#dataset-form button[type=submit]")
            page.click("#datasets tbody tr a")

            # the dataset page: schema, feature table (per patient too), distributions
            page.wait_for_selector("#feature-table tbody tr")
            schema = page.inner_text("#feature-schema")
            assert "years" in schema and "F, M" in schema and "[0, 120]" in schema
            assert page.locator("#feature-table tbody tr").count() == 20
            assert page.inner_text("#feature-page") == f"1–20 of {N_PATIENTS}"
            page.click("#feature-next")
            page.wait_for_function(
                "() => document.querySelector('#feature-page').textContent.startsWith('21–')"
            )
            page.select_option("#feature-split", "test")
            page.select_option("#feature-level", "patient")
            page.wait_for_function(
                "() => document.querySelector('#feature-table thead').textContent.includes('samples')"
            )
            page.select_option("#distribution-feature", "biomarker")
            charts = page.locator("#distributions .card")
            assert charts.count() == 3  # training, validation, test
            bars = page.locator("#distributions svg rect[data-label=missing]")
            assert bars.count() >= 1
            page.locator("#features-section").screenshot(
                path=str(ARTIFACTS / "clinical-dataset.png")
            )

            # a survival training from the form: gated fusion and the ablation
            page.goto(project_url)
            page.wait_for_selector(
                "#training-form select[name=family_id] option[value]", state="attached"
            )
            page.select_option("#training-form select[name=family_id]", label="fusion")
            page.fill("#hyperparameters input[name=epochs]", "2")
            page.fill("#hyperparameters input[name=batch_size]", "8")
            page.select_option("#hyperparameters select[name=normalize]", "divby255")
            page.select_option("#training-form select[name=fusion]", "gated")
            page.check("#training-form input[name=ablation]")
            page.click("#training-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/jobs/\d+$"))
            page.wait_for_selector("#clinical-kpis:not([hidden])", timeout=180_000)
            assert page.locator("#clinical-metrics tr[data-metric=c_index]").count() == 1
            assert page.locator("#km-chart path[data-series]").count() == 2
            ablation = page.inner_text("#ablation-table")
            assert "image only" in ablation and "gated (this run)" in ablation
            page.locator("#clinical-kpis").screenshot(path=str(ARTIFACTS / "clinical-job.png"))

            # the model: fields from the schema; a wrong value is refused next to its field
            page.click("#weights-link")
            page.wait_for_selector("#feature-fields select[name='feature:sex']")
            page.set_input_files("#infer-form input[name=file]", str(image))
            page.fill("#infer-form input[name='feature:age']", "130")
            page.select_option("#infer-form select[name='feature:sex']", "F")
            page.check("#infer-form input[name='unknown:biomarker']")
            page.fill("#infer-form input[name='feature:diagnosis']", "2019-05-01")
            page.click("#infer-form button[type=submit]")
            age_error = page.locator(".feature-field[data-feature=age] .field-error")
            page.wait_for_function(
                "() => document.querySelector('.feature-field[data-feature=age] .field-error')"
                ".textContent.includes('maximum')"
            )
            assert "130" in age_error.inner_text()
            page.locator("#infer-form").screenshot(path=str(ARTIFACTS / "clinical-inference.png"))
            page.fill("#infer-form input[name='feature:age']", "64")
            page.click("#infer-form button[type=submit]")
            page.wait_for_function(
                "() => document.querySelector('#prediction').textContent.includes('risk')"
            )
            assert age_error.inner_text() == ""
            assert not errors, errors
            browser.close()
    finally:
        server.stop()
