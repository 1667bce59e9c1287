"""Whole-slide projects: the slide pipeline config of a training, and its slide-level results.

A `slide_classification` or `patch_segmentation` project trains on a dataset whose samples are
whole slides (registered from an approved folder, or a YAML pointing into one): each sample's
class label (classification) or the QuPath GeoJSON next to the slide, ``<slide stem>.geojson``
(segmentation; the dataset's first class is the unannotated tissue), and its split. The
training form adds the tiling settings (`SlideSettings`); `build_slide_config` turns them into
a `deephealth.pipelines.pathology` config, validated by `validate_slide_config`, which the job
runs through `train_slides`.

A finished slide training predicts every test slide; `GET /api/jobs/{id}/slides` lists them
(true and predicted label, class scores, tiles), and `.../slides/{k}/view` feeds the slide
viewer page (`/jobs/{id}/slides/{k}`): the slide as Deep Zoom tiles, each class's heat map as a
second layer, the predicted regions (the run's ``regions.geojson``) drawn on top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from deephealth.server.api.datasets import loaded
from deephealth.server.db.models import Dataset, Job
from deephealth.server.deps import Principal, get_db, require_user
from deephealth.server.permissions import get_in_project

router = APIRouter(tags=["slides"])


class SlideSettings(BaseModel):
    """Tissue detection and tiling of a slide training (see `TILER_FIELDS` of the pipeline)."""

    size: int = Field(default=128, ge=16, le=1024, description="Tile side in pixels.")
    level: int | None = Field(default=None, ge=0, description="Pyramid level read as is.")
    mpp: float | None = Field(default=None, gt=0, le=1000, description="Microns per pixel.")
    magnification: float | None = Field(default=None, gt=0, le=100, description="e.g. 10")
    overlap: int = Field(default=0, ge=0, le=512, description="Pixels shared by tiles.")
    min_tissue: float = Field(default=0.5, ge=0, le=1, description="Minimum tissue fraction.")
    aggregate: str = Field(default="mean", max_length=16, description="mean, vote, topk, max.")


def _slide_entries(dataset: Dataset, task: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The dataset's samples as slide pipeline entries, and its classes."""
    from deephealth.server.api.viewers import _is_slide

    ds = loaded(dataset)
    base = Path(dataset.yaml_path).parent
    classes = list(ds.classes_)
    split_of = {i: s.split_name_ for s in ds.split_ for i in s.samples_indices_}
    entries, problems = [], []
    for i, sample in enumerate(ds.samples_):
        loc = Path(sample.location_[0])
        path = loc if loc.is_absolute() else base / loc
        name = f"sample {i} ({loc.name})"
        if len(sample.location_) != 1 or not _is_slide(path):
            problems.append(f"{name} is not a whole slide OpenSlide reads")
            continue
        entry: dict[str, Any] = {"path": str(path), "split": split_of.get(i, "training")}
        if task == "slide_classification":
            labels = sample.label_ or []
            if len(labels) != 1 or not 0 <= labels[0] < len(classes):
                problems.append(f"{name} needs one class label")
                continue
            entry["label"] = classes[labels[0]]
        else:
            geojson = path.with_suffix(".geojson")
            if not geojson.is_file():
                problems.append(f"{name} has no annotations ({path.stem}.geojson next to it)")
                continue
            entry["annotations"] = str(geojson)
        entries.append(entry)
    if problems:
        raise HTTPException(422, f"dataset {dataset.name!r}: " + "; ".join(problems[:10]))
    return entries, classes


def build_slide_config(
    task: str,
    dataset: Dataset,
    family_name: str,
    hp: dict[str, Any],
    settings: SlideSettings,
    computing_service: dict[str, Any],
) -> dict[str, Any]:
    """The slide pipeline config of a training (validated; 422 lists every problem)."""
    from deephealth.pipelines.config import ConfigError
    from deephealth.pipelines.pathology.config import validate_slide_config

    slides, classes = _slide_entries(dataset, task)
    tiler = settings.model_dump(exclude={"aggregate"})
    config = {
        "version": 1,
        "task": task,
        "name": dataset.name,
        "slides": slides,
        "classes": classes,
        "tiler": tiler,
        "model": family_name,
        "epochs": hp["epochs"],
        "batch_size": hp["batch_size"],
        "optimizer": {"name": hp["optimizer"], "lr": hp["lr"]},
        "aggregate": settings.aggregate,
        "workers": 2,
        "seed": hp["seed"],
        "computing_service": computing_service,
    }
    try:
        return validate_slide_config(config, "training")
    except ConfigError as err:
        raise HTTPException(422, str(err)) from None


# ---------- results ----------
def _test_slides(job: Job) -> list[dict[str, Any]]:
    """The job's test slides in prediction order, with their result records when finished."""
    config = job.config or {}
    slides = [s for s in config.get("slides", []) if s.get("split") == "test"]
    if not slides:
        raise HTTPException(404, "this job is not a slide training")
    records = {Path(str(r.get("slide", ""))).stem: r for r in (job.result or {}).get("slides", [])}
    out = []
    for s in slides:
        stem = Path(s["path"]).stem
        out.append({"path": Path(s["path"]), "stem": stem, "record": records.get(stem)})
    return out


