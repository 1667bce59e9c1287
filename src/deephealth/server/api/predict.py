"""The inference REST endpoint for clinical platforms: send an image, get the prediction back.

`POST /api/v1/predict/{weights_id}` takes the image as the raw request body or as the multipart
field `file` (PNG, JPEG, DICOM or NIfTI, checked by content); a DICOM series comes as several
`file` fields (one per slice) or as one zip of its files, and is read as one volume (slices
sorted by ImagePositionPatient, else InstanceNumber; one SeriesInstanceUID and even spacing, else
a 422 naming the files at fault). It answers JSON: class probabilities
and label (classification), the mask as base64 PNG (segmentation), the values (regression) or
the boxes with their scores and class names in the image's pixels (detection).
Models trained with clinical values (`scalar_regression`, `survival`) also take those values as a
JSON object, in the multipart field `features` or the query parameter `features`; they are checked
against the dataset schema stored with the model, and a missing, unknown or out-of-range feature
is a 422 whose JSON names it (`{"detail": ..., "feature": "age"}`).
An EDF/BDF recording sent to a signal model answers its detected events (onset, end, label,
score; see `deephealth.server.signal_inference`). A packed report generator
(`report_generator.onnx`) answers the generated report text and its findings. `?format=png` returns the mask PNG itself and `?format=overlay` the image with the prediction drawn
over it (what the inference page shows), with a one-line summary in the `X-Prediction` header,
UTF-8 percent-encoded (class names may be in any script; headers are Latin-1). `?explain=gradcam`
(or `integrated_gradients`, `occlusion`) returns, for a classifier, the image with the heat map of
the predicted class over it as PNG (see `deephealth.server.explain`), the method and class in the
`X-Explanation` header. The body is
streamed to a private file with the image size limit counted as it arrives, and the image is
decoded only within `DEEPHEALTH_MAX_IMAGE_BYTES` (see `deephealth.server.image_check`). Platforms authenticate with an API token
(`Authorization: Bearer ...`); calls are audited once per user, model and minute.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from deephealth.server import imaging, uploads
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import ModelWeights, Project
from deephealth.server.deps import Principal, audit, get_config, get_db, require_user
from deephealth.server.inference import (
    FeatureInputError,
    PredictionError,
    predict_file,
    scratch_dir,
)
from deephealth.server.permissions import get_in_project

router = APIRouter(tags=["inference"])
SUFFIX = {"png": ".png", "jpeg": ".jpg", "dicom": ".dcm", "nifti": ".nii"}
_AUDIT_EVERY_S = 60.0
_last_audit: dict[tuple[int, int], float] = {}


MAX_SERIES_FILES = 2000  # slices of a DICOM series in one request (several files, or a zip)


def _safe_name(name: str | None, index: int, taken: set[str]) -> str:
    """A file name for an uploaded part: its base name with odd characters replaced, unique."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name or "").name).lstrip(".") or f"file{index}"
    out = base if base.lower() not in taken else f"{index:04d}-{base}"
    taken.add(out.lower())
    return out[:120]


async def _receive_image(
    request: Request, folder: Path, limit: int
) -> tuple[list[Path], str | None]:
    """Write the image of a request to the private `folder`: the raw body, or the multipart
    field(s) `file` (several for the slices of a DICOM series, kept under their own names),
    counting bytes as they arrive: 413 beyond `limit` in all, never more than one chunk in
    memory. Returns the files and the multipart field `features` (clinical values as JSON text),
    if any."""
    ctype = request.headers.get("content-type", "")
    size = 0
    features: str | None = None
    written: list[Path] = []
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=MAX_SERIES_FILES, max_fields=5)
        except (ValueError, KeyError) as err:  # malformed multipart, too many files
            raise HTTPException(422, f"malformed multipart body ({err})") from None
        field = form.get("features")
        features = field if isinstance(field, str) else None
        parts = [u for u in form.getlist("file") if not isinstance(u, str)]
        if not parts:
            raise HTTPException(422, "multipart request needs a file field named 'file'")
        taken: set[str] = set()
        for i, upload in enumerate(parts):
            dest = folder / _safe_name(upload.filename, i, taken)
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                while chunk := await upload.read(uploads.CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise HTTPException(413, f"image larger than {limit} bytes")
                    out.write(chunk)
            written.append(dest)
    else:
        dest = folder / "image"
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"image larger than {limit} bytes")
                out.write(chunk)
        written.append(dest)
    if not size:
        raise HTTPException(422, "no image in the request")
    return written, features


def _series_of_zip(path: Path, what: str, limit: int) -> list[Path]:
    """The files of a zipped DICOM series, extracted safely next to the zip (hidden files,
    folders and DICOMDIR left out)."""
    files = uploads.safe_extract_zip(
        path, path.parent / "series", MAX_SERIES_FILES, limit, max_ratio=200.0
    )
    files = sorted(f for f in files if not f.name.startswith(".") and f.name.upper() != "DICOMDIR")
    if not files:
        raise HTTPException(422, f"{what}: the zip holds no files")
    return files


