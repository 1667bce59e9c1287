"""The signal pages in headless Chromium (Debian's) against a real `deephealth serve` with a
worker: a recordings dataset uploaded through the project page and browsed, the trace viewer
zoomed (buttons and wheel) and scrolled (drag) with its annotation bands, a 2-hour 8-channel
recording drawn from its overview, a signal_classification training started from the training
form and finished, its model run on an uploaded recording (events table, trace with the
predicted events) and on the test split as an inference job (metrics, events per recording, the
recording's trace with the predicted bands). Screenshots go to test-artifacts/server/signal-*.png and docs/img/."""

from __future__ import annotations

import re
from pathlib import Path

import _server_helpers as helpers
import cv2
import numpy as np
import pytest
from _server_process import ServerProcess

playwright = pytest.importorskip("playwright.sync_api")
pytest.importorskip("pyedflib")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "server"
DOCS_IMG = ROOT / "docs" / "img"
TIMEOUT_MS = 120_000


def grab(locator) -> np.ndarray:
    png = np.frombuffer(locator.screenshot(), np.uint8)
    return cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(int)


def changed(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return 1.0
    return float((np.abs(a - b).max(axis=2) > 8).mean())


def tinted(rgb: np.ndarray) -> int:
    """Pixels of a light colour band (annotation fill over white): chroma without darkness."""
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    return int(((chroma > 20) & (rgb.min(axis=2) > 120)).sum())


def reddish(rgb: np.ndarray) -> int:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((r - g > 40) & (r - b > 40)).sum())


def wait_drawn(page, requests_before: int) -> None:
    page.wait_for_function(
        "(n) => window.dhTrace && window.dhTrace.state.ready && window.dhTrace.state.requests > n",
        arg=requests_before,
    )


