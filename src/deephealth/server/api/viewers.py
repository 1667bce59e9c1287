"""What the sample viewers load: volumes as NIfTI (DICOM series converted with ECVL's readers),
whole slides as Deep Zoom tiles, and 2D images at full resolution with their masks and boxes.

`GET /api/datasets/{id}/samples/{index}/view` says which viewer a sample needs and where its
parts are: ``volume`` (NIfTI, a DICOM series given as several locations or a multi-frame
DICOM), ``slide`` (a file OpenSlide reads, shown through the Deep Zoom endpoints) or ``image``.
Every file is read with the server's decoding limits; DICOM series are converted once and kept
under the server's cache folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from deephealth.server import image_check, imaging
from deephealth.server.api.datasets import loaded
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import Dataset
from deephealth.server.deepzoom import SLIDE_SUFFIXES, SlideTiles, TileCache
from deephealth.server.deps import Principal, get_config, get_db, require_user
from deephealth.server.permissions import get_in_project

router = APIRouter(tags=["viewers"])
PARTS = ("image", "mask")
CACHE_HEADERS = {"Cache-Control": "private, max-age=300"}
TILE_CACHE_BYTES = int(os.environ.get("DEEPHEALTH_TILE_CACHE_MB", "256")) * 1024 * 1024
TILES = SlideTiles(TileCache(TILE_CACHE_BYTES))
"""Deep Zoom pyramids and the tile cache shared by the server's requests."""

# A label map's colours (index 0 is transparent background).
PALETTE = np.array(
    [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60]], dtype=np.uint8,
)  # fmt: skip


def _sample(
    db: Session, principal: Principal, dataset_id: int, index: int
) -> tuple[Any, Any, Path]:
    """The ECVL dataset, its sample `index` and the folder its locations are relative to."""
    row = get_in_project(db, principal.id, Dataset, dataset_id)
    ds = loaded(row)
    if not 0 <= index < len(ds.samples_):
        raise HTTPException(404, "sample not found")
    return ds, ds.samples_[index], Path(row.yaml_path).parent


def _paths(sample: Any, base: Path, part: str) -> list[Path]:
    """The files of the sample's image (several for a DICOM series) or of its mask."""
    if part not in PARTS:
        raise HTTPException(422, f"part must be one of {PARTS}, not {part!r}")
    if part == "image":
        locations = list(sample.location_)
    else:
        locations = [sample.label_path_] if sample.label_path_ else []
    if not locations:
        raise HTTPException(404, f"the sample has no {part}")
    return [Path(p) if Path(p).is_absolute() else base / p for p in locations]


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith((".nii", ".nii.gz"))


def _is_slide(path: Path) -> bool:
    name = path.name.lower()
    if not name.endswith(SLIDE_SUFFIXES + (".tiff",)):
        return False
    if not name.endswith((".tif", ".tiff")):
        return True
    try:  # a TIFF is a slide when OpenSlide reads it as a tiled pyramid
        dz = TILES.pyramid(path)
    except Exception:
        return False
    return dz.slide.GetLevelCount() > 1 or max(dz.slide.dimensions) > 4096


def _dicom_frames(path: Path) -> int:
    import pydicom

    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=True, force=True)
        return int(ds.get("NumberOfFrames", 1) or 1)
    except Exception:
        return 1


def kind_of(paths: list[Path]) -> str:
    """``volume``, ``slide`` or ``image``: which viewer shows a sample's files."""
    if len(paths) > 1 or paths[0].is_dir() or _is_nifti(paths[0]):
        return "volume"
    if _is_slide(paths[0]):
        return "slide"
    if paths[0].suffix.lower() == ".dcm" and _dicom_frames(paths[0]) > 1:
        return "volume"
    return "image"


def _read(paths: list[Path], what: str, config: ServerConfig) -> Any:
    """The ECVL image of one file or a DICOM series, within the server's decoding limits."""
    if len(paths) == 1 and paths[0].is_file():
        return image_check.read_image(paths[0], what, config.max_image_bytes)
    files = sorted(p for p in paths[0].iterdir() if p.is_file()) if paths[0].is_dir() else paths
    return image_check.read_series(files, what, config.max_image_bytes)


