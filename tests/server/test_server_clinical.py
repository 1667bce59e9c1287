"""REST inference with clinical values: `POST /api/v1/predict/{id}` with an image and a JSON of
features for an image + clinical-values model (uploaded as its ONNX file alone: the feature schema
and training statistics travel in the ONNX metadata). Missing, unknown or out-of-range features
are a 422 naming the feature."""

from __future__ import annotations

import io
import json
import re

import cv2
import numpy as np
import pytest

from deephealth.ecvl.dataset.schema import FeatureSpec
from deephealth.pipelines.tabular import TabularEncoder

SPECS = [
    FeatureSpec("patient", "id", role="none"),
    FeatureSpec("age", "numeric", unit="years", min=0, max=120),
    FeatureSpec("sex", "categorical", values=["F", "M"]),
    FeatureSpec("score", "numeric", role="target"),
]
ROW = {"age": 64, "sex": "M"}


@pytest.fixture(scope="module")
def clinical_model(tmp_path_factory):
    import onnx

    import deephealth.eddl as eddl
    from deephealth.eddl import zoo
    from deephealth.pipelines.tasks.clinical import METADATA_KEY

    enc = TabularEncoder(SPECS).fit(
        [{"age": str(a), "sex": s} for a, s in [(50, "F"), (60, "M"), (70, "F"), (80, "M")]]
    )
    net = zoo.build_model(
        "fusion", (1, 32, 32), 1, num_features=len(enc.columns), fusion="early", filters=(4, 8)
    )
    eddl.build(net, eddl.adam(1e-3), ["mse"], ["mae"], eddl.CS_CPU(1))
    path = tmp_path_factory.mktemp("clinical-model") / "model.onnx"
    eddl.save_net_to_onnx_file(net, str(path))
    state = {
        "task": "scalar_regression", "fusion": "early", "encoder": json.loads(enc.to_json()),
        "target": {"mean": [10.0], "std": [2.0]},
    }  # fmt: skip
    model = onnx.load(str(path))
    model.metadata_props.add(key=METADATA_KEY, value=json.dumps(state))
    onnx.save(model, str(path))
    return path, enc


def _png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return io.BytesIO(buf.tobytes()).getvalue()


def test_predict_with_features_over_http(users, clinical_model):
    from deephealth.serving import InferenceSession

    path, enc = clinical_model
    owner = users["owner"]
    project = owner.post("/api/projects", json={"name": "mci", "task": "scalar_regression"}).json()
    w = owner.post(
        f"/api/projects/{project['id']}/weights",
        files={"file": ("m.onnx", path.read_bytes(), "x/y")},
    )
    assert w.status_code == 201, w.text
    url = f"/api/v1/predict/{w.json()['id']}"
    # the schema the inference form is generated from
    schema = owner.get(f"/api/weights/{w.json()['id']}/features").json()
    assert schema["task"] == "scalar_regression"
    assert [(f["name"], f["type"], f["unit"], f["values"], f["max"]) for f in schema["features"]] == [
        ("age", "numeric", "years", [], 120), ("sex", "categorical", "", ["F", "M"], None),
    ]  # fmt: skip
    img = (np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)
    body = _png(img)

    r = owner.post(url, files={"file": ("x.png", body, "image/png")},
                   data={"features": json.dumps(ROW)})  # fmt: skip
    assert r.status_code == 200, r.text
    # the same computation by hand: min-max scaled image, features encoded with the statistics
    x = img.astype(np.float32)
    x = ((x - x.min()) / (x.max() - x.min()))[None, None]
    out = InferenceSession(path).run(x, enc.transform([{"age": "64", "sex": "M"}]))
    assert r.json()["task"] == "scalar_regression"
    assert r.json()["values"][0] == pytest.approx(float(np.ravel(out)[0]) * 2 + 10, abs=1e-5)
    # the raw body with the values in the query string gives the same answer
    q = owner.post(url, params={"features": json.dumps(ROW)}, content=body)
    assert q.status_code == 200 and q.json()["values"] == r.json()["values"]

    for values, feature, words in [
        ({"sex": "M"}, "age", "missing"),
        ({**ROW, "age": 130}, "age", "130"),
        ({**ROW, "sex": "X"}, "sex", "X"),
        ({**ROW, "weight": 80}, "weight", "unknown"),
    ]:
        bad = owner.post(url, params={"features": json.dumps(values)}, content=body)
        assert bad.status_code == 422, bad.text
        assert bad.json()["feature"] == feature and feature in bad.json()["detail"]
        assert words in bad.json()["detail"]
    none = owner.post(url, content=body)
    assert none.status_code == 422 and none.json()["feature"] == "features"
    junk = owner.post(url, params={"features": "{age: 3"}, content=body)
    assert junk.status_code == 422 and "not valid JSON" in junk.json()["detail"]