def _parse_features(text: str | None) -> Any:
    """The clinical values of a request (JSON object text), None when not sent; 422 otherwise."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as err:
        raise HTTPException(422, f"features: not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise HTTPException(422, "features: must be a JSON object of feature name -> value")
    return value


def _kind(path: Path) -> tuple[str, str]:
    kind = uploads.sniff_file(path)
    if kind not in SUFFIX:
        raise HTTPException(415, "content is not a PNG, JPEG, DICOM or NIfTI image")
    if kind == "nifti":
        with path.open("rb") as f:
            if f.read(2) == b"\x1f\x8b":
                return kind, ".nii.gz"
    return kind, SUFFIX[kind]


@router.post("/api/v1/predict/{weights_id}")
async def predict(
    weights_id: int,
    request: Request,
    format: str = "json",  # noqa: A002 (the query parameter's name)
    features: str | None = None,
    explain: str | None = None,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> Response:
    """Predict on one image with a project's model (members and their API tokens)."""
    if format not in ("json", "png", "overlay"):
        raise HTTPException(422, "format must be json, png or overlay")
    if explain is not None:  # (torch is imported only for explanations)
        from deephealth.pipelines.explain import METHODS

        if explain not in METHODS:
            raise HTTPException(422, f"explain must be one of {', '.join(METHODS)}")
    weights = get_in_project(db, principal.id, ModelWeights, weights_id)
    task = db.get(Project, weights.project_id).task
    if explain is not None and task != "classification":
        raise HTTPException(422, "explanations are for classification models")
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
    folder = scratch_dir(config.path("tmp")) / f"deephealth-predict-{secrets.token_hex(8)}"
    folder.mkdir(mode=0o700)
    try:
        files, form_features = await _receive_image(request, folder, config.max_image_upload_bytes)
        values = _parse_features(form_features if form_features is not None else features)
        tmp = files[0]
        with open(tmp, "rb") as fh:
            head = fh.read(8)
        from deephealth.server import signal_inference

        if signal_inference.is_recording(head):  # an EDF/BDF recording for a signal model
            try:
                out = await run_in_threadpool(
                    signal_inference.predict_recording_bytes,
                    path,
                    tmp.read_bytes(),  # bounded by the upload limit counted while receiving
                    scratch_dir(config.path("tmp")),
                )
            except ValueError as err:
                raise HTTPException(422, str(err)) from None
            return JSONResponse({**out, "weights_id": weights_id})
        image: Path | list[Path]
        if len(files) == 1 and uploads.sniff_file(tmp) == "zip":  # a zipped DICOM series
            image = _series_of_zip(tmp, "the zip", config.max_image_upload_bytes)
        elif len(files) > 1:  # the slices of a DICOM series, one file each
            image = files
        else:
            _, suffix = _kind(tmp)
            image = tmp.rename(tmp.with_suffix(suffix))
        result, hwc = await run_in_threadpool(
            predict_file, path, image, task, config.max_image_bytes, values
        )
    except FeatureInputError as err:
        return JSONResponse({"detail": str(err), "feature": err.feature}, status_code=422)
    except PredictionError as err:
        raise HTTPException(422, str(err)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if explain is not None:
        return await _explained(path, hwc, explain)
    mask = result.pop("mask", None)
    volume = result.pop("volume_mask", None)
    if volume is not None:  # a 3D segmentation: `mask` is its slice `slice`
        result["volume_shape"] = list(volume.shape)
        result["volume_foreground_voxels"] = int((volume > 0).sum())
    if format == "png":
        if mask is None:
            raise HTTPException(422, "format=png is for segmentation models")
        return Response(imaging.png_bytes(mask), media_type="image/png")
    if format == "overlay":
        shown = imaging.display(hwc)
        pic = imaging.overlay(shown, mask) if mask is not None else shown
        if "boxes" in result:  # 3D boxes: the rectangles crossing the slice shown
            pic = imaging.draw_boxes(pic, result.get("slice_boxes", result["boxes"]))
        pic = imaging.caption(pic, _header_summary(result))
        return Response(
            imaging.png_bytes(pic),
            media_type="image/png",
            headers={"X-Prediction": quote(_header_summary(result), safe=" (),.:-_")},
        )
    if mask is not None:
        result["mask_png"] = base64.b64encode(imaging.png_bytes(mask)).decode()
        result["mask_shape"] = list(mask.shape)
    result["weights_id"] = weights_id
    return JSONResponse(result)


async def _explained(weights_path: str, hwc, method: str) -> Response:
    from deephealth.server.explain import explain_array, overlay_png

    try:
        result, heat = await run_in_threadpool(explain_array, weights_path, hwc, method)
    except PredictionError as err:
        raise HTTPException(422, str(err)) from None
    summary = _header_summary(result)
    return Response(
        overlay_png(hwc, heat, f"{method}: {summary}"),
        media_type="image/png",
        headers={
            "X-Prediction": quote(summary, safe=" (),.:-_"),
            "X-Explanation": quote(f"{method} {result['label']}", safe=" (),.:-_"),
        },
    )


def _header_summary(result: dict) -> str:
    if "report" in result:
        return str(result["report"])
    if "label" in result:
        return f"{result['label']} ({result['probabilities'][result['label']]:.3f})"
    if "risk" in result:
        return f"risk {result['risk']:.4g}"
    if "boxes" in result:
        return f"{result['count']} boxes" + (
            f" (best {result['labels'][0]} {result['scores'][0]:.3f})" if result["count"] else ""
        )
    if "foreground_fraction" in result:
        return f"foreground {result['foreground_fraction']:.3f}"
    return ",".join(f"{v:.4g}" for v in result.get("values", []))[:200]
