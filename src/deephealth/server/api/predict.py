"""The inference REST endpoint for clinical platforms: send an image, get the prediction back.

`POST /api/v1/predict/{weights_id}` takes the image as the raw request body or as the multipart
field `file` (PNG, JPEG, DICOM or NIfTI, checked by content) and answers JSON: class probabilities
and label (classification), the mask as base64 PNG (segmentation) or the values (regression).
An EDF/BDF recording sent to a signal model answers its detected events (onset, end, label,
score; see `deephealth.server.signal_inference`). `?format=png` returns the mask PNG itself and `?format=overlay` the image with the prediction drawn
over it (what the inference page shows). Platforms authenticate with an API token
(`Authorization: Bearer ...`); calls are audited once per user, model and minute.
"""

from __future__ import annotations

import base64
import time

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from deephealth.server import imaging, uploads
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import ModelWeights, Project
from deephealth.server.deps import Principal, audit, get_config, get_db, require_user
from deephealth.server.inference import PredictionError, predict_bytes, scratch_dir
from deephealth.server.permissions import get_in_project

router = APIRouter(tags=["inference"])
SUFFIX = {"png": ".png", "jpeg": ".jpg", "dicom": ".dcm", "nifti": ".nii"}
_AUDIT_EVERY_S = 60.0
_last_audit: dict[tuple[int, int], float] = {}


async def _image_bytes(request: Request, limit: int) -> bytes:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "multipart request needs a file field named 'file'")
        data = await upload.read(limit + 1)
    else:
        data = await request.body()
    if len(data) > limit:
        raise HTTPException(413, f"image larger than {limit} bytes")
    if not data:
        raise HTTPException(422, "no image in the request")
    return data


def _kind(data: bytes) -> tuple[str, str]:
    kind = uploads.sniff(data[:1024])
    if kind == "gzip":
        import gzip
        import zlib

        try:
            head = (
                gzip.decompress(data[: 1 << 16])
                if len(data) < (1 << 16)
                else (zlib.decompressobj(31).decompress(data[: 1 << 16]))
            )
        except (OSError, EOFError, zlib.error):
            head = b""
        if uploads.sniff(head[:1024]) == "nifti":
            return "nifti", ".nii.gz"
    if kind not in SUFFIX:
        raise HTTPException(415, "content is not a PNG, JPEG, DICOM or NIfTI image")
    return kind, SUFFIX[kind]


@router.post("/api/v1/predict/{weights_id}")
async def predict(
    weights_id: int,
    request: Request,
    format: str = "json",
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> Response:
    """Predict on one image with a project's model (members and their API tokens)."""
    if format not in ("json", "png", "overlay"):
        raise HTTPException(422, "format must be json, png or overlay")
    weights = get_in_project(db, principal.id, ModelWeights, weights_id)
    task = db.get(Project, weights.project_id).task
    path, project_id = weights.path, weights.project_id
    key = (principal.id, weights_id)
    now = time.monotonic()
    if now - _last_audit.get(key, -_AUDIT_EVERY_S) >= _AUDIT_EVERY_S:
        if len(_last_audit) > 10_000:
            _last_audit.clear()
        _last_audit[key] = now
        audit(db, request, principal, "weights.predict", "weights", weights_id, project_id)
        db.commit()
    db.close()
    data = await _image_bytes(request, config.max_image_upload_bytes)
    from deephealth.server import signal_inference

    if signal_inference.is_recording(data):  # an EDF/BDF recording for a signal model: events
        try:
            out = await run_in_threadpool(
                signal_inference.predict_recording_bytes,
                path,
                data,
                scratch_dir(config.path("tmp")),
            )
        except ValueError as err:
            raise HTTPException(422, str(err)) from None
        return JSONResponse({**out, "weights_id": weights_id})
    _, suffix = _kind(data)
    try:
        result, hwc = await run_in_threadpool(
            predict_bytes, path, data, suffix, task, scratch_dir(config.path("tmp"))
        )
    except PredictionError as err:
        raise HTTPException(422, str(err)) from None
    mask = result.pop("mask", None)
    if format == "png":
        if mask is None:
            raise HTTPException(422, "format=png is for segmentation models")
        return Response(imaging.png_bytes(mask), media_type="image/png")
    if format == "overlay":
        shown = imaging.display(hwc)
        pic = imaging.overlay(shown, mask) if mask is not None else shown
        pic = imaging.caption(pic, _header_summary(result))
        return Response(
            imaging.png_bytes(pic),
            media_type="image/png",
            headers={"X-Prediction": _header_summary(result)},
        )
    if mask is not None:
        result["mask_png"] = base64.b64encode(imaging.png_bytes(mask)).decode()
        result["mask_shape"] = list(mask.shape)
    result["weights_id"] = weights_id
    return JSONResponse(result)


def _header_summary(result: dict) -> str:
    if "label" in result:
        return f"{result['label']} ({result['probabilities'][result['label']]:.3f})"
    if "foreground_fraction" in result:
        return f"foreground {result['foreground_fraction']:.3f}"
    return ",".join(f"{v:.4g}" for v in result.get("values", []))[:200]
