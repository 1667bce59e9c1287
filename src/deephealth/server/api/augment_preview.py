"""Live preview of an ECVL augmentation text on one dataset sample:
`POST /api/datasets/{id}/augmentation-preview`.

The text is parsed by ECVL's `AugmentationFactory` (422 with the parser's line and column when it
is wrong), then applied `n` times to the sample's image and ground-truth mask with independent
random draws (seeded, so a preview can be repeated). Each draw comes back as base64 PNGs: the
augmented image, and the image with the augmented mask over it when the sample has one.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from deephealth.server import datasets as dsvc
from deephealth.server import image_check, imaging
from deephealth.server.api.datasets import loaded
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import Dataset
from deephealth.server.deps import Principal, get_config, get_db, require_user
from deephealth.server.permissions import get_in_project

router = APIRouter(tags=["datasets"])


class PreviewIn(BaseModel):
    """What to preview: the augmentation text, the sample, how many draws."""

    text: str = Field(max_length=20000)
    index: int = Field(default=0, ge=0)
    n: int = Field(default=4, ge=1, le=12)
    seed: int = Field(default=0, ge=0, le=2**31)
    size: int = Field(default=192, ge=32, le=512)


def _b64(array: np.ndarray, size: int) -> str:
    return base64.b64encode(imaging.png_bytes(imaging.fit(array, size))).decode()


@router.post("/api/datasets/{dataset_id}/augmentation-preview")
def augmentation_preview(
    dataset_id: int,
    body: PreviewIn,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict[str, Any]:
    """`n` random draws of the augmentation on one sample (members of the project)."""
    from deephealth.ecvl.augment.factory import AugmentationFactory

    start = time.perf_counter()
    row = get_in_project(db, principal.id, Dataset, dataset_id)
    ds = loaded(row)
    try:
        image_path, mask_path, labels = dsvc.sample_files(
            ds, Path(row.yaml_path).parent, body.index
        )
    except IndexError:
        raise HTTPException(404, f"sample {body.index} not found") from None
    text = body.text.strip()
    try:
        aug = AugmentationFactory.create(text) if text else None
    except Exception as err:  # the parser's errors carry the line and column
        raise HTTPException(422, f"invalid augmentation: {err}") from None
    limit = config.max_image_bytes
    hwc = imaging.image_hwc(image_check.read_image(image_path, f"sample {body.index}", limit))
    gt = None
    if mask_path is not None:
        gt = imaging.image_hwc(
            image_check.read_image(mask_path, f"mask of sample {body.index}", limit)
        )
    draws = []
    for k in range(body.n):
        x, g = hwc, gt
        if aug is not None:
            try:
                x, g = aug.apply_arrays(hwc, gt, np.random.default_rng(body.seed + k))
            except Exception as err:  # e.g. a crop larger than the image
                raise HTTPException(
                    422, f"augmentation failed on sample {body.index}: {err}"
                ) from None
        pic = imaging.display(np.asarray(x))
        draw = {"image": _b64(pic, body.size), "mask": None}
        if g is not None:
            m = np.asarray(g)[..., 0]
            draw["mask"] = _b64(
                imaging.overlay(pic, (m > (0.5 if m.max() <= 1 else 127)).astype(np.uint8)),
                body.size,
            )
        draws.append(draw)
    return {
        "index": body.index,
        "labels": labels,
        "draws": draws,
        "elapsed_ms": round((time.perf_counter() - start) * 1000, 1),
    }
