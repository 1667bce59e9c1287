"""Whole-slide projects and usability in headless Chromium against a real `deephealth serve`
(with a job worker), at 1280x720, driven mostly from the keyboard:

- a slide-classification project is created (Enter submits), its slides (synthetic slides and
  the real CMU-1-Small-Region) registered, a one-epoch training with tiling settings started
  from the form and run by the server's worker; the job page lists the test slides with their
  predicted labels, and the slide opens in OpenSeadragon with its heat-map layer (one per
  class, selectable);
- dataset and model search (typing filters server-side; no match shows an empty state);
- every page has no horizontal overflow at 1280x720 and its key buttons are visible and
  reachable with Tab.

Screenshots: test-artifacts/server/slides-*.png.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _server_process import ServerProcess
from _slide_data import make_slide_dataset
from test_server_viewers_browser import ARGS, ARTIFACTS, CHROMIUM, vendored  # noqa: F401

playwright = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1280, 720
JOB_TIMEOUT_MS = 240_000


def no_overflow(page) -> None:
    width = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= WIDTH, f"{page.url}: the page is {width} px wide at {WIDTH} px"


def tab_reaches(page, selectors: list[str], max_tabs: int = 120) -> None:
    """Tab from the top of the page until every selector's element got the focus, visible."""
    page.evaluate(
        "() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }"
    )
    page.locator("body").focus()
    todo = dict.fromkeys(selectors)
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        hit = page.evaluate(
            """(sels) => sels.find((s) => document.activeElement && document.activeElement.matches(s)) || null""",
            list(todo),
        )
        if hit is not None:
            box = page.evaluate(
                "() => { const r = document.activeElement.getBoundingClientRect();"
                " return [r.left, r.top, r.right, r.bottom, r.width, r.height]; }"
            )
            assert box[4] > 0 and box[5] > 0, f"{hit} is focused but not shown"
            assert box[0] >= 0 and box[2] <= WIDTH and box[1] >= 0 and box[3] <= HEIGHT, (hit, box)
            outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{hit}: no visible focus"
            todo.pop(hit)
            if not todo:
                return
    raise AssertionError(f"{page.url}: Tab never reached {list(todo)}")


@pytest.fixture(scope="module")
def server(tmp_path_factory, vendored):  # noqa: F811
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (scripts/install_system_deps.sh)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_factory.mktemp("slides-browser")
    folder = make_slide_dataset(tmp / "approved" / "slides")
    srv = ServerProcess(tmp / "data", extra=["--approved-folder", str(tmp / "approved")]).start()
    yield srv, folder
    srv.stop()


