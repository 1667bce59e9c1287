"""The viewers in headless Chromium (Debian's, WebGL2 through SwiftShader) against a real
`deephealth serve`: a NIfTI volume with its label map and a DICOM series in NiiVue (slices
scrolled: the rendered pixels change; the overlay shows), the CMU-1 slide in OpenSeadragon with its heat-map
layer, zoomed to full resolution through the Deep Zoom endpoint, and a 2D image with its mask and boxes.
Screenshots go to test-artifacts/server/viewer-*.png."""

from __future__ import annotations

import subprocess
from pathlib import Path

import _viewer_data
import cv2
import numpy as np
import pytest
from _server_process import ServerProcess

playwright = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts" / "server"
VENDOR = ROOT / "src" / "deephealth" / "server" / "pages" / "static" / "vendor"
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def vendored() -> None:
    """NiiVue and OpenSeadragon in the static folder (fetched from npm as `make serve` does)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "fetch_server_assets.sh")], check=True)
    for f in ("niivue.umd.js", "openseadragon/openseadragon.min.js"):
        if not (VENDOR / f).is_file():
            pytest.fail(f"{f} was not vendored: npm is needed (scripts/fetch_server_assets.sh)")


@pytest.fixture(scope="module")
def session(tmp_path_factory, vendored):
    """A served viewer dataset and a logged-in Chromium page: (page, base URL, dataset id)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (scripts/install_system_deps.sh)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tmp_path = tmp_path_factory.mktemp("viewers")
    approved = tmp_path / "approved"
    folder = approved / "viewers"
    _viewer_data.make_viewer_dataset(folder)
    server = ServerProcess(tmp_path / "data", extra=["--approved-folder", str(approved)]).start()
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/login")
            form = page.locator("#signup-form")
            form.locator("input[name=email]").fill("radiologist@example.org")  # first: admin
            form.locator("input[name=password]").fill("a good password")
            form.locator("button[type=submit]").click()
            page.wait_for_url(server.url + "/")
            dataset_id = page.evaluate(
                """async (path) => {
                  const h = { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content,
                              "Content-Type": "application/json" };
                  const post = async (url, body) => {
                    const r = await fetch(url, { method: "POST", headers: h, body: JSON.stringify(body) });
                    if (!r.ok) throw new Error(await r.text());
                    return r.json();
                  };
                  const p = await post("/api/projects", { name: "Viewers", task: "segmentation" });
                  return (await post(`/api/projects/${p.id}/datasets/register`, { path })).id;
                }""",
                str(folder),
            )
            yield page, server.url, dataset_id
            assert not errors, errors
            browser.close()
    finally:
        server.stop()


