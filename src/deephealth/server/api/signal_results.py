"""Results of an inference job on a recordings dataset: the trace of one of its recordings with
the job's predicted events over the annotations.

``GET /api/jobs/{id}/recordings/{k}/trace?start=&end=&width=&channels=`` answers what the dataset's
trace endpoint answers for recording ``k`` (its dataset index), plus the events the job detected
in it (``source: "prediction"``), read from the job's ``predictions.json``. The trace page
(``/datasets/{d}/recordings/{k}?job={id}``) draws them as bands; the job page lists the events per
recording with links there (``static/signal_results.js``).
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from deephealth.server import recordings as rsvc
from deephealth.server.api.recordings import TraceWindow
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import Dataset, Inference, Job
from deephealth.server.deps import Principal, get_config, get_db, require_user
from deephealth.server.permissions import get_in_project

router = APIRouter(tags=["inference"])


@router.get("/api/jobs/{job_id}/recordings/{index}/trace")
def job_recording_trace(
    job_id: int,
    index: int,
    window: TraceWindow = Depends(),
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> JSONResponse:
    """Min/max trace of recording `index` of a finished inference job's dataset, with the
    recording's and the dataset's events and the job's predicted ones (members)."""
    from deephealth.ecvl.signal.signal import Annotation

    job = get_in_project(db, principal.id, Job, job_id)
    inference = db.scalars(select(Inference).where(Inference.job_id == job_id)).first()
    dataset = db.get(Dataset, inference.dataset_id) if inference else None
    if job.kind != "inference" or dataset is None or dataset.stats.get("kind") != "recordings":
        raise HTTPException(422, "traces are for inference jobs on recordings datasets")
    path = Path(job.run_dir or "") / "predictions.json"
    if job.status != "finished" or not path.is_file():
        raise HTTPException(409, f"inference job {job_id} has not finished ({job.status})")
    yaml_path = Path(dataset.yaml_path)
    db.close()
    row = next(
        (r for r in json.loads(path.read_text())["predictions"] if r["index"] == index), None
    )
    if row is None:
        raise HTTPException(404, f"recording {index} is not in this job's split")
    rec = rsvc.recording(rsvc.load(yaml_path), index)
    predicted = [Annotation(e["onset"], e["duration"], e["label"], source="prediction")
                 for e in row["events"]]  # fmt: skip
    events = list(rec.events) + predicted
    return window.answer(rec.location, events, config.path("cache", "traces"), index)