def _as_nifti(paths: list[Path], what: str, config: ServerConfig) -> Path:
    """A NIfTI file of the sample part: the file itself, or a converted copy in the cache."""
    from deephealth.ecvl import NiftiWrite

    if len(paths) == 1 and _is_nifti(paths[0]):
        return paths[0]
    stamp = hashlib.sha256(
        "\n".join(f"{p.resolve()}:{p.stat().st_mtime_ns}" for p in paths).encode()
    ).hexdigest()[:24]
    out = config.path("cache", "volumes", f"{stamp}.nii.gz")
    if out.is_file():
        return out
    img = _read(paths, what, config)
    aff = img.meta.get("affine") if isinstance(img.meta, dict) else None
    if aff is not None and img.meta.get("affine_space") == "LPS":  # DICOM: to NIfTI's RAS+
        img.meta["affine"] = np.diag([-1.0, -1.0, 1.0, 1.0]) @ np.asarray(aff, dtype=np.float64)
        img.meta["affine_space"] = "RAS"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp.nii.gz")
    NiftiWrite(tmp, img)
    tmp.replace(out)
    return out


def _window(paths: list[Path]) -> list[float] | None:
    """The DICOM file's own window (center, width), if it has one."""
    import pydicom

    first = paths[0]
    if first.is_dir():
        first = next(iter(sorted(first.iterdir())), first)
    if _is_nifti(first) or first.suffix.lower() not in (".dcm", ""):
        return None
    try:
        ds = pydicom.dcmread(str(first), stop_before_pixels=True, force=True)
        center, width = (
            imaging._first(ds.get("WindowCenter")),
            imaging._first(ds.get("WindowWidth")),
        )
    except Exception:
        return None
    return [center, width] if center is not None and width else None


