"""A federation's progress in the web front-end, live, in headless Chromium (Debian's) against a
real `deephealth serve`: the page of a federation is opened before its server starts, then a real
two-site federation (`deephealth federated simulate`, loopback gRPC) runs with its run folder in
the web server's `federations/` folder; the page follows it (status, per-round curves, site and
round tables) until it completes, and shows what its `federation.json` holds.
Screenshot: test-artifacts/server/federation.png (docs/img/federation.png)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from _server_process import ServerProcess

from deephealth.pipelines.federated.partition import split_sites
from deephealth.pipelines.synthetic import generate_dataset

playwright = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "server"
PIPELINE = {
    "task": "classification", "model": "lenet", "batch_size": 16, "optimizer": {"lr": 0.005},
    "loader": {"workers": 1}, "seed": 0, "name": "lesions-3-hospitals",
}  # fmt: skip


@pytest.mark.browser
def test_federation_page_follows_a_running_federation(tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (scripts/install_system_deps.sh)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ds = generate_dataset(tmp_path / "pooled", "classification", n_patients=120, shape=(24, 24),
                          seed=0, lesion_types=("normal", "nodule"))  # fmt: skip
    sites = split_sites(ds, (0.6, 0.4), alpha=1.0, seed=0)
    data = tmp_path / "data"
    run_dir = data / "federations" / "lesions"
    cfg = tmp_path / "fed.yml"
    fed = {"run_dir": str(run_dir), "rounds": 3, "local_epochs": 2, "min_sites": 2}
    cfg.write_text(yaml.safe_dump({**PIPELINE, "dataset": str(ds), "federated": fed}))
    server = ServerProcess(data, workers=0).start()
    federation = None
    try:
        assert httpx.get(server.url + "/api/federations").status_code == 401  # signed-in users only
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
            )
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.set_default_timeout(120_000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/login")
            form = page.locator("#signup-form")
            form.locator("input[name=email]").fill("coordinator@example.org")
            form.locator("input[name=password]").fill("a good password")
            form.locator("button[type=submit]").click()
            page.wait_for_url(server.url + "/")
            page.click("nav >> text=Federations")
            page.wait_for_selector("#federation-list >> text=No federation yet.")
            # the coordinator opens the page first; the federation starts afterwards
            page.goto(server.url + "/federations/lesions")
            page.wait_for_selector("#flash >> text=waiting for its server to start")
            log = (tmp_path / "simulate.log").open("wb")
            federation = subprocess.Popen(
                [sys.executable, "-m", "deephealth.cli", "federated", "simulate", str(cfg),
                 "--sites", *map(str, sites)],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            status = page.locator("#fed-status")
            playwright.expect(status).to_have_text("running", timeout=180_000)
            playwright.expect(status).to_have_text("completed", timeout=300_000)
            assert federation.wait(120) == 0, (tmp_path / "simulate.log").read_text()[-3000:]
            state = json.loads((run_dir / "federation.json").read_text())
            rounds = state["rounds"]
            assert [r["round"] for r in rounds] == [1, 2, 3]
            # the site table: both sites, their training sample counts, every round trained
            site_rows = page.locator("#fed-sites tbody tr")
            assert site_rows.count() == 2
            for i, name in enumerate(sorted(rounds[-1]["sites"])):
                cells = site_rows.nth(i).locator("td").all_inner_texts()
                assert cells[:3] == [name, str(rounds[-1]["sites"][name]), "1, 2, 3"]
                assert cells[5] == "yes"
            round_rows = page.locator("#fed-rounds tbody tr")
            assert round_rows.count() == 3
            last = round_rows.nth(2).locator("td").all_inner_texts()
            acc = rounds[-1]["server_test"]["accuracy"]
            assert last[:2] == ["3", "2"] and last[4] == str(rounds[-1]["bytes_sent"])
            assert float(last[6]) == pytest.approx(acc, abs=1e-3)
            # curves: the global model's held-out accuracy and each site's validation per round
            chart = page.locator("#fed-metric-chart path[data-series='server accuracy']")
            assert chart.get_attribute("d").count("L") == 2  # three points
            assert page.locator("#fed-site-chart path").count() == 2
            assert page.locator("#fed-time-chart path[data-series='round']").count() == 1
            assert page.locator("#fed-report").is_visible()
            assert "3 of 3 rounds done" in page.inner_text("#fed-progress")
            page.screenshot(path=str(ARTIFACTS / "federation.png"), full_page=True)
            report = page.request.get(server.url + "/api/federations/lesions/report")
            assert report.ok and "Federation rounds" in report.text()
            page.goto(server.url + "/federations")
            row = page.locator("#federation-list tbody tr").first
            row.wait_for()
            cells = row.locator("td").all_inner_texts()
            assert cells[:4] == ["lesions-3-hospitals", "completed", "3 / 3", "fedavg"]
            assert page.request.get(server.url + "/api/federations/nope").status == 404
            browser.close()
            assert not errors, errors
    finally:
        if federation is not None and federation.poll() is None:
            federation.kill()
            federation.wait()
        server.stop()
