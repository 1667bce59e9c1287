"""Explanations of an inference job's predictions:
`GET /api/jobs/{id}/samples/{index}/explanation?method=gradcam`.

For a classification inference over a dataset split, the sample's image with the heat map of its
predicted class, computed with the job's model (see `deephealth.server.explain`), as PNG; the
inference results page shows one per listed prediction.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from deephealth.server import datasets as dsvc
from deephealth.server import image_check, imaging
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import Job
from deephealth.server.deps import Principal, get_config, get_db, require_user
from deephealth.server.inference import PredictionError
from deephealth.server.permissions import get_in_project

router = APIRouter(tags=["inference"])


@router.get("/api/jobs/{job_id}/samples/{index}/explanation")
async def sample_explanation(
    job_id: int,
    index: int,
    method: str = "gradcam",
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> Response:
    """The explained prediction of one sample of a classification inference job (members)."""
    from deephealth.pipelines.explain import METHODS
    from deephealth.server.explain import explain_array, overlay_png

    job = get_in_project(db, principal.id, Job, job_id)
    cfg = dict(job.config or {})
    if job.kind != "inference" or cfg.get("task") != "classification":
        raise HTTPException(422, "explanations are for classification inference jobs")
    if method not in METHODS:
        raise HTTPException(422, f"method must be one of {', '.join(METHODS)}")
    db.close()
    ds = dsvc.load(Path(cfg["dataset"]))
    if index not in set(ds.GetSplit(cfg["split"])):
        raise HTTPException(404, f"sample {index} is not in split {cfg['split']!r} of this job")
    image_path, _, _ = dsvc.sample_files(ds, Path(cfg["dataset"]).parent, index)
    img = image_check.read_image(image_path, f"sample {index}", config.max_image_bytes)
    hwc = imaging.image_hwc(img)
    try:
        result, heat = await run_in_threadpool(explain_array, cfg["weights"], hwc, method)
    except PredictionError as err:
        raise HTTPException(422, str(err)) from None
    caption = f"#{index} {result['label']} ({result['probabilities'][result['label']]:.2f})"
    return Response(
        overlay_png(hwc, heat, caption),
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=300"},
    )
