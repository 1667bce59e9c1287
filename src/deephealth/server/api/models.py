"""Model families (the zoo), hyper-parameter definitions, and model weights: upload of an
external ONNX file (validated by importing it with `deephealth.eddl.import_net_from_onnx_file`),
listing with lineage, and download (audited).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from deephealth.server import uploads
from deephealth.server.api import serialize
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import (
    Dataset,
    HyperParameter,
    Inference,
    ModelFamily,
    ModelWeights,
    Training,
)
from deephealth.server.deps import Principal, audit, get_config, get_db, require_user
from deephealth.server.permissions import get_in_project, get_project
from deephealth.server.seed import DEFAULT_HYPERPARAMETERS

router = APIRouter(tags=["models"])


def validate_onnx(path: Path) -> dict:
    """Check an uploaded ONNX file by importing it; returns its input/output description.

    Files that reference external data are refused (they would make the server read other files).
    An exported detector (with its non-maximum suppression, metadata key ``deephealth.detection``,
    or a 3D detector with its peak finding, ``deephealth.detection3d``) is checked by loading it in onnxruntime: it is served as it is, never imported for training.

    Raises:
        UploadRejected: (415/422) naming the problem.
    """
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as err:
        raise uploads.UploadRejected(f"not an ONNX model: {err}", 415) from None
    external = [
        t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
    ]
    if external:
        raise uploads.UploadRejected(
            f"ONNX file references external data ({', '.join(external[:3])}); upload a "
            "self-contained file",
            422,
        )
    from deephealth.eddl import import_net_from_onnx_file

    served = ("deephealth.detection", "deephealth.detection3d")  # post-processing in the graph
    detector = any(p.key in served for p in proto.metadata_props)
    try:
        if detector:  # an exported detector (post-processing in the graph) is served, not trained
            from deephealth.serving import InferenceSession

            onnx.checker.check_model(proto)
            InferenceSession(path)
        else:
            import_net_from_onnx_file(str(path))
    except Exception as err:
        raise uploads.UploadRejected(f"ONNX model cannot be imported: {err}", 422) from None

    def _shape(v) -> list:
        return [d.dim_value or d.dim_param or None for d in v.type.tensor_type.shape.dim]

    inits = {t.name for t in proto.graph.initializer}
    return {
        "inputs": [
            {"name": i.name, "shape": _shape(i)} for i in proto.graph.input if i.name not in inits
        ],
        "outputs": [{"name": o.name, "shape": _shape(o)} for o in proto.graph.output],
        "opset": max((o.version for o in proto.opset_import), default=None),
    }


@router.get("/api/families")
def list_families(
    task: str | None = None,
    _: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> list:
    """Model families from the zoo; with `task`, only those its pipeline accepts."""
    from deephealth.server.tasks import family_fits

    rows = db.scalars(select(ModelFamily).order_by(ModelFamily.id))
    return [serialize.family(f) for f in rows if task is None or family_fits(f.name, task)]


@router.get("/api/hyperparameters")
def hyperparameters(
    family_id: int | None = None,
    dataset_id: int | None = None,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> list:
    """The effective hyper-parameter definitions for a model family and dataset.

    A definition for the dataset overrides one for the family, which overrides the general one.
    """
    if dataset_id is not None:
        get_in_project(db, principal.id, Dataset, dataset_id)
    rows = db.scalars(
        select(HyperParameter).where(
            or_(HyperParameter.family_id.is_(None), HyperParameter.family_id == family_id),
            or_(HyperParameter.dataset_id.is_(None), HyperParameter.dataset_id == dataset_id),
        )
    ).all()
    best: dict[str, HyperParameter] = {}
    for h in rows:
        rank = (h.dataset_id is not None) * 2 + (h.family_id is not None)
        old = best.get(h.name)
        if old is None or rank > (old.dataset_id is not None) * 2 + (old.family_id is not None):
            best[h.name] = h
    return [hyper_dict(h) for h in best.values()]


def admin_definitions(db: Session, family_id: int | None) -> list[dict]:
    """The most specific admin-defined (general or per-family) definition of each
    hyper-parameter: the limits that per-dataset definitions of project owners cannot widen."""
    rows = db.scalars(
        select(HyperParameter).where(
            HyperParameter.dataset_id.is_(None),
            or_(HyperParameter.family_id.is_(None), HyperParameter.family_id == family_id),
        )
    ).all()
    best: dict[str, HyperParameter] = {}
    for h in rows:
        if h.name not in best or h.family_id is not None:
            best[h.name] = h
    return [hyper_dict(h) for h in best.values()]


def check_within_admin_limits(definition: dict, admin: dict | None) -> None:
    """422 when an owner's per-dataset definition allows what the admin definition forbids."""
    if admin is None:
        return
    name = definition["name"]
    if definition["kind"] != admin["kind"]:
        raise HTTPException(422, f"hyper-parameter {name}: the admins define it as {admin['kind']}")
    if admin["minimum"] is not None and (
        definition["minimum"] is None or definition["minimum"] < admin["minimum"]
    ):
        raise HTTPException(
            422, f"hyper-parameter {name}: minimum must be at least {admin['minimum']:g} (admin)"
        )
    if admin["maximum"] is not None and (
        definition["maximum"] is None or definition["maximum"] > admin["maximum"]
    ):
        raise HTTPException(
            422, f"hyper-parameter {name}: maximum must be at most {admin['maximum']:g} (admin)"
        )
    if admin["allowed"] is not None and (
        definition["allowed"] is None
        or not all(v in admin["allowed"] for v in definition["allowed"])
    ):
        raise HTTPException(
            422, f"hyper-parameter {name}: allowed values must be among {admin['allowed']} (admin)"
        )
    check_hyperparameters([admin], {name: definition["default"]})


