"""3D boxes on volumes in the NiiVue viewer, in headless Chromium (Debian's, WebGL2 through
SwiftShader) against a real `deephealth serve`: a NIfTI volume (nibabel's T1, its x axis
reversed in the affine) with a true nodule box from the dataset YAML, and the boxes a 3D detector
predicted for it in an inference job (`?job=`). The box outlines show on the slice through a box
(pixels change when the box layer is hidden), true in green, predicted in red. Screenshot:
test-artifacts/server/viewer-volume-boxes.png (docs/img/viewer-volume-boxes.png)."""

from __future__ import annotations

import base64
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from _server_process import ServerProcess
from _viewer_data import t1_path
from test_server_viewers_browser import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    TIMEOUT_MS,
    changed,
    grab,
    vendored,
)

playwright = pytest.importorskip("playwright.sync_api")
__all__ = ["vendored"]  # the fixture, used by name
TRUE_BOX = [10, 14, 8, 20, 26, 16]  # x0, y0, z0, x1, y1, z1 in the 33 x 41 x 25 T1's voxels


def _detector(path: Path) -> Path:
    """A small 3D detector (random weights, heat prior 0.3: a few confident peaks) exported with
    its peak finding."""
    import torch

    import deephealth.eddl as eddl
    from deephealth.eddl.zoo.detection.centernet3d import CenterNet3D, set_heat_prior
    from deephealth.eddl.zoo.detection.onnx_peaks import save_detector3d

    torch.manual_seed(0)
    net = CenterNet3D((1, 16, 16, 16), 1, filters=(4, 8), fpn_filters=8, stride=2)
    eddl.build(net, eddl.adam(1e-3), ["centernet"], [], eddl.CS_CPU(1))
    set_heat_prior(net, 0.3)
    save_detector3d(net, path, 1, 2, threshold=0.1, top_k=2)
    return path


def _green(rgb: np.ndarray) -> int:
    return int(((rgb[..., 1] > 150) & (rgb[..., 0] < 100) & (rgb[..., 2] < 100)).sum())


def _red(rgb: np.ndarray) -> int:
    return int(((rgb[..., 0] > 150) & (rgb[..., 1] < 100) & (rgb[..., 2] < 100)).sum())


@pytest.mark.browser
def test_volume_viewer_draws_true_and_predicted_boxes(tmp_path: Path, vendored) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (scripts/install_system_deps.sh)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    folder = tmp_path / "approved" / "nodules"
    folder.mkdir(parents=True)
    shutil.copy(t1_path(), folder / "chest.nii")
    doc = {"name": "nodule boxes", "classes": ["nodule"], "split": {"test": [0]},
           "images": [{"location": "chest.nii", "boxes": [[*TRUE_BOX, "nodule"]]}]}  # fmt: skip
    (folder / "nodules.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    onnx_b64 = base64.b64encode(_detector(tmp_path / "det3d.onnx").read_bytes()).decode()
    server = ServerProcess(
        tmp_path / "data", extra=["--approved-folder", str(tmp_path / "approved")]
    )
    server.start()
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/login")
            form = page.locator("#signup-form")
            form.locator("input[name=email]").fill("radiologist@example.org")
            form.locator("input[name=password]").fill("a good password")
            form.locator("button[type=submit]").click()
            page.wait_for_url(server.url + "/")
            ids = page.evaluate(
                """async ([path, onnx]) => {
                  const csrf = document.querySelector('meta[name="csrf-token"]').content;
                  const post = async (url, body, json = true) => {
                    const headers = { "X-CSRF-Token": csrf };
                    if (json) headers["Content-Type"] = "application/json";
                    const r = await fetch(url, { method: "POST", headers, body: json ? JSON.stringify(body) : body });
                    if (!r.ok) throw new Error(await r.text());
                    return r.json();
                  };
                  const p = await post("/api/projects", { name: "Nodules", task: "detection" });
                  const ds = (await post(`/api/projects/${p.id}/datasets/register`, { path })).id;
                  const bytes = Uint8Array.from(atob(onnx), (c) => c.charCodeAt(0));
                  const form = new FormData();
                  form.append("file", new Blob([bytes]), "det3d.onnx");
                  const w = await post(`/api/projects/${p.id}/weights`, form, false);
                  const job = await post(`/api/projects/${p.id}/inferences`,
                    { weights_id: w.id, dataset_id: ds, split: "test" });
                  return [ds, job.id];
                }""",
                [str(folder / "nodules.yml"), onnx_b64],
            )
            ds, job = ids
            deadline = time.monotonic() + 120
            while True:
                status = page.evaluate(
                    f"async () => (await (await fetch('/api/jobs/{job}')).json()).status"
                )
                if status in ("finished", "failed", "stopped") or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert status == "finished", status

            page.goto(f"{server.url}/datasets/{ds}/samples/0?job={job}")
            page.wait_for_function("() => window.dhViewer && window.dhViewer.boxes")
            shown = page.evaluate("() => window.dhViewer.boxes")
            assert shown["true"] == 1 and shown["predicted"] >= 1
            # the drawing is in NiiVue's RAS grid: the T1's x axis is reversed (affine -2), so
            # file voxel x lies at RAS 32 - x; the true box's faces are 10 x 12 x 8 - 8 x 10 x 6
            drawn = page.evaluate(
                """() => { const nv = window.dhViewer.nv, v = nv.volumes[0], b = nv.drawBitmap;
                  const at = (x, y, z) => b[x + 33 * (y + 41 * z)];
                  return { perm: Array.from(v.permRAS), green: b.filter((p) => p === 2).length,
                           corner: at(32 - 10, 14, 8), far: at(32 - 19, 25, 15),
                           inside: at(32 - 15, 20, 12), outside: at(10, 14, 8) }; }"""
            )
            assert drawn["perm"] == [-1, 2, 3] and drawn["green"] >= 480 - 40
            assert drawn["corner"] == drawn["far"] == 2 and drawn["inside"] != 2
            assert drawn["outside"] != 2
            page.select_option("#plane-select", "axial")
            page.select_option("#box-select", "0")  # the slice through the true box
            page.wait_for_timeout(600)
            canvas = page.locator("#volume-canvas")
            with_boxes = grab(canvas)
            page.screenshot(path=str(ARTIFACTS / "viewer-volume-boxes.png"))
            page.eval_on_selector(
                "#box-opacity", "(e) => { e.value = 0; e.dispatchEvent(new Event('input')); }"
            )
            page.wait_for_timeout(400)
            without = grab(canvas)
            assert changed(with_boxes, without) > 0.002  # the box outline is drawn on the slice
            assert _green(with_boxes) > 40 and _green(without) < _green(with_boxes) / 10
            page.eval_on_selector(
                "#box-opacity", "(e) => { e.value = 1; e.dispatchEvent(new Event('input')); }"
            )
            page.select_option("#box-select", "1")  # a predicted box's slice: red outline
            page.wait_for_timeout(600)
            assert _red(grab(canvas)) > 20
            assert not errors, errors
            browser.close()
    finally:
        server.stop()
