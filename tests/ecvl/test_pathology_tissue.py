"""Tissue detection: planted tissue on a synthetic slide and the real CMU-1 H&E slide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deephealth.ecvl.pathology import TissueMask, detect_tissue, tissue_mask_from_rgb
from deephealth.ecvl.pathology.synthetic import synthetic_slide
from deephealth.ecvl.slide import OpenSlideImage

CMU = Path(__file__).resolve().parents[2] / ".data" / "cmu_small_region.svs"


def test_planted_tissue_is_found(tmp_path: Path) -> None:
    path = tmp_path / "syn.tif"
    synthetic_slide(
        path, (1024, 768), [("tissue", (256, 128, 512, 384)), ("tumour", (384, 256, 128, 128))]
    )
    with OpenSlideImage(path) as slide:
        tissue = detect_tissue(slide, max_size=256)
    assert tissue.mask.shape == (192, 256)
    assert tissue.downsample == pytest.approx((4.0, 4.0))
    truth = np.zeros((192, 256), bool)
    truth[32:128, 64:192] = True
    iou = (tissue.mask & truth).sum() / (tissue.mask | truth).sum()
    assert iou > 0.97
    assert tissue.fraction_in(256, 128, 512, 384) > 0.97
    assert tissue.fraction_in(0, 0, 200, 100) == 0.0


def test_cmu_tissue_fraction_and_glass_corner() -> None:
    with OpenSlideImage(CMU) as slide:
        tissue = detect_tissue(slide, max_size=512)
    assert 0.28 < tissue.fraction < 0.45  # the biopsy covers about a third of the region
    assert tissue.fraction_in(0, 0, 400, 400) < 0.02  # glass at the top-left
    assert tissue.fraction_in(900, 1800, 300, 300) > 0.95  # the centre of the biopsy


def test_all_glass_has_no_tissue() -> None:
    rng = np.random.default_rng(0)
    glass = np.clip(rng.normal(240, 4, (200, 300, 3)), 0, 255).astype(np.uint8)
    assert not tissue_mask_from_rgb(glass).any()


def test_fraction_in_uses_the_scale() -> None:
    mask = np.zeros((10, 10), bool)
    mask[:, :5] = True
    tm = TissueMask(mask, (8.0, 8.0))
    assert tm.fraction == 0.5
    assert tm.fraction_in(0, 0, 80, 80) == 0.5
    assert tm.fraction_in(0, 0, 40, 80) == 1.0
    assert tm.fraction_in(1000, 1000, 8, 8) == 0.0


def test_rejects_non_rgb() -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        tissue_mask_from_rgb(np.zeros((8, 8), np.uint8))
