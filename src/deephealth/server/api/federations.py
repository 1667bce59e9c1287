"""Federations' progress, read-only: `GET /api/federations`, `GET /api/federations/{name}` and
`GET /api/federations/{name}/report`.

A federation is the run folder (`federated.run_dir`) of a `deephealth federated server`, placed in
or linked into the web server's `DATA/federations/` folder (the coordinating hospital points
`run_dir` there, or runs `ln -s RUN_DIR DATA/federations/NAME`). The federated server rewrites its
`federation.json` when it starts, when each round starts and ends, and when it stops: its plan
(strategy, rounds, sites expected), status, the finished rounds (participating sites and their
sample counts, failures, bytes, round time, global and per-site metrics) and the round in progress.
Only scalars and site names are in it: no sample data ever reaches a federation's server. Any
signed-in user may read it; nothing here changes a federation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse

from deephealth.server.config import ServerConfig
from deephealth.server.deps import Principal, get_config, require_user

router = APIRouter(tags=["federations"])
ROUND_KEYS = ("round", "sites_asked", "sites_done", "sites_failed", "time_s", "bytes_sent",
              "bytes_received", "epsilon", "delta")  # fmt: skip
METRIC_KEYS = ("fit", "site_validation", "server_test")


def federations_dir(config: ServerConfig) -> Path:
    """`DATA/federations`: the run folders of the federations the front-end shows."""
    return config.path("federations")


def _folders(config: ServerConfig) -> dict[str, Path]:
    root = federations_dir(config)
    if not root.is_dir():
        return {}
    return {
        d.name: d
        for d in sorted(root.iterdir())
        if not d.name.startswith(".") and (d / "federation.json").is_file()
    }


def _state(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "federation.json").read_text())
    except (OSError, ValueError) as err:
        raise HTTPException(409, f"{folder.name}/federation.json cannot be read: {err}") from None
    return data if isinstance(data, dict) else {}


def _scalars(d: Any) -> dict[str, float]:
    if not isinstance(d, dict):
        return {}
    return {
        str(k): v for k, v in d.items() if isinstance(v, int | float) and not isinstance(v, bool)
    }


def _round(r: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: r.get(k) for k in ROUND_KEYS}
    out.update({k: _scalars(r.get(k)) for k in METRIC_KEYS})
    out["sites"] = _scalars(r.get("sites"))
    out["per_site"] = {str(s): _scalars(m) for s, m in (r.get("per_site") or {}).items()}
    out["site_fit"] = {str(s): _scalars(m) for s, m in (r.get("site_fit") or {}).items()}
    return out


def _sites(rounds: list[dict[str, Any]], monitor: str) -> list[dict[str, Any]]:
    """One row per site seen: the rounds it trained in and its latest figures."""
    table: dict[str, dict[str, Any]] = {}
    for r in rounds:
        for site in sorted(set(r["sites"]) | set(r["per_site"])):
            row = table.setdefault(site, {"site": site, "rounds": [], "evaluated": []})
            if site in r["sites"]:
                fit = r["site_fit"].get(site, {})
                row["rounds"].append(r["round"])
                row.update(samples=r["sites"][site], loss=fit.get("loss"),
                           train_s=fit.get("train_s"))  # fmt: skip
            if site in r["per_site"]:
                row["evaluated"].append(r["round"])
                row["validation"] = r["per_site"][site].get(monitor)
    last = rounds[-1]["round"] if rounds else None
    for row in table.values():
        row["in_last_round"] = bool(row["rounds"]) and row["rounds"][-1] == last
    return list(table.values())


def _summary(name: str, state: dict[str, Any]) -> dict[str, Any]:
    plan = state.get("plan") or {}
    rounds = state.get("rounds") or []
    monitor = plan.get("monitor", "")
    last = rounds[-1] if rounds else {}
    return {
        "name": name, "title": plan.get("name", name), "status": state.get("status", "unknown"),
        "round": state.get("round", 0), "rounds": plan.get("rounds"),
        "strategy": plan.get("strategy"), "task": plan.get("task"), "monitor": monitor,
        "sites": len(last.get("sites") or {}),
        "server_metric": (last.get("server_test") or {}).get(monitor),
        "updated": state.get("updated"),
        "age_s": time.time() - state["updated"] if state.get("updated") else None,
    }  # fmt: skip


@router.get("/api/federations")
def list_federations(
    principal: Principal = Depends(require_user), config: ServerConfig = Depends(get_config)
) -> list[dict[str, Any]]:
    """The federations of `DATA/federations/`, with their progress."""
    out = []
    for name, folder in _folders(config).items():
        try:
            out.append(_summary(name, _state(folder)))
        except HTTPException:
            out.append({"name": name, "status": "unreadable"})
    return out


def _folder(name: str, config: ServerConfig) -> Path:
    folder = _folders(config).get(name)
    if folder is None:
        raise HTTPException(404, f"no federation named {name!r} in {federations_dir(config)}")
    return folder


@router.get("/api/federations/{name}")
def get_federation(
    name: str,
    principal: Principal = Depends(require_user),
    config: ServerConfig = Depends(get_config),
) -> dict[str, Any]:
    """One federation: plan, status, every finished round, the round in progress, the sites."""
    folder = _folder(name, config)
    state = _state(folder)
    rounds = [_round(r) for r in state.get("rounds") or [] if isinstance(r, dict)]
    summary = _summary(name, state)
    progress = state.get("in_progress")
    return {
        **summary, "plan": state.get("plan") or {}, "rounds_done": rounds,
        "in_progress": _scalars(progress) if progress else None,
        "site_table": _sites(rounds, summary["monitor"]),
        "best_round": (state.get("best") or {}).get("round"),
        "has_report": (folder / "report.html").is_file(),
    }  # fmt: skip


@router.get("/api/federations/{name}/report")
def federation_report(
    name: str,
    principal: Principal = Depends(require_user),
    config: ServerConfig = Depends(get_config),
) -> FileResponse:
    """The federation's KPI report (HTML, the pipelines' format)."""
    path = _folder(name, config) / "report.html"
    if not path.is_file():
        raise HTTPException(404, f"federation {name!r} has no report yet")
    return FileResponse(path, media_type="text/html")