class HyperParameterIn(BaseModel):
    """A hyper-parameter definition: general (admins), per model family (admins) or per dataset
    (owners of the dataset's project)."""

    name: str = Field(pattern="^(" + "|".join(n for n, *_ in DEFAULT_HYPERPARAMETERS) + ")$")
    kind: Literal["int", "float", "choice", "bool"]
    default: Any
    allowed: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    family_id: int | None = None
    dataset_id: int | None = None


@router.put("/api/hyperparameters")
def define_hyperparameter(
    body: HyperParameterIn,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Create or replace a definition (its default must pass its own checks)."""
    project_id = None
    if body.dataset_id is not None:
        project_id = get_in_project(db, principal.id, Dataset, body.dataset_id, "owner").project_id
    elif not principal.user.is_admin:
        raise HTTPException(403, "only admins define general or per-family hyper-parameters")
    if body.family_id is not None and db.get(ModelFamily, body.family_id) is None:
        raise HTTPException(404, "model family not found")
    check_hyperparameters([body.model_dump()], {body.name: body.default})
    if body.dataset_id is not None:
        limits = {d["name"]: d for d in admin_definitions(db, body.family_id)}
        check_within_admin_limits(body.model_dump(), limits.get(body.name))
    row = db.scalar(
        select(HyperParameter).where(
            HyperParameter.name == body.name,
            HyperParameter.family_id.is_(None)
            if body.family_id is None
            else HyperParameter.family_id == body.family_id,
            HyperParameter.dataset_id.is_(None)
            if body.dataset_id is None
            else HyperParameter.dataset_id == body.dataset_id,
        )
    )
    if row is None:
        row = HyperParameter(name=body.name)
        db.add(row)
    for key, value in body.model_dump().items():
        setattr(row, key, value)
    audit(
        db,
        request,
        principal,
        "hyperparameter.set",
        "hyperparameter",
        None,
        project_id,
        name=body.name,
        family_id=body.family_id,
        dataset_id=body.dataset_id,
    )
    db.commit()
    return hyper_dict(row)


def hyper_dict(h: HyperParameter) -> dict:
    """A hyper-parameter definition as JSON."""
    return {
        "name": h.name,
        "kind": h.kind,
        "default": h.default,
        "allowed": h.allowed,
        "minimum": h.minimum,
        "maximum": h.maximum,
        "family_id": h.family_id,
        "dataset_id": h.dataset_id,
    }


def check_hyperparameters(defs: list[dict], values: dict) -> dict:
    """`values` completed with defaults and checked against `defs` (422 on any problem)."""
    by_name = {d["name"]: d for d in defs}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise HTTPException(422, f"unknown hyper-parameter(s) {unknown}; known: {sorted(by_name)}")
    out = {}
    for name, d in by_name.items():
        v = values.get(name, d["default"])
        kind = d["kind"]
        ok = (
            (kind == "int" and isinstance(v, int) and not isinstance(v, bool))
            or (kind == "float" and isinstance(v, int | float) and not isinstance(v, bool))
            or (kind == "bool" and isinstance(v, bool))
            or kind == "choice"
        )
        if not ok:
            raise HTTPException(422, f"hyper-parameter {name}: expected {kind}, got {v!r}")
        if d["allowed"] is not None and v not in d["allowed"]:
            raise HTTPException(422, f"hyper-parameter {name}: {v!r} not in {d['allowed']}")
        numeric = kind in ("int", "float")
        if numeric and d["minimum"] is not None and v < d["minimum"]:
            raise HTTPException(422, f"hyper-parameter {name}: {v!r} below {d['minimum']}")
        if numeric and d["maximum"] is not None and v > d["maximum"]:
            raise HTTPException(422, f"hyper-parameter {name}: {v!r} above {d['maximum']}")
        out[name] = float(v) if kind == "float" else v
    return out


@router.get("/api/projects/{project_id}/weights")
def list_weights(
    project_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> list:
    """Model weights of the project, with lineage."""
    get_project(db, principal.id, project_id)
    rows = db.scalars(
        select(ModelWeights).where(ModelWeights.project_id == project_id).order_by(ModelWeights.id)
    )
    return [serialize.weights(w) for w in rows]


@router.post("/api/projects/{project_id}/weights", status_code=201)
def upload_weights(
    project_id: int,
    request: Request,
    file: UploadFile = File(...),
    name: str = Form(default="", max_length=200),
    family_id: int | None = Form(default=None),
    pretrained_on: str = Form(default="", max_length=200),
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict:
    """Upload an external ONNX model (owners); it is validated by importing it."""
    get_project(db, principal.id, project_id, "owner")
    if family_id is not None and db.get(ModelFamily, family_id) is None:
        raise HTTPException(404, "model family not found")
    folder = config.path("models", secrets.token_hex(8))
    path = folder / "model.onnx"
    uploads.save_upload(file, path, config.max_upload_bytes)
    try:
        info = validate_onnx(path)
    except BaseException:
        path.unlink(missing_ok=True)
        folder.rmdir()
        raise
    row = ModelWeights(
        project_id=project_id,
        family_id=family_id,
        name=name or Path(file.filename or "model.onnx").stem[:200],
        path=str(path),
        origin="upload",
        pretrained_on=pretrained_on,
        info=info,
    )
    db.add(row)
    db.flush()
    audit(db, request, principal, "weights.upload", "weights", row.id, project_id)
    db.commit()
    return serialize.weights(row)


@router.get("/api/weights/{weights_id}")
def read_weights(
    weights_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> dict:
    """One model's record and lineage."""
    return serialize.weights(get_in_project(db, principal.id, ModelWeights, weights_id))


@router.get("/api/weights/{weights_id}/features")
def read_weights_features(
    weights_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> dict:
    """The clinical values a model takes with its image (the input features of the dataset
    schema stored with it: name, type, unit, allowed values, range); empty for image-only models.
    The inference form is generated from it."""
    from deephealth.pipelines.tasks.clinical import load_fitted_state
    from deephealth.server.inference import session_for

    weights = get_in_project(db, principal.id, ModelWeights, weights_id)
    try:
        state = load_fitted_state(weights.path, session_for(weights.path).metadata)
    except (OSError, ValueError):
        state = None
    if state is None:
        return {"task": None, "features": []}
    keys = ("name", "type", "unit", "values", "min", "max", "description")
    specs = [
        {k: spec.get(k) for k in keys}
        for spec in state["encoder"]["specs"]
        if spec.get("role") == "input" and spec.get("type") not in ("id", "text")
    ]
    return {"task": state["task"], "features": specs}


@router.get("/api/weights/{weights_id}/download")
def download_weights(
    weights_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> FileResponse:
    """The ONNX file (access is audited)."""
    row = get_in_project(db, principal.id, ModelWeights, weights_id)
    path = Path(row.path)
    if not path.is_file():
        raise HTTPException(410, "the model file is gone from the server")
    audit(db, request, principal, "weights.download", "weights", row.id, row.project_id)
    db.commit()
    return FileResponse(
        path, media_type="application/octet-stream", filename=f"{_safe_name(row.name)}.onnx"
    )


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "model"


@router.delete("/api/weights/{weights_id}")
def delete_weights(
    weights_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Delete an uploaded model's record and file (owners); trained ones keep their run files."""
    row = get_in_project(db, principal.id, ModelWeights, weights_id, "owner")
    children = db.scalar(select(ModelWeights.id).where(ModelWeights.parent_id == row.id).limit(1))
    used = db.scalar(
        select(Training.id).where(Training.base_weights_id == row.id).limit(1)
    ) or db.scalar(select(Inference.id).where(Inference.weights_id == row.id).limit(1))
    if children is not None or used is not None:
        raise HTTPException(409, "these weights are used by trainings, inferences or other models")
    if row.origin == "upload":
        Path(row.path).unlink(missing_ok=True)
    audit(db, request, principal, "weights.delete", "weights", row.id, row.project_id)
    db.delete(row)
    db.commit()
    return {"ok": True}