@pytest.mark.browser
def test_inference_form_generated_from_the_feature_schema(tmp_path, clinical_model):
    """Headless Chromium against a real `deephealth serve`: the weights page of a clinical model
    shows one field per input feature; a missing value is refused naming the feature; filled in,
    the prediction appears."""
    playwright = pytest.importorskip("playwright.sync_api")
    from _server_process import ServerProcess

    path, _ = clinical_model
    png = tmp_path / "x.png"
    cv2.imwrite(str(png), (np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8))
    server = ServerProcess(tmp_path / "data", secure_cookies=True).start()
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page()
            page.set_default_timeout(90_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/")
            form = page.locator("#signup-form")
            form.locator("input[name=email]").fill("doctor@example.org")
            form.locator("input[name=password]").fill("a good password")
            form.locator("button[type=submit]").click()
            page.wait_for_url(server.url + "/")
            page.fill("#project-form input[name=name]", "Cognitive decline")
            page.select_option("#project-form select[name=task]", "scalar_regression")
            page.click("#project-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/projects/\d+$"))
            page.set_input_files("#weights-form input[name=file]", str(path))
            page.click("#weights-form button[type=submit]")
            page.click("#weights tbody tr a")
            page.wait_for_selector("#infer-form select[name='feature:sex']")
            age = page.locator("#infer-form input[name='feature:age']")
            assert age.get_attribute("type") == "number" and age.get_attribute("max") == "120"
            page.set_input_files("#infer-form input[name=file]", str(png))
            page.select_option("#infer-form select[name='feature:sex']", "M")
            page.click("#infer-form button[type=submit]")
            page.wait_for_function(
                "() => document.querySelector('#flash').textContent.includes(\"'age'\")"
            )
            age.fill("64")
            page.click("#infer-form button[type=submit]")
            page.wait_for_function(
                "() => document.querySelector('#prediction').textContent.includes('values')"
            )
            assert "scalar_regression" in page.inner_text("#prediction")
            assert not errors, errors
            browser.close()
    finally:
        server.stop()


def test_inference_jobs_use_each_samples_own_values(clinical_model, tmp_path):
    """A dataset-split inference job passes a sample's values: features that are not inputs are
    ignored and a missing value is imputed as in training; a request is checked strictly."""
    from deephealth.server.inference import FeatureInputError, predict_file

    path, _ = clinical_model
    png = tmp_path / "x.png"
    cv2.imwrite(str(png), (np.random.default_rng(1).random((32, 32)) * 255).astype(np.uint8))
    values = {"patient": "p0001", "score": "12.5", "sex": "F"}  # no age: imputed
    result, _ = predict_file(path, png, "scalar_regression", features=values, sample=True)
    assert result["task"] == "scalar_regression" and np.isfinite(result["values"][0])
    with pytest.raises(FeatureInputError) as err:
        predict_file(path, png, "scalar_regression", features=values)
    assert err.value.feature == "patient"
