"""Recordings in the web app: the recordings of a dataset, min/max traces of any time range for the
trace viewer, and inference on an uploaded recording (events, then its trace with the predicted
events overlaid).

``GET /api/datasets/{id}/recordings`` lists channels, rates, duration, event counts and split;
``GET /api/datasets/{id}/recordings/{k}/trace?start=&end=&width=&channels=`` answers a min/max
envelope per column and channel (bounded by ``width`` whatever the range; see
`deephealth.server.recordings`) with the events in range. ``POST /api/weights/{id}/recordings``
runs a signal model on an EDF/BDF upload (the same prediction as ``POST /api/v1/predict/{id}``)
and keeps the recording, private to its project, for ``GET /api/recording-results/{token}[/trace]``;
each user keeps the last ``KEEP_RESULTS``.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from deephealth.server import recordings as rsvc
from deephealth.server import uploads
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import Dataset, ModelWeights
from deephealth.server.deps import Principal, audit, get_config, get_db, require_user
from deephealth.server.permissions import get_in_project, get_project

router = APIRouter(tags=["recordings"])
KEEP_RESULTS = 10
TOKEN = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class TraceWindow:
    """The query of a trace endpoint (``?start=&end=&width=&channels=``), as a dependency."""

    start: float = 0.0
    end: float | None = None
    width: int = 1000
    channels: str | None = None

    def answer(
        self,
        location: str,
        events: list[Any],
        cache: Path,
        index: int | None = None,
        hide: str = "",
    ) -> JSONResponse:
        """The min/max envelope of `location` over this window with `events` in range (and the
        recording's `index` when given); a bad window or channel is a 422 (with `hide`, e.g. a
        server folder, cut from the message)."""
        try:
            out = rsvc.trace(location, self.start, self.end, self.width,
                             rsvc.parse_channels(self.channels), cache, events)  # fmt: skip
        except ValueError as err:
            raise HTTPException(422, str(err).replace(hide, "") if hide else str(err)) from None
        if index is not None:
            out["index"] = index
        return JSONResponse(out)  # plain lists of numbers: skip FastAPI's per-element encoder


def _recordings_row(db: Session, principal: Principal, dataset_id: int) -> tuple[Dataset, object]:
    row = get_in_project(db, principal.id, Dataset, dataset_id)
    path = Path(row.yaml_path)
    if row.stats.get("kind") != "recordings":
        raise HTTPException(404, "this dataset holds images, not recordings")
    return row, rsvc.load(path)


@router.get("/api/datasets/{dataset_id}/recordings")
def list_recordings(
    dataset_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> dict[str, Any]:
    """The recordings of a dataset: name, patient, split, channels, rates, duration, events."""
    row, rds = _recordings_row(db, principal, dataset_id)
    rows = rsvc.describe(rds, Path(row.yaml_path).parent)
    return {"classes": list(rds.classes), "recordings": rows}  # type: ignore[attr-defined]


@router.get("/api/datasets/{dataset_id}/recordings/{index}/trace")
def recording_trace(
    dataset_id: int,
    index: int,
    window: TraceWindow = Depends(),
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> JSONResponse:
    """Min/max per column and channel of `[start, end)` s (end: the recording's end) and the
    events in range (the recording's own and the dataset's)."""
    _, rds = _recordings_row(db, principal, dataset_id)
    db.close()
    try:
        rec = rsvc.recording(rds, index)
    except IndexError:
        raise HTTPException(404, "recording not found") from None
    return window.answer(rec.location, list(rec.events), config.path("cache", "traces"), index)


def _signal_weights(db: Session, principal: Principal, weights_id: int, need: str) -> ModelWeights:
    w = get_in_project(db, principal.id, ModelWeights, weights_id, need)
    from deephealth.serving.signals import METADATA_KEY, signal_sidecar

    try:
        import onnx

        meta = {p.key for p in onnx.load(w.path, load_external_data=False).metadata_props}
    except Exception:
        meta = set()
    if METADATA_KEY not in meta and not signal_sidecar(w.path).is_file():
        raise HTTPException(422, "this model is not a signal model")
    return w


@router.get("/api/weights/{weights_id}/signal")
def weights_signal(
    weights_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> dict[str, Any]:
    """Whether the weights are a signal model (the page then offers a recording upload)."""
    try:
        _signal_weights(db, principal, weights_id, "viewer")
    except HTTPException as err:
        if err.status_code != 422:
            raise
        return {"signal": False}
    return {"signal": True}


def _results_dir(config: ServerConfig, user_id: int) -> Path:
    return config.path("recordings", user_id)


@router.post("/api/weights/{weights_id}/recordings", status_code=201)
async def infer_recording(
    weights_id: int,
    request: Request,
    file: UploadFile = File(...),
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict[str, Any]:
    """Detected events of an uploaded EDF/BDF recording; the recording is kept (private to the
    project) so that its trace can be drawn with the events."""
    from deephealth.server import signal_inference

    w = _signal_weights(db, principal, weights_id, "viewer")
    weights_path, project_id = w.path, w.project_id
    audit(db, request, principal, "weights.predict", "weights", weights_id, project_id)
    db.commit()
    db.close()
    token = secrets.token_hex(8)
    folder = _results_dir(config, principal.id) / token
    path = folder / "recording.edf"
    try:
        await run_in_threadpool(uploads.save_upload, file, path, config.max_image_upload_bytes)
        with path.open("rb") as fh:
            head = fh.read(8)
        if not signal_inference.is_recording(head):
            raise HTTPException(415, f"{file.filename}: not an EDF/BDF recording")
        if head[:1] == b"\xff":
            path = path.rename(path.with_suffix(".bdf"))
        try:
            out = await run_in_threadpool(
                signal_inference.predict_recording_file, weights_path, path
            )
        except ValueError as err:
            raise HTTPException(422, str(err)) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    out = {**out, "token": token, "weights_id": weights_id, "filename": file.filename or ""}
    meta = {"project_id": project_id, "file": path.name, "result": out}
    (folder / "result.json").write_text(json.dumps(meta))
    _prune(_results_dir(config, principal.id))
    return out


def _prune(folder: Path) -> None:
    kept = sorted(
        (p for p in folder.iterdir() if (p / "result.json").is_file()),
        key=lambda p: (p / "result.json").stat().st_mtime,
    )
    for old in kept[:-KEEP_RESULTS]:
        shutil.rmtree(old, ignore_errors=True)


def _result(db: Session, principal: Principal, config: ServerConfig, token: str) -> tuple[Path, dict[str, Any]]:  # fmt: skip
    folder = _results_dir(config, principal.id) / token
    if not TOKEN.match(token) or not (folder / "result.json").is_file():
        raise HTTPException(404, "result not found")
    meta = json.loads((folder / "result.json").read_text())
    get_project(db, principal.id, meta["project_id"])  # still a member
    return folder / meta["file"], meta


@router.get("/api/recording-results/{token}")
def read_recording_result(
    token: str,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict[str, Any]:
    """An earlier inference on an uploaded recording (its uploader only)."""
    result: dict[str, Any] = _result(db, principal, config, token)[1]["result"]
    return result


@router.get("/api/recording-results/{token}/trace")
def recording_result_trace(
    token: str,
    window: TraceWindow = Depends(),
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> JSONResponse:
    """The trace of an uploaded recording with its predicted events (source `prediction`)."""
    from deephealth.ecvl.signal.signal import Annotation

    path, meta = _result(db, principal, config, token)
    db.close()
    events = [
        Annotation(e["onset"], e["duration"], e["label"], source="prediction")
        for e in meta["result"]["events"]
    ]
    hide = str(path.parent) + "/"
    return window.answer(str(path), events, config.path("cache", "traces"), hide=hide)
