"""Datasets: upload (a DeepHealth YAML, or a zip of images + YAML), registration of an
admin-approved server folder, statistics, sample thumbnails and per-split augmentations.

Uploaded zips are extracted safely (see `deephealth.server.uploads`), every extracted image is
checked by content, and every location in the YAML must stay inside the dataset's folder. A bare
YAML may only point into the admin-approved folders. Reading a dataset is written to the audit log.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from deephealth.server import datasets as dsvc
from deephealth.server import image_check, imaging, uploads
from deephealth.server import recordings as rsvc
from deephealth.server.api import serialize
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import Augmentation, Dataset, Inference, Training, utcnow
from deephealth.server.deps import Principal, audit, get_config, get_db, require_user
from deephealth.server.permissions import get_in_project, get_project

router = APIRouter(tags=["datasets"])
SLIDE_ZIP_SUFFIXES = (".svs", ".ndpi", ".scn", ".bif", ".svslide", ".tif", ".tiff")
"""Single-file whole slides a zip may hold (checked by opening them with OpenSlide)."""
ZIP_SUFFIXES = (".yml", ".yaml", ".png", ".jpg", ".jpeg", ".dcm", ".nii", ".nii.gz", ".txt",
                ".geojson", *SLIDE_ZIP_SUFFIXES,
                *rsvc.SIGNAL_SUFFIXES, *rsvc.TEXT_SUFFIXES)  # fmt: skip
_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


class RegisterIn(BaseModel):
    """A server folder (or YAML file inside one) to register as a dataset."""

    path: str = Field(min_length=1, max_length=4096)
    name: str = Field(default="", max_length=200)


class AugmentationIn(BaseModel):
    """ECVL augmentation text for one split."""

    text: str = Field(max_length=20000)


def loaded(ds_row: Dataset) -> Any:
    """The ECVL Dataset of a row (cached while the YAML file is unchanged)."""
    path = Path(ds_row.yaml_path)
    mtime = path.stat().st_mtime
    with _cache_lock:
        hit = _cache.get(str(path))
        if hit and hit[0] == mtime:
            return hit[1]
    ds = dsvc.load(path)
    with _cache_lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[str(path)] = (mtime, ds)
    return ds


TEXT_SUFFIXES = (".yml", ".yaml", ".txt", ".geojson", *rsvc.TEXT_SUFFIXES)


def _check_files(files: list[Path], folder: Path, config: ServerConfig) -> None:
    """Every extracted text is UTF-8 (streamed) and every image decodes within the limits
    (recordings are opened when their dataset is validated)."""
    recordings = rsvc.is_recordings(dsvc.find_yaml(folder))
    for f in files:
        what = f.relative_to(folder).as_posix()
        if f.name.lower().endswith(TEXT_SUFFIXES):
            uploads.check_text(f, what)
            if f.name.lower().endswith(".geojson"):
                _check_geojson(f, what)
        elif recordings and f.name.lower().endswith(rsvc.SIGNAL_SUFFIXES):
            continue
        elif f.name.lower().endswith(SLIDE_ZIP_SUFFIXES):
            _check_slide(f, what)
        else:
            image_check.check_image(f, what, config.max_image_bytes)


def _check_slide(path: Path, what: str) -> None:
    """A whole slide must open with OpenSlide (its pixels are read tile by tile, later)."""
    from deephealth.ecvl.slide.errors import SlideError
    from deephealth.ecvl.slide.reader import OpenSlideImage

    try:
        OpenSlideImage(path).Close()
    except (SlideError, ImportError) as err:
        msg = str(err).replace(str(path), what)
        raise uploads.UploadRejected(
            f"{what}: not a whole slide OpenSlide reads ({msg})", 422
        ) from None


def _check_geojson(path: Path, what: str) -> None:
    """Slide annotations must be GeoJSON polygons QuPath-style (`read_geojson`)."""
    from deephealth.ecvl.pathology.annotations import read_geojson

    try:
        read_geojson(path)
    except ValueError as err:
        msg = str(err).replace(str(path), what)
        raise uploads.UploadRejected(f"{what}: not GeoJSON annotations ({msg})", 422) from None


def _create(
    db: Session,
    request: Request,
    principal: Principal,
    project_id: int,
    name: str,
    source: str,
    yaml_path: Path,
    roots: list[Path],
) -> dict:
    if rsvc.is_recordings(yaml_path):
        stats = rsvc.checked_stats(yaml_path, roots)
    else:
        ds = dsvc.load(yaml_path)
        dsvc.check_locations(ds, yaml_path.parent, roots)
        stats = dsvc.stats(ds)
    row = Dataset(
        project_id=project_id,
        name=name or stats["name"] or yaml_path.stem,
        source=source,
        yaml_path=str(yaml_path),
        root_dir=str(roots[0]),
        stats=stats,
        created_by=principal.id,
    )
    db.add(row)
    db.flush()
    audit(db, request, principal, "dataset.create", "dataset", row.id, project_id, source=source)
    db.commit()
    return serialize.dataset(row)


@router.get("/api/projects/{project_id}/datasets")
def list_datasets(
    project_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> list:
    """The project's datasets."""
    get_project(db, principal.id, project_id)
    rows = db.scalars(select(Dataset).where(Dataset.project_id == project_id).order_by(Dataset.id))
    return [serialize.dataset(d) for d in rows]