def grab(locator) -> np.ndarray:
    """The element's rendered pixels (RGB)."""
    png = np.frombuffer(locator.screenshot(), np.uint8)
    return cv2.cvtColor(cv2.imdecode(png, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(int)


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of pixels that differ by more than 8 grey levels in some channel."""
    return float((np.abs(a - b).max(axis=2) > 8).mean())


def coloured(rgb: np.ndarray) -> int:
    """Pixels of overlay colour: far from grey, and not the yellow crosshair."""
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    yellow = (rgb[..., 0] > 180) & (rgb[..., 1] > 150) & (rgb[..., 2] < 80)
    return int(((chroma > 40) & ~yellow).sum())


def set_range(page, selector: str, value: float) -> None:
    page.eval_on_selector(
        selector, "(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }", value
    )
    page.wait_for_timeout(300)


@pytest.mark.browser
def test_volume_viewer_nifti_and_dicom_series(session):
    page, base, ds = session
    page.goto(f"{base}/datasets/{ds}/samples/0")
    page.wait_for_function("() => window.dhViewer && window.dhViewer.nv.volumes.length === 2")
    page.wait_for_timeout(500)
    canvas = page.locator("#volume-canvas")
    with_overlay = grab(canvas)
    page.screenshot(path=str(ARTIFACTS / "viewer-nifti-labels.png"))
    set_range(page, "#overlay-opacity", 0)
    without = grab(canvas)
    # The label map (labels 1 and 2 in colour) shows over the grey T1 and goes with opacity 0.
    assert coloured(with_overlay) > 5000 and coloured(without) < coloured(with_overlay) / 20
    set_range(page, "#overlay-opacity", 0.5)
    before = grab(canvas)
    canvas.hover()
    for _ in range(4):
        page.mouse.wheel(0, 120)
        page.wait_for_timeout(150)
    page.wait_for_timeout(400)
    assert changed(before, grab(canvas)) > 0.01  # other slices
    pos = page.evaluate("() => Array.from(window.dhViewer.nv.scene.crosshairPos)")
    page.select_option("#plane-select", "axial")
    page.click("#slice-next")
    page.click("#slice-next")
    assert page.evaluate("() => Array.from(window.dhViewer.nv.scene.crosshairPos)")[2] != pos[2]

    # The DICOM series, converted server-side, with CT presets and its own window.
    page.goto(f"{base}/datasets/{ds}/samples/1")
    page.wait_for_function("() => window.dhViewer && window.dhViewer.nv.volumes.length === 1")
    assert page.evaluate("() => Array.from(window.dhViewer.nv.volumes[0].dims.slice(1, 4))") == [
        256,
        256,
        20,
    ]
    page.wait_for_timeout(500)
    canvas = page.locator("#volume-canvas")
    first = grab(canvas)
    page.screenshot(path=str(ARTIFACTS / "viewer-dicom-series.png"))
    for _ in range(5):
        page.click("#slice-next")
    page.wait_for_timeout(400)
    scrolled = grab(canvas)
    assert changed(first, scrolled) > 0.01
    page.select_option("#window-select", "bone")
    page.wait_for_timeout(400)
    assert changed(scrolled, grab(canvas)) > 0.01  # window/level applied
    page.select_option("#plane-select", "sagittal")
    page.wait_for_timeout(400)
    page.screenshot(path=str(ARTIFACTS / "viewer-dicom-sagittal.png"))


@pytest.mark.browser
def test_slide_viewer_zooms_to_full_resolution(session):
    page, base, ds = session
    tiles: list[str] = []
    page.on(
        "response",
        lambda r: tiles.append(r.url) if "/slide_files/" in r.url and r.status == 200 else None,
    )
    page.goto(f"{base}/datasets/{ds}/samples/3")
    page.wait_for_function(
        "() => window.dhViewer && window.dhViewer.viewer.world.getItemAt(0)"
        " && window.dhViewer.viewer.world.getItemAt(0).getFullyLoaded()"
    )
    page.wait_for_function(  # the heat map layer
        "() => { const w = window.dhViewer.viewer.world;"
        " return w.getItemCount() === 2 && w.getItemAt(1).getFullyLoaded(); }"
    )
    page.wait_for_timeout(500)
    box = page.locator("#slide-osd")
    overview = grab(box)
    page.screenshot(path=str(ARTIFACTS / "viewer-slide-overview.png"))
    assert page.locator("#slide-osd svg.annotation polygon").count() == 2  # box + QuPath polygon
    assert "2 annotations" in page.inner_text("#geojson-export")
    set_range(page, "#overlay-opacity", 0)
    assert changed(overview, grab(box)) > 0.1  # the heat map was drawn over the tissue
    set_range(page, "#overlay-opacity", 0.4)
    top = int(np.ceil(np.log2(max(2220, 2967))))
    assert not any(f"/slide_files/{top}/" in u for u in tiles)
    with page.expect_response(lambda r: f"/slide_files/{top}/" in r.url and r.status == 200):
        page.evaluate("() => window.dhViewer.fullResolution()")
    page.wait_for_function(
        "() => { const v = window.dhViewer.viewer, vp = v.viewport;"
        " return Math.abs(vp.viewportToImageZoom(vp.getZoom(true)) - 1) < 0.02 &&"
        " v.world.getItemAt(0).getFullyLoaded(); }"
    )
    page.wait_for_timeout(500)
    full_tiles = [u for u in tiles if f"/slide_files/{top}/" in u]
    assert full_tiles, tiles[-5:]
    zoom = page.evaluate(
        "() => { const vp = window.dhViewer.viewer.viewport;"
        " return vp.viewportToImageZoom(vp.getZoom(true)); }"
    )
    assert zoom == pytest.approx(1.0, rel=0.05)
    assert changed(overview, grab(box)) > 0.2
    page.screenshot(path=str(ARTIFACTS / "viewer-slide-full-resolution.png"))


@pytest.mark.browser
def test_image_viewer_full_resolution_mask_and_boxes(session):
    page, base, ds = session
    page.goto(f"{base}/datasets/{ds}/samples/2")
    page.wait_for_function(
        "() => { const m = document.getElementById('mask-image');"
        " return m && m.naturalWidth === 512 && document.getElementById('full-image').naturalWidth === 512; }"
    )
    assert page.locator("#boxes rect").count() == 6
    # 100 %: one screen pixel per image pixel.
    assert (
        page.evaluate("() => document.getElementById('full-image').getBoundingClientRect().width")
        == 512
    )
    stack = page.locator(".image-stack")
    shown = grab(stack)
    set_range(page, "#overlay-opacity", 0)
    assert changed(shown, grab(stack)) > 0.05  # the mask was drawn over the nuclei
    set_range(page, "#overlay-opacity", 0.5)
    page.screenshot(path=str(ARTIFACTS / "viewer-image-mask-boxes.png"))