@pytest.mark.browser
def test_slide_project_training_results_search_and_keyboard_at_1280x720(server):
    srv, folder = server
    base = srv.url
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        page.goto(base + "/login")
        no_overflow(page)
        tab_reaches(page, ["#login-form button[type=submit]", "#signup-form button[type=submit]"])
        form = page.locator("#signup-form")
        form.locator("input[name=email]").fill("pathologist@example.org")  # first: admin
        form.locator("input[name=password]").fill("a good password")
        form.locator("input[name=password]").press("Enter")  # Enter submits
        page.wait_for_url(base + "/")

        # The project list: empty states, search, a new slide project from the keyboard.
        page.wait_for_function(
            "() => /No projects yet/.test(document.querySelector('#projects').innerText)"
        )
        page.wait_for_function("() => document.querySelector('#found-datasets tbody tr.empty')")
        no_overflow(page)
        tab_reaches(page, ["#project-form button[type=submit]", "#logout"])
        page.fill("#project-form input[name=name]", "Pathology")
        page.select_option("#project-form select[name=task]", "slide_classification")
        page.locator("#project-form input[name=name]").press("Enter")
        page.wait_for_url(f"{base}/projects/*")

        # Register the slides; the search box finds the dataset; a training with tiles.
        page.wait_for_function(  # search.js fills the table after the page loaded
            "() => /No datasets yet/.test(document.querySelector('#datasets').innerText)"
        )
        page.fill("#register-form input[name=path]", str(folder))
        page.locator("#register-form input[name=path]").press("Enter")
        page.wait_for_function("() => document.querySelector('#datasets tbody a')")
        search = page.locator("form[data-table=datasets] input[name=q]")
        search.fill("zzz-nothing")
        page.wait_for_function(
            "() => /Nothing matches/.test(document.querySelector('#datasets').innerText)"
        )
        search.fill("slides")
        page.wait_for_function("() => document.querySelector('#datasets tbody a')")
        assert "1–1 of 1" in page.inner_text("form[data-table=datasets] [role=status]")
        page.wait_for_function(
            "() => document.querySelector('#training-form select[name=family_id] option')"
        )
        page.select_option("#training-form select[name=family_id]", label="lenet")
        page.wait_for_function("() => document.querySelector('#hyperparameters [name=epochs]')")
        for name, value in {"epochs": "1", "batch_size": "16", "lr": "0.003"}.items():
            page.fill(f"#hyperparameters [name={name}]", value)
        page.select_option("#hyperparameters [name=optimizer]", "adam")
        page.fill("#training-form input[name=slide_size]", "32")
        page.select_option("#training-form select[name=slide_resolution]", "mpp")
        page.fill("#training-form input[name=slide_resolution_value]", "2")
        no_overflow(page)
        tab_reaches(page, ["#register-form button[type=submit]", "#training-form button[type=submit]",
                           "form[data-table=weights] button[type=submit]"])  # fmt: skip
        page.screenshot(path=str(ARTIFACTS / "slides-project.png"), full_page=True)
        page.click("#training-form button[type=submit]")
        page.wait_for_url(f"{base}/jobs/*")
        job_url = page.url

        # The job runs in the server's worker; the test slides show when it finished.
        page.wait_for_function(
            "() => document.getElementById('status').textContent.trim() === 'finished'",
            timeout=JOB_TIMEOUT_MS,
        )
        page.wait_for_function("() => !document.getElementById('slide-results').hidden")
        # the table first shown while the job ran lists the slides without predictions
        page.wait_for_function(
            "() => [...document.querySelectorAll('#slide-table tbody tr')].every("
            "(tr) => tr.children[2] && tr.children[2].textContent !== '—')"
        )
        rows = page.locator("#slide-table tbody tr")
        assert rows.count() == 3
        assert "cmu_1.svs" in rows.nth(2).inner_text()
        for i in range(3):
            assert rows.nth(i).locator("td").nth(2).inner_text() in ("normal", "tumour")
        no_overflow(page)
        tab_reaches(page, ["#slide-table a", "#report-link"])
        page.screenshot(path=str(ARTIFACTS / "slides-job.png"), full_page=True)

        # The real slide with its heat maps in OpenSeadragon.
        # (the link's target checked, then opened: a click here sometimes started no navigation
        # in full-suite runs, with the link correct; see the closing note of 2026-12-03)
        href = rows.nth(2).locator("a").get_attribute("href")
        assert re.fullmatch(r"/jobs/\d+/slides/2", href or ""), href
        page.goto(base + href)
        page.wait_for_function(
            "() => { const w = window.dhViewer && window.dhViewer.viewer.world;"
            " return w && w.getItemCount() === 2 && w.getItemAt(0).getFullyLoaded()"
            " && w.getItemAt(1).getFullyLoaded(); }"
        )
        options = page.eval_on_selector_all(
            "#overlay-map option", "os => os.map(o => o.textContent)"
        )
        assert options == ["normal", "tumour"]
        page.select_option("#overlay-map", label="normal")
        page.wait_for_function(
            "() => { const w = window.dhViewer.viewer.world;"
            " return w.getItemCount() === 2 && w.getItemAt(1).getFullyLoaded(); }"
        )
        assert "heatmap_normal" in page.evaluate(
            "() => window.dhViewer.viewer.world.getItemAt(1).source.getTileUrl(0, 0, 0)"
        )
        no_overflow(page)
        tab_reaches(page, ["#overlay-opacity", "#overlay-map", "#geojson-export"])
        page.wait_for_timeout(300)
        page.screenshot(path=str(ARTIFACTS / "slides-heatmap.png"))

        # The other pages at 1280x720.
        weights = page.evaluate(
            "async (u) => (await (await fetch(u)).json()).result.weights_id",
            job_url.replace("/jobs/", "/api/jobs/"),
        )
        for url, keys in [
            (f"{base}/weights/{weights}", ["#infer-form button[type=submit]", "#split-form button[type=submit]"]),
            (f"{base}/tokens", ["#token-form button[type=submit]", "#password-form button[type=submit]"]),
            (f"{base}/datasets/1", ["#split-select"]),
            (f"{base}/datasets/1/samples/6", ["#next-sample", "#geojson-export"]),
            (base + "/", ["form[data-table=found-models] button[type=submit]"]),
        ]:  # fmt: skip
            page.goto(url)
            page.wait_for_load_state("networkidle")
            no_overflow(page)
            tab_reaches(page, keys)
        # Cross-project model search finds the trained model by its dataset-independent name.
        page.fill("form[data-table=found-models] input[name=q]", "training best")
        page.wait_for_function("() => document.querySelector('#found-models tbody a')")
        assert "lenet" in page.inner_text("#found-models")
        browser.close()
        assert not errors, errors