@router.post("/api/projects/{project_id}/datasets", status_code=201)
def upload_dataset(
    project_id: int,
    request: Request,
    file: UploadFile = File(...),
    name: str = Form(default=""),
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict:
    """Upload a zip (images + one dataset YAML) or a bare YAML pointing into approved folders."""
    get_project(db, principal.id, project_id, "owner")
    token = secrets.token_hex(8)
    tmp = config.path("tmp", f"upload-{token}")
    folder = config.path("datasets", token)
    try:
        uploads.save_upload(file, tmp, config.max_upload_bytes)
        kind = uploads.sniff_file(tmp)
        if kind == "zip":
            files = uploads.safe_extract_zip(
                tmp,
                folder,
                config.max_zip_entries,
                config.max_zip_total_bytes,
                config.max_zip_ratio,
                ZIP_SUFFIXES,
                TEXT_SUFFIXES,
                config.max_text_bytes,
            )
            _check_files(files, folder, config)
            yaml_path = dsvc.find_yaml(folder)
            return _create(db, request, principal, project_id, name, "zip", yaml_path, [folder])
        if kind is None and (file.filename or "").lower().endswith((".yml", ".yaml")):
            uploads.check_text(tmp, "dataset YAML")
            if not config.approved_folders:
                raise uploads.UploadRejected(
                    "a bare YAML can only point into admin-approved folders, and none are "
                    "configured; upload a zip with the images instead",
                    422,
                )
            folder.mkdir(parents=True)
            yaml_path = folder / "dataset.yml"
            shutil.move(tmp, yaml_path)
            roots = list(config.approved_folders)
            return _create(db, request, principal, project_id, name, "yaml", yaml_path, roots)
        raise uploads.UploadRejected(
            f"{file.filename}: content is neither a zip nor a YAML dataset file", 415
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        tmp.unlink(missing_ok=True)


@router.post("/api/projects/{project_id}/datasets/register", status_code=201)
def register_folder(
    project_id: int,
    body: RegisterIn,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict:
    """Register a dataset already on the server (admins; only inside approved folders)."""
    get_project(db, principal.id, project_id, "owner")
    if not principal.user.is_admin:
        raise HTTPException(403, "only admins register server folders")
    target = Path(body.path)
    root = next((r for r in config.approved_folders if dsvc.inside(target, [r])), None)
    if not target.is_absolute() or root is None:
        audit(
            db,
            request,
            principal,
            "dataset.register_refused",
            project_id=project_id,
            path=body.path,
        )
        db.commit()
        raise HTTPException(403, "path is not inside an admin-approved folder")
    target = target.resolve()
    if target.is_dir():
        yaml_path = dsvc.find_yaml(target)
    elif target.is_file() and target.suffix.lower() in (".yml", ".yaml"):
        yaml_path = target
    else:
        raise HTTPException(404, "no dataset YAML at that path")
    return _create(db, request, principal, project_id, body.name, "folder", yaml_path, [root])


@router.get("/api/datasets/{dataset_id}")
def read_dataset(
    dataset_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """A dataset with its class balance and split sizes (access is audited)."""
    row = get_in_project(db, principal.id, Dataset, dataset_id)
    audit(db, request, principal, "dataset.read", "dataset", row.id, row.project_id)
    db.commit()
    return serialize.dataset(row)


@router.delete("/api/datasets/{dataset_id}")
def delete_dataset(
    dataset_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict:
    """Delete a dataset (owners); uploaded files are removed, registered folders are not."""
    row = get_in_project(db, principal.id, Dataset, dataset_id, "owner")
    used = db.scalar(
        select(Training.id).where(Training.dataset_id == row.id).limit(1)
    ) or db.scalar(select(Inference.id).where(Inference.dataset_id == row.id).limit(1))
    if used is not None:
        raise HTTPException(
            409, "the dataset is used by trainings or inferences; delete those first"
        )
    if row.source != "folder" and config.path("datasets") in Path(row.yaml_path).parents:
        shutil.rmtree(
            Path(row.root_dir) if row.source == "zip" else Path(row.yaml_path).parent,
            ignore_errors=True,
        )
    audit(db, request, principal, "dataset.delete", "dataset", row.id, row.project_id)
    db.delete(row)
    db.commit()
    return {"ok": True}


@router.get("/api/datasets/{dataset_id}/samples")
def list_samples(
    dataset_id: int,
    split: str | None = None,
    offset: int = 0,
    limit: int = 24,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """A page of sample indices (of one split) with their labels."""
    row = get_in_project(db, principal.id, Dataset, dataset_id)
    ds = loaded(row)
    if split:
        try:
            indices = list(ds.GetSplit(split))
        except Exception:
            raise HTTPException(404, f"no split named {split!r}") from None
    else:
        indices = list(range(len(ds.samples_)))
    offset, limit = max(0, offset), max(1, min(limit, 200))
    out = []
    for i in indices[offset : offset + limit]:
        _, mask, labels = dsvc.sample_files(ds, Path(row.yaml_path).parent, i)
        out.append({"index": i, "labels": labels, "has_mask": mask is not None})
    return {"total": len(indices), "offset": offset, "samples": out}


@router.get("/api/datasets/{dataset_id}/samples/{index}/thumbnail")
def sample_thumbnail(
    dataset_id: int,
    index: int,
    size: int = 128,
    window: str | None = None,
    mask: bool = False,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> Response:
    """A PNG thumbnail of one sample (middle slice of volumes; CT windowing; mask overlay)."""
    row = get_in_project(db, principal.id, Dataset, dataset_id)
    ds = loaded(row)
    try:
        image_path, mask_path, _ = dsvc.sample_files(ds, Path(row.yaml_path).parent, index)
        win = imaging.parse_window(window)
    except IndexError:
        raise HTTPException(404, "sample not found") from None
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    size = max(16, min(size, 512))
    limit = config.max_image_bytes
    pic = imaging.to_display(image_check.read_image(image_path, f"sample {index}", limit), win)
    if mask and mask_path is not None:
        import numpy as np

        m = imaging.to_display(
            image_check.read_image(mask_path, f"mask of sample {index}", limit), (0.5, 1.0)
        )
        pic = imaging.overlay(pic, (np.asarray(m if m.ndim == 2 else m[..., 0]) > 127))
    return Response(
        imaging.png_bytes(imaging.fit(pic, size)),
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=300"},
    )


@router.get("/api/datasets/{dataset_id}/augmentations")
def read_augmentations(
    dataset_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> dict:
    """The augmentation text of each split."""
    row = get_in_project(db, principal.id, Dataset, dataset_id)
    rows = db.scalars(select(Augmentation).where(Augmentation.dataset_id == row.id))
    return {a.split: a.text for a in rows}


def validate_augmentation(text: str) -> str:
    """The text, checked by ECVL's AugmentationFactory (422 with line/column otherwise)."""
    if not text.strip():
        return ""
    from deephealth.ecvl.augment.factory import AugmentationFactory

    try:
        AugmentationFactory.create(text)
    except Exception as err:
        raise HTTPException(422, f"invalid augmentation: {err}") from None
    return text


@router.put("/api/datasets/{dataset_id}/augmentations/{split}")
def write_augmentation(
    dataset_id: int,
    split: str,
    body: AugmentationIn,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Set (or clear, with empty text) the augmentation of one split, validated as ECVL text."""
    row = get_in_project(db, principal.id, Dataset, dataset_id, "owner")
    if split not in row.stats.get("splits", {}):
        raise HTTPException(404, f"dataset has no split {split!r}")
    text = validate_augmentation(body.text)
    aug = db.scalar(
        select(Augmentation).where(Augmentation.dataset_id == row.id, Augmentation.split == split)
    )
    if not text:
        if aug is not None:
            db.delete(aug)
    elif aug is None:
        db.add(Augmentation(dataset_id=row.id, split=split, text=text))
    else:
        aug.text, aug.updated_at = text, utcnow()
    audit(
        db, request, principal, "augmentation.set", "dataset", row.id, row.project_id, split=split
    )
    db.commit()
    return {"split": split, "text": text}