@router.get("/api/datasets/{dataset_id}/samples/{index}/view")
def sample_view(
    dataset_id: int,
    index: int,
    job: int | None = None,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Which viewer shows the sample (``volume``, ``slide`` or ``image``) and where its parts are;
    with `job` (an inference job over this dataset), also the boxes it predicted for the sample
    (``predicted_boxes``: coords, class, score)."""
    predicted = _predicted_boxes(db, principal, job, dataset_id, index) if job is not None else None
    ds, sample, base = _sample(db, principal, dataset_id, index)
    paths = _paths(sample, base, "image")
    kind = kind_of(paths)
    url = f"/api/datasets/{dataset_id}/samples/{index}"
    has_mask = bool(sample.label_path_)
    classes = list(ds.classes_)
    out: dict[str, Any] = {
        "kind": kind,
        "index": index,
        "labels": [classes[i] if 0 <= i < len(classes) else str(i) for i in sample.label_ or []],
        "classes": classes,
        "boxes": [
            {"coords": list(c), "class": classes[k] if 0 <= k < len(classes) else str(k)}
            for c, k in (getattr(sample, "boxes_", None) or [])
        ],
    }
    if predicted is not None:
        out["predicted_boxes"] = predicted
    if kind == "volume":
        out["image"] = f"{url}/volume.nii.gz"
        out["mask"] = f"{url}/volume.nii.gz?part=mask" if has_mask else None
        out["window"] = _window(paths)
    elif kind == "slide":
        dz = _pyramid(paths[0], f"sample {index}")
        out["image"] = f"{url}/slide.dzi"
        out["mask"] = f"{url}/slide.dzi?part=mask" if has_mask else None
        out["size"] = list(dz.slide.dimensions)
        out["mpp"] = list(dz.slide.mpp) if dz.slide.mpp else None
        out["levels"] = dz.slide.GetLevelCount()
        out["annotations"] = [
            {"label": a.label, "bbox": list(a.bbox), "points": a.exterior.round(1).tolist()}
            for a in _annotations(sample, paths[0], classes)
        ]
        out["geojson"] = f"{url}/annotations.geojson"
    else:
        out["image"] = f"{url}/full.png"
        out["mask"] = f"{url}/full.png?part=mask" if has_mask else None
    return out


def _predicted_boxes(
    db: Session, principal: Principal, job_id: int, dataset_id: int, index: int
) -> list[dict[str, Any]]:
    """The boxes an inference job over the dataset predicted for sample `index` (404 when the
    job is not a finished inference over this dataset or did not predict the sample)."""
    import json

    from deephealth.server.db.models import Job

    job = get_in_project(db, principal.id, Job, job_id)
    row = db.get(Dataset, dataset_id)
    cfg = dict(job.config or {})
    path = Path(job.run_dir or ".") / "predictions.json"
    if job.kind != "inference" or row is None or cfg.get("dataset") != row.yaml_path:
        raise HTTPException(404, f"job {job_id} is not an inference over this dataset")
    if not path.is_file():
        raise HTTPException(404, f"job {job_id} has no predictions yet")
    for pred in json.loads(path.read_text()).get("predictions", []):
        if pred.get("index") == index and "boxes" in pred:
            return [
                {"coords": list(c), "class": k, "score": s}
                for c, k, s in zip(pred["boxes"], pred["labels"], pred["scores"])
            ]
    raise HTTPException(404, f"job {job_id} predicted no boxes for sample {index}")


@router.get("/api/datasets/{dataset_id}/samples/{index}/volume.nii.gz")
def sample_volume(
    dataset_id: int,
    index: int,
    part: str = "image",
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> Response:
    """The sample's volume (or its mask) as NIfTI; DICOM series are converted server-side."""
    _, sample, base = _sample(db, principal, dataset_id, index)
    path = _as_nifti(_paths(sample, base, part), f"{part} of sample {index}", config)
    gz = path.name.lower().endswith(".gz")
    return FileResponse(
        path,
        media_type="application/gzip" if gz else "application/octet-stream",
        filename=f"sample-{index}-{part}.nii" + (".gz" if gz else ""),
        headers=CACHE_HEADERS,
    )


def _pyramid(path: Path, what: str) -> Any:
    """The Deep Zoom pyramid of a slide file (422 when OpenSlide cannot open it)."""
    from deephealth.ecvl.slide.errors import SlideError

    try:
        return TILES.pyramid(path)
    except SlideError as err:
        raise HTTPException(422, f"{what}: {err}".replace(str(path), what)) from None


def _slide_path(db: Session, principal: Principal, dataset_id: int, index: int, part: str) -> Path:
    _, sample, base = _sample(db, principal, dataset_id, index)
    path = _paths(sample, base, part)[0]
    if part == "image" and not _is_slide(path):
        raise HTTPException(404, f"sample {index} is not a whole slide")
    return path


@router.get("/api/datasets/{dataset_id}/samples/{index}/slide.dzi")
def slide_dzi(
    dataset_id: int,
    index: int,
    part: str = "image",
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> Response:
    """The Deep Zoom descriptor of a whole-slide sample (or of its slide-aligned mask)."""
    path = _slide_path(db, principal, dataset_id, index, part)
    dz = _pyramid(path, f"{part} of sample {index}")
    return Response(dz.dzi(), media_type="application/xml", headers=CACHE_HEADERS)


@router.get("/api/datasets/{dataset_id}/samples/{index}/slide_files/{level}/{tile}")
def slide_tile(
    dataset_id: int,
    index: int,
    level: int,
    tile: str,
    part: str = "image",
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> Response:
    """One Deep Zoom tile (``{col}_{row}.jpeg``), cached."""
    path = _slide_path(db, principal, dataset_id, index, part)
    return tile_response(path, level, tile, f"{part} of sample {index}")


def tile_response(path: Path, level: int, tile: str, what: str) -> Response:
    """The JPEG response of Deep Zoom tile `tile` (``{col}_{row}.jpeg``) of the slide at `path`
    (404 for a tile that does not exist, with `what` instead of the server path)."""
    from deephealth.ecvl.slide.errors import SlideRegionError

    stem, _, ext = tile.partition(".")
    try:
        col, row = (int(v) for v in stem.split("_"))
    except ValueError:
        raise HTTPException(404, f"tile {tile!r}: expected {{col}}_{{row}}.jpeg") from None
    if ext not in ("jpeg", "jpg"):
        raise HTTPException(404, f"tile {tile!r}: tiles are JPEG")
    _pyramid(path, what)
    try:
        data = TILES.tile(path, level, col, row)
    except SlideRegionError as err:
        raise HTTPException(404, str(err).replace(str(path), what)) from None
    return Response(data, media_type="image/jpeg", headers=CACHE_HEADERS)


def _annotations(sample: Any, image: Path, classes: list[str]) -> list[Any]:
    """A slide sample's annotations: its boxes, and the polygons of a GeoJSON file next to the
    slide with the same stem (QuPath's export), in level-0 pixels."""
    from deephealth.ecvl.pathology.annotations import Annotation, read_geojson

    out = []
    for coords, k in getattr(sample, "boxes_", None) or []:
        x0, y0, x1, y1 = coords[:4]
        label = classes[k] if 0 <= k < len(classes) else str(k)
        ring = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        out.append(Annotation(label, ring))
    sidecar = image.with_suffix(".geojson")
    if sidecar.is_file():
        try:
            out += read_geojson(sidecar)
        except ValueError as err:
            raise HTTPException(422, str(err).replace(str(image.parent), ".")) from None
    return out


@router.get("/api/datasets/{dataset_id}/samples/{index}/annotations.geojson")
def slide_annotations(
    dataset_id: int,
    index: int,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> Response:
    """The sample's annotations as a GeoJSON FeatureCollection that QuPath imports."""
    import json

    from deephealth.ecvl.pathology.annotations import annotations_to_geojson

    ds, sample, base = _sample(db, principal, dataset_id, index)
    colours = {c: PALETTE[1 + i % (len(PALETTE) - 1)].tolist() for i, c in enumerate(ds.classes_)}
    found = _annotations(sample, _paths(sample, base, "image")[0], list(ds.classes_))
    return Response(
        json.dumps(annotations_to_geojson(found, colours)),
        media_type="application/geo+json",
        headers={"Content-Disposition": f'attachment; filename="sample-{index}.geojson"'},
    )


def _colour_mask(labels: np.ndarray) -> np.ndarray:
    """An RGBA picture of a label map (0 transparent; a 0/255 mask in the first colour)."""
    lab = labels.astype(np.int64)
    if lab.max(initial=0) == 255 and set(np.unique(lab).tolist()) <= {0, 255}:
        lab = lab // 255
    rgba = np.zeros((*lab.shape, 4), dtype=np.uint8)
    rgba[..., :3] = PALETTE[np.where(lab > 0, (lab - 1) % (len(PALETTE) - 1) + 1, 0)]
    rgba[..., 3] = np.where(lab > 0, 255, 0)
    return rgba


@router.get("/api/datasets/{dataset_id}/samples/{index}/full.png")
def sample_full(
    dataset_id: int,
    index: int,
    part: str = "image",
    window: str | None = None,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> Response:
    """A 2D sample at full resolution as PNG; ``part=mask`` gives its label map in colours
    (transparent background) to lay over it."""
    import cv2

    _, sample, base = _sample(db, principal, dataset_id, index)
    paths = _paths(sample, base, part)
    try:
        win = imaging.parse_window(window)
    except ValueError as err:
        raise HTTPException(422, str(err)) from None
    img = _read(paths[:1], f"{part} of sample {index}", config)
    if part == "image":
        data = imaging.png_bytes(imaging.to_display(img, win))
    else:
        hwc = imaging.image_hwc(img)
        ok, buf = cv2.imencode(".png", cv2.cvtColor(_colour_mask(hwc[..., 0]), cv2.COLOR_RGBA2BGRA))
        data = buf.tobytes()
    return Response(data, media_type="image/png", headers=CACHE_HEADERS)
