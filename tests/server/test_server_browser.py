"""Browser test in headless Chromium (Debian's, driven by Playwright's Python API) against a real
`deephealth serve`: sign up, create a project, upload a dataset, start a training, see the chart
move, stop and resume it, open the report, download the ONNX file and run a single-image
inference with its overlay. Screenshots go to test-artifacts/server/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import _server_helpers as helpers
import onnxruntime as ort
import pytest
from _server_process import ServerProcess

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "server"
TIMEOUT_MS = 90_000


@pytest.fixture
def browser_page():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (scripts/install_system_deps.sh)"
        )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield page, errors
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_browser_end_to_end(tmp_path, dataset_zip, browser_page):
    page, errors = browser_page
    zip_path = tmp_path / "phantoms.zip"
    zip_path.write_bytes(dataset_zip)
    server = ServerProcess(tmp_path / "data", secure_cookies=True).start()
    try:
        base = server.url
        # Sign up (Secure + httpOnly session cookie; 127.0.0.1 counts as a secure origin).
        page.goto(base + "/")
        assert page.url.endswith("/login")
        form = page.locator("#signup-form")
        form.locator("input[name=email]").fill("doctor@example.org")
        form.locator("input[name=password]").fill("a good password")
        form.locator("button[type=submit]").click()
        page.wait_for_url(base + "/")
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["dh_session"]["httpOnly"] and cookies["dh_session"]["secure"]
        shot(page, "01-projects")

        # Create a project.
        page.fill("#project-form input[name=name]", "Phantom lesions")
        page.select_option("#project-form select[name=task]", "classification")
        page.click("#project-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/projects/\d+$"))
        project_url = page.url

        # Upload a dataset (zip of PNGs + DeepHealth YAML).
        page.set_input_files("#dataset-form input[name=file]", str(zip_path))
        page.click("#dataset-form button[type=submit]")
        page.wait_for_selector("#datasets tbody tr a")
        assert "40" in page.inner_text("#datasets tbody")
        page.click("#datasets tbody tr a")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#thumbs img')].filter(i => i.naturalWidth > 0).length >= 4"
        )
        assert page.locator("#balance svg rect").count() >= 3
        page.wait_for_selector("#feature-table tbody tr")  # the page's scripts ran to the end
        flash = page.locator("#flash")
        assert flash.is_hidden() or "ok" in (flash.get_attribute("class") or ""), flash.inner_text()
        shot(page, "02-dataset")

        # Start a training.
        page.goto(project_url)
        page.wait_for_selector("#hyperparameters input[name=epochs]")
        page.fill("#hyperparameters input[name=epochs]", "14")
        page.fill("#hyperparameters input[name=batch_size]", "4")
        page.click("#training-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/jobs/\d+$"))
        job_url = page.url

        # See the chart move: the batch-loss line grows while the training runs.
        path = page.locator('#loss-chart path[data-series="batch loss"]')
        path.wait_for()
        first = path.get_attribute("d")
        page.wait_for_function(
            """(d) => { const p = document.querySelector('#loss-chart path[data-series="batch loss"]');
                      return p && p.getAttribute('d') !== d; }""",
            arg=first,
        )
        page.wait_for_selector("#metric-chart path")
        shot(page, "03-training-live")

        # Stop it: the job is cancelled, its record and chart stay.
        page.click("#stop")
        page.wait_for_function(
            "() => document.querySelector('#status').textContent === 'cancelled'"
        )
        assert page.locator("#resume").is_enabled()
        points_when_stopped = page.locator(
            '#loss-chart path[data-series="epoch loss"]'
        ).get_attribute("d")
        shot(page, "04-stopped")

        # Resume it: it continues from its checkpoint and finishes.
        page.click("#resume")
        page.wait_for_function("() => document.querySelector('#status').textContent === 'finished'")
        assert (
            page.locator('#loss-chart path[data-series="epoch loss"]').get_attribute("d")
            != points_when_stopped
        )
        page.wait_for_selector("#report-link:not([hidden])")
        page.wait_for_selector("#download-link:not([hidden])")
        shot(page, "05-finished")

        # The polling fallback draws the same chart from the stored events.
        page.goto(job_url + "?transport=polling")
        page.wait_for_function(
            "() => document.querySelector('#transport').textContent === 'polling'"
        )
        page.wait_for_selector('#loss-chart path[data-series="epoch loss"]')
        page.goto(job_url)

        # The KPI report.
        assert page.url == job_url
        report_href = page.get_attribute("#report-link", "href")
        report = page.context.new_page()
        report.goto(base + report_href)
        assert "accuracy" in report.content().lower()
        report.screenshot(path=str(ARTIFACTS / "06-report.png"), full_page=True)
        report.close()

        # Download the ONNX file; onnxruntime loads it.
        with page.expect_download() as info:
            page.click("#download-link")
        onnx_file = tmp_path / "model.onnx"
        info.value.save_as(onnx_file)
        assert ort.InferenceSession(str(onnx_file)).get_inputs()

        # Single-image inference with the overlay.
        page.click("#weights-link")
        page.wait_for_selector("#infer-form")
        image = next((tmp_path / "data" / "datasets").rglob("*.png"))
        png = tmp_path / "probe.png"
        shutil.copy(image, png)
        page.set_input_files("#infer-form input[name=file]", str(png))
        page.click("#infer-form button[type=submit]")
        page.wait_for_function(
            "() => { const i = document.querySelector('#overlay');"
            " return i && !i.hidden && i.naturalWidth > 0; }"
        )
        page.wait_for_function(
            "() => document.querySelector('#prediction').textContent.includes('label')"
        )
        assert re.search(r'"label": "(normal|nodule|cyst)"', page.inner_text("#prediction"))
        shot(page, "07-inference")

        # A segmentation project: upload an ONNX model in the page, see the mask overlay.
        page.goto(base + "/")
        page.fill("#project-form input[name=name]", "Lesion masks")
        page.select_option("#project-form select[name=task]", "segmentation")
        page.click("#project-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/projects/\d+$"))
        seg = helpers.tiny_segmenter_onnx(tmp_path / "segmenter.onnx")
        page.set_input_files("#weights-form input[name=file]", str(seg))
        page.fill("#weights-form input[name=pretrained_on]", "nothing (random weights)")
        page.click("#weights-form button[type=submit]")
        page.click("#weights tbody tr a")
        page.wait_for_selector("#infer-form")
        page.set_input_files("#infer-form input[name=file]", str(png))
        page.click("#infer-form button[type=submit]")
        page.wait_for_function(
            "() => { const i = document.querySelector('#overlay');"
            " return i && !i.hidden && i.naturalWidth > 0; }"
        )
        page.wait_for_function(
            "() => document.querySelector('#prediction').textContent.includes('foreground_fraction')"
        )
        shot(page, "08-segmentation-overlay")
        assert not errors, errors
    finally:
        server.stop()
