"""Generated reports of a report-generation inference job: `GET /api/jobs/{id}/reports`.

For an inference job whose model is a packed report generator (`deephealth.serving.reports`),
each predicted sample with its generated report, the findings the text states, the true report
when the dataset has one (its `report` text feature, else its first text feature) and the URL of
the sample's thumbnail; the job page shows them as images with both texts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select
from sqlalchemy.orm import Session

from deephealth.server.api.datasets import loaded
from deephealth.server.db.models import Dataset, Inference, Job
from deephealth.server.deps import Principal, get_db, require_user
from deephealth.server.permissions import get_in_project

router = APIRouter(tags=["inference"])
SHOWN = 24


def true_report(ds: Any, index: int) -> str | None:
    """The report text of sample `index` of an ECVL dataset, or None without one."""
    names = list(getattr(ds, "features_", []) or [])
    values = ds.samples_[index].values_ or {}
    order = ([names.index("report")] if "report" in names else []) + list(range(len(names)))
    for i in order:
        text = values.get(i)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


@router.get("/api/jobs/{job_id}/reports")
def job_reports(
    job_id: int,
    limit: int = SHOWN,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """The first `limit` generated reports of a finished inference job (members)."""
    job = get_in_project(db, principal.id, Job, job_id)
    if job.kind != "inference":
        raise HTTPException(422, "generated reports are for inference jobs")
    path = Path(job.run_dir or "") / "predictions.json"
    if job.status != "finished" or not path.is_file():
        raise HTTPException(409, f"inference job {job_id} has not finished ({job.status})")
    rows = [r for r in json.loads(path.read_text())["predictions"] if "report" in r]
    if not rows:
        raise HTTPException(422, "this job's model does not generate reports")
    inference = db.scalars(select(Inference).where(Inference.job_id == job_id)).first()
    dataset = db.get(Dataset, inference.dataset_id) if inference else None
    ds = loaded(dataset) if dataset is not None else None
    items = []
    for row in rows[: max(1, min(limit, 200))]:
        index = int(row["index"])
        items.append(
            {
                "index": index,
                "report": row["report"],
                "findings": row.get("findings", []),
                "true_report": true_report(ds, index) if ds is not None else None,
                "image": f"/api/datasets/{dataset.id}/samples/{index}/thumbnail?size=192"
                if dataset is not None
                else None,
            }
        )
    return {"job": job_id, "count": len(rows), "reports": items}