def _slide(
    db: Session, principal: Principal, job_id: int, index: int
) -> tuple[Job, dict[str, Any]]:
    job = get_in_project(db, principal.id, Job, job_id)
    slides = _test_slides(job)
    if not 0 <= index < len(slides):
        raise HTTPException(404, "slide not found")
    return job, slides[index]


def _maps(job: Job, stem: str) -> dict[str, Path]:
    """The slide's heat maps written by the run (``heatmap_<class>`` → file)."""
    folder = Path(job.run_dir or "") / "slides" / stem
    return {p.stem: p for p in sorted(folder.glob("heatmap_*.tif"))}


def _part_path(job: Job, slide: dict[str, Any], part: str) -> Path:
    if part == "image":
        return Path(slide["path"])
    found = _maps(job, slide["stem"]).get(part)
    if found is None:
        raise HTTPException(404, f"no map {part!r} for this slide")
    return found


@router.get("/api/jobs/{job_id}/slides")
def job_slides(
    job_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> dict[str, Any]:
    """The test slides of a slide training, with their slide-level result once it finished."""
    job = get_in_project(db, principal.id, Job, job_id)
    slides = _test_slides(job)
    config = job.config or {}
    rows = []
    for k, s in enumerate(slides):
        r = s["record"] or {}
        rows.append({
            "index": k, "name": s["path"].name, "true": r.get("true"),
            "label": r.get("label"), "scores": r.get("scores"), "tiles": r.get("tiles"),
            "dice": r.get("dice"), "maps": list(_maps(job, s["stem"])),
            "page": f"/jobs/{job_id}/slides/{k}",
        })  # fmt: skip
    return {"task": config.get("task"), "classes": config.get("classes", []), "slides": rows}


@router.get("/api/jobs/{job_id}/slides/{index}/view")
def job_slide_view(
    job_id: int,
    index: int,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict[str, Any]:
    """What the slide viewer loads for one test slide: the slide, its heat maps, its regions."""
    from deephealth.ecvl.pathology.annotations import read_geojson
    from deephealth.server.api.viewers import _pyramid

    job, slide = _slide(db, principal, job_id, index)
    dz = _pyramid(slide["path"], f"slide {index}")
    url = f"/api/jobs/{job_id}/slides/{index}"
    maps = list(_maps(job, slide["stem"]))
    record = slide["record"] or {}
    regions = Path(job.run_dir or "") / "slides" / slide["stem"] / "regions.geojson"
    found = read_geojson(regions) if regions.is_file() else []
    label = record.get("label")
    default = f"heatmap_{label}" if f"heatmap_{label}" in maps else (maps[-1] if maps else None)
    return {
        "kind": "slide",
        "index": index,
        "labels": [f"predicted {label}" if label else "not predicted yet"]
        + ([f"true {record['true']}"] if record.get("true") else []),
        "image": f"{url}/slide.dzi",
        "mask": f"{url}/slide.dzi?part={default}" if default else None,
        "maps": [
            {"name": m.removeprefix("heatmap_"), "url": f"{url}/slide.dzi?part={m}"} for m in maps
        ],
        "size": list(dz.slide.dimensions),
        "mpp": list(dz.slide.mpp) if dz.slide.mpp else None,
        "levels": dz.slide.GetLevelCount(),
        "annotations": [
            {"label": a.label, "bbox": list(a.bbox), "points": a.exterior.round(1).tolist()}
            for a in found
        ],
        "geojson": f"{url}/regions.geojson",
    }


@router.get("/api/jobs/{job_id}/slides/{index}/slide.dzi")
def job_slide_dzi(
    job_id: int,
    index: int,
    part: str = "image",
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> Response:
    """The Deep Zoom descriptor of a test slide (``part=image``) or of one of its heat maps."""
    from deephealth.server.api.viewers import CACHE_HEADERS, _pyramid

    job, slide = _slide(db, principal, job_id, index)
    dz = _pyramid(_part_path(job, slide, part), f"{part} of slide {index}")
    return Response(dz.dzi(), media_type="application/xml", headers=CACHE_HEADERS)


@router.get("/api/jobs/{job_id}/slides/{index}/slide_files/{level}/{tile}")
def job_slide_tile(
    job_id: int,
    index: int,
    level: int,
    tile: str,
    part: str = "image",
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> Response:
    """One Deep Zoom tile (``{col}_{row}.jpeg``) of a test slide or heat map, cached."""
    from deephealth.server.api.viewers import tile_response

    job, slide = _slide(db, principal, job_id, index)
    return tile_response(_part_path(job, slide, part), level, tile, f"{part} of slide {index}")


@router.get("/api/jobs/{job_id}/slides/{index}/regions.geojson")
def job_slide_regions(
    job_id: int,
    index: int,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> FileResponse:
    """The predicted regions of a test slide as GeoJSON for QuPath."""
    job, slide = _slide(db, principal, job_id, index)
    path = Path(job.run_dir or "") / "slides" / slide["stem"] / "regions.geojson"
    if not path.is_file():
        raise HTTPException(404, "no regions for this slide yet")
    return FileResponse(
        path, media_type="application/geo+json", filename=f"{slide['stem']}-regions.geojson"
    )