@pytest.mark.browser
def test_signal_pages_end_to_end(tmp_path):
    from deephealth.ecvl.signal import SignalWrite
    from deephealth.pipelines.signals.synthetic import synthetic_eeg, write_synthetic_dataset

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (scripts/install_system_deps.sh)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    eeg = tmp_path / "eeg"
    write_synthetic_dataset(eeg, splits={"training": 2, "validation": 1, "test": 1},
                            duration=300, fs=64, channels=2, seizures_per_hour=24, seed=1)  # fmt: skip
    (tmp_path / "eeg.zip").write_bytes(helpers.zip_folder(eeg))
    approved = tmp_path / "approved"
    long = approved / "long"
    long.mkdir(parents=True)
    sig = synthetic_eeg(2 * 3600, 128, 8, seizures_per_hour=3, seed=5)
    SignalWrite(long / "night.edf", sig)
    (long / "dataset.yml").write_text(
        "name: overnight EEG\nclasses: [background, seizure]\nrecordings:\n"
        "  - location: night.edf\n    patient: p1\n    split: test\n"
    )
    SignalWrite(tmp_path / "new.edf", synthetic_eeg(240, 64, 2, seizures_per_hour=30, seed=7))

    server = ServerProcess(tmp_path / "data", extra=["--approved-folder", str(approved)]).start()
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
            )
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            base = server.url
            page.goto(base + "/login")
            form = page.locator("#signup-form")
            form.locator("input[name=email]").fill("neurologist@example.org")
            form.locator("input[name=password]").fill("a good password")
            form.locator("button[type=submit]").click()
            page.wait_for_url(base + "/")

            # Project, dataset upload, recordings table.
            page.fill("#project-form input[name=name]", "Seizures")
            page.select_option("#project-form select[name=task]", "signal_classification")
            page.click("#project-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/projects/\d+$"))
            project_url = page.url
            page.set_input_files("#dataset-form input[name=file]", str(tmp_path / "eeg.zip"))
            page.click("#dataset-form button[type=submit]")
            page.wait_for_selector("#datasets tbody tr a")
            page.click("#datasets tbody tr a")
            page.wait_for_selector("#recordings tbody tr:nth-child(4)")
            assert "rec000.edf" in page.inner_text("#recordings") and "seizure:" in page.inner_text(
                "#recordings"
            )
            page.screenshot(path=str(ARTIFACTS / "signal-01-recordings.png"), full_page=True)

            # Trace viewer: zoom in (buttons, wheel), scroll (drag), annotation bands.
            page.click("#recordings tbody tr a")
            wait_drawn(page, 0)
            canvas = page.locator("canvas.trace-canvas")
            whole = grab(canvas)
            assert tinted(whole) > 500  # seizure bands over 5 minutes
            n = page.evaluate("window.dhTrace.state.requests")
            page.click("button[title='zoom in (+)']")
            page.click("button[title='zoom in (+)']")
            wait_drawn(page, n)
            zoomed = grab(canvas)
            span = page.evaluate("window.dhTrace.state.end - window.dhTrace.state.start")
            assert span == pytest.approx(75, abs=0.5) and changed(whole, zoomed) > 0.02
            n = page.evaluate("window.dhTrace.state.requests")
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.wheel(0, -300)
            wait_drawn(page, n)
            assert page.evaluate("window.dhTrace.state.end - window.dhTrace.state.start") < span
            n = page.evaluate("window.dhTrace.state.requests")
            start = page.evaluate("window.dhTrace.state.start")
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] / 4, box["y"] + box["height"] / 2, steps=5)
            page.mouse.up()
            wait_drawn(page, n)
            assert page.evaluate("window.dhTrace.state.start") > start  # dragged left: later times
            assert changed(zoomed, grab(canvas)) > 0.02
            n = page.evaluate("window.dhTrace.state.requests")
            page.locator("#trace-events tbody button").first.click()  # jump to the first event
            wait_drawn(page, n)
            assert tinted(grab(canvas)) > 2000  # the event band fills a good part of the view
            page.screenshot(path=str(ARTIFACTS / "signal-02-trace-event.png"), full_page=True)

            # Two hours of 8-channel EEG, drawn from the overview, then zoomed to 20 s.
            ds = page.evaluate(
                """async (path) => {
                  const h = { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content,
                              "Content-Type": "application/json" };
                  const pid = location.pathname.split("/")[2];
                  const pr = await fetch("/api/datasets/" + pid);
                  const project = (await pr.json()).project_id;
                  const r = await fetch(`/api/projects/${project}/datasets/register`,
                    { method: "POST", headers: h, body: JSON.stringify({ path }) });
                  if (!r.ok) throw new Error(await r.text());
                  return (await r.json()).id;
                }""",
                str(long),
            )
            page.goto(f"{base}/datasets/{ds}/recordings/0")
            wait_drawn(page, 0)
            status = page.inner_text(".trace-status")
            assert "overview" in status and "8 channels" in status
            page.screenshot(path=str(ARTIFACTS / "signal-03-two-hours.png"), full_page=True)
            n = page.evaluate("window.dhTrace.state.requests")
            page.evaluate("window.dhTrace.go(3000, 20)")
            wait_drawn(page, n)
            assert "overview" not in page.inner_text(".trace-status")
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            page.evaluate("window.dhTrace.go(0, 7200)")
            wait_drawn(page, n + 1)
            page.click("button[title='smaller traces']")
            page.click("button[title='smaller traces']")
            page.locator("main").screenshot(path=str(DOCS_IMG / "signal-trace-viewer.png"))

            # Training from the form, to its end.
            page.goto(project_url)
            page.wait_for_selector("#hyperparameters input[name=epochs]")
            page.eval_on_selector(
                "#training-form select[name=family_id]",
                """(s) => { s.value = [...s.options].find((o) => o.text.includes("cnn1d")).value;
                           s.dispatchEvent(new Event("change")); }""",
            )
            page.wait_for_selector("#hyperparameters input[name=windows_per_epoch]")
            page.fill("#hyperparameters input[name=epochs]", "2")
            page.fill("#hyperparameters input[name=batch_size]", "32")
            page.fill("#hyperparameters input[name=windows_per_epoch]", "256")
            page.click("#training-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/jobs/\d+$"))
            page.wait_for_function(
                "() => ['finished', 'failed'].includes(document.querySelector('#status').textContent)",
                timeout=240_000,
            )
            assert page.inner_text("#status") == "finished", page.inner_text("main")
            page.wait_for_selector("#report-link:not([hidden])")
            page.wait_for_selector("#weights-link:not([hidden])")
            page.screenshot(path=str(ARTIFACTS / "signal-04-training-finished.png"), full_page=True)

            # Inference on an uploaded recording: events table and trace with predictions.
            page.click("#weights-link")
            page.wait_for_selector("#recording-infer:not([hidden])")
            assert page.locator("#infer-form").is_hidden()
            assert page.locator("#split-form").is_visible()  # runs on recordings datasets too
            page.set_input_files("#recording-form input[name=file]", str(tmp_path / "new.edf"))
            page.click("#recording-form button[type=submit]")
            page.wait_for_function(
                "() => /event\\(s\\) in/.test(document.querySelector('#recording-msg').textContent)"
            )
            wait_drawn(page, 0)
            events = int(page.inner_text("#recording-msg").split(" ")[0])
            assert page.locator("#recording-events tbody tr").count() == events
            trace = grab(page.locator("#recording-trace canvas"))
            assert (trace.max(axis=2) < 100).sum() > 1000  # the traces are drawn
            if events:
                assert reddish(trace) > 200
            page.screenshot(
                path=str(ARTIFACTS / "signal-05-recording-inference.png"), full_page=True
            )
            assert page.evaluate("window.dhTrace.state.data !== null")

            # The test split as an inference job: metrics, events per recording, their trace.
            page.select_option("#split-form select[name=dataset_id]", label="synthetic-eeg")
            page.select_option("#split-form select[name=split]", "test")
            page.click("#split-form button[type=submit]")
            page.wait_for_url(re.compile(r".*/jobs/\d+$"))
            page.wait_for_selector("#signal-results:not([hidden])", timeout=240_000)
            assert "event sensitivity" in page.inner_text("#signal-metrics")
            card = page.locator(".signal-recording").first
            assert "rec003.edf" in card.inner_text()
            detected = card.locator("table.signal-events").first.locator("tbody tr").count()
            page.locator("main").screenshot(path=str(DOCS_IMG / "signal-split-inference.png"))
            card.locator("h3 a").click()
            page.wait_for_url(re.compile(r".*/recordings/3\?job=\d+$"))
            wait_drawn(page, 0)
            rows = page.inner_text("#trace-events")
            assert rows.count("prediction") == detected
            if detected:
                assert reddish(grab(page.locator("canvas.trace-canvas"))) > 200
            page.screenshot(path=str(ARTIFACTS / "signal-06-split-inference.png"), full_page=True)
            assert not errors, errors
            browser.close()
    finally:
        server.stop()
