"""Browser test (Debian's Chromium through Playwright, against a real `deephealth serve`) of the
live augmentation preview on the dataset page and of the Grad-CAM overlay on the model page.
Screenshots go to test-artifacts/server/."""

from __future__ import annotations

import re
import time

import _server_helpers as helpers
import pytest
from _server_process import ServerProcess
from test_server_browser import browser_page, shot  # noqa: F401 (the fixture)

pytest.importorskip("captum", reason="the explain extra is not installed")


def _signup(page, base: str) -> None:
    page.goto(base + "/")
    form = page.locator("#signup-form")
    form.locator("input[name=email]").fill("doctor@example.org")
    form.locator("input[name=password]").fill("a good password")
    form.locator("button[type=submit]").click()
    page.wait_for_url(base + "/")


def _project(page, base: str, name: str, task: str) -> None:
    page.goto(base + "/")
    page.fill("#project-form input[name=name]", name)
    page.select_option("#project-form select[name=task]", task)
    page.click("#project-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/projects/\d+$"))


@pytest.mark.browser
def test_browser_augmentation_preview_and_gradcam(tmp_path, browser_page):  # noqa: F811
    page, errors = browser_page
    helpers.make_dataset_dir(tmp_path / "seg", n=8, size=64, task="segmentation")
    zip_path = tmp_path / "seg.zip"
    zip_path.write_bytes(helpers.zip_folder(tmp_path / "seg"))
    helpers.make_dataset_dir(tmp_path / "cls", n=12, size=32)
    cls_zip = tmp_path / "cls.zip"
    cls_zip.write_bytes(helpers.zip_folder(tmp_path / "cls"))
    server = ServerProcess(tmp_path / "data").start()
    try:
        base = server.url
        _signup(page, base)

        # Live augmentation preview: typing a text shows 4 draws with their masks.
        _project(page, base, "Lesion masks", "segmentation")
        page.set_input_files("#dataset-form input[name=file]", str(zip_path))
        page.click("#dataset-form button[type=submit]")
        page.wait_for_selector("#datasets tbody tr a")
        page.click("#datasets tbody tr a")
        area = page.locator(".aug-form textarea").first
        area.wait_for()
        page.fill("#aug-preview-index", "3")
        start = time.perf_counter()
        area.fill(
            "SequentialAugmentationContainer\n  AugRotate angle=[-45,45]\n  AugMirror p=0.5\nend"
        )
        page.wait_for_function(
            "() => [...document.querySelectorAll('#aug-preview img')]"
            ".filter(i => i.naturalWidth > 0).length === 8"
        )
        shown_s = time.perf_counter() - start
        msg = page.inner_text("#aug-preview-msg")
        assert re.match(r"4 draws of sample 3 in [\d.]+ ms", msg), msg
        server_ms = float(re.search(r"in ([\d.]+) ms", msg).group(1))
        print(
            f"augmentation preview: server {server_ms:.0f} ms, shown {shown_s:.2f} s after typing"
        )
        assert server_ms < 1000
        flash = page.locator("#flash")  # the page's own scripts raised nothing
        assert flash.is_hidden() or "ok" in (flash.get_attribute("class") or ""), flash.inner_text()
        assert "No numeric, date or categorical feature" in page.inner_text("#distributions-part")
        sources = page.eval_on_selector_all("#aug-preview img", "els => els.map(e => e.src)")
        assert len(set(sources)) == 8  # 4 different draws, image and image + mask each
        shot(page, "10-augmentation-preview")
        area.fill("SequentialAugmentationContainer\n  AugRotate angel=[-5,5]\nend")
        page.wait_for_function(
            "() => document.querySelector('#aug-preview-msg').textContent.includes('line 2')"
        )
        assert "column" in page.inner_text("#aug-preview-msg")
        shot(page, "11-augmentation-preview-error")

        # Grad-CAM on a prediction in the model page.
        _project(page, base, "Phantom lesions", "classification")
        page.wait_for_function(  # the job list's empty state
            "() => document.querySelector('#job-list tbody').textContent"
            ".includes('No job matches these filters.')"
        )
        onnx = helpers.tiny_classifier_onnx(tmp_path / "classifier.onnx")
        page.set_input_files("#weights-form input[name=file]", str(onnx))
        page.fill("#weights-form input[name=pretrained_on]", "nothing (random weights)")
        page.click("#weights-form button[type=submit]")
        page.click("#weights tbody tr a")
        png = tmp_path / "x.png"
        png.write_bytes(helpers.png_bytes(64, seed=3))
        page.set_input_files("#infer-form input[name=file]", str(png))
        page.select_option("#infer-form select[name=explain]", "gradcam")
        page.click("#infer-form button[type=submit]")
        page.wait_for_function(
            "() => { const i = document.querySelector('#explanation');"
            " return i && !i.hidden && i.naturalWidth > 0; }"
        )
        label = re.search(r'"label": "(\w+)"', page.inner_text("#prediction"))
        assert label and page.inner_text("#explanation-msg") == f"gradcam {label.group(1)}"
        shot(page, "12-gradcam")

        # An inference job over the test split: its results page explains each prediction.
        weights_url = page.url
        page.click("text=← project")
        page.set_input_files("#dataset-form input[name=file]", str(cls_zip))
        page.click("#dataset-form button[type=submit]")
        page.wait_for_selector("#datasets tbody tr a")
        page.goto(weights_url)
        page.wait_for_selector(
            "#split-form select[name=split] option[value=test]", state="attached"
        )
        page.select_option("#split-form select[name=split]", "test")
        page.click("#split-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/jobs/\d+$"))
        page.wait_for_function(
            "() => { const i = [...document.querySelectorAll('#explained-predictions img')];"
            # the images load lazily: bring the next unloaded one into view, as a reader would
            " const next = i.find(x => !(x.complete && x.naturalWidth > 0));"
            " if (next) next.scrollIntoView();"
            " return i.length > 0 && !next; }"
        )
        assert "predicted" in page.inner_text("#explained-predictions")
        # An inference has no loss curve: its page shows progress and the metrics as numbers.
        assert page.locator("#charts").is_hidden()
        page.wait_for_function(
            "() => /^done \\d+ of \\d+$/.test(document.querySelector('#inference-batches').textContent)"
        )
        accuracy = page.locator("#inference-metrics tr", has_text="accuracy").inner_text()
        assert 0.0 <= float(accuracy.split()[-1]) <= 1.0, accuracy
        shot(page, "13-inference-explained")
        assert not errors, errors
    finally:
        server.stop()
