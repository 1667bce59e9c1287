"""Tiler: resolution by level, mpp or magnification, overlap, tissue criterion, parallel reads."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from deephealth.ecvl.pathology import Tiler, iter_tile_pixels, read_tile
from deephealth.ecvl.pathology.synthetic import synthetic_slide
from deephealth.ecvl.slide import OpenSlideImage, write_pyramidal_tiff

CMU = Path(__file__).resolve().parents[2] / ".data" / "cmu_small_region.svs"


@pytest.fixture(scope="module")
def cmu() -> OpenSlideImage:
    with OpenSlideImage(CMU) as slide:
        yield slide


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory: pytest.TempPathFactory, cmu: OpenSlideImage) -> OpenSlideImage:
    path = tmp_path_factory.mktemp("tiler") / "cmu_pyramid.tif"
    write_pyramidal_tiff(path, cmu.read_level(0), 0.499)
    with OpenSlideImage(path) as slide:
        yield slide


def test_level0_grid_covers_the_slide(cmu: OpenSlideImage) -> None:
    tiler = Tiler(256)
    tiles = tiler.tiles(cmu)
    assert tiler.grid_shape(cmu) == (11, 8)  # 2967 // 256, 2220 // 256
    assert len(tiles) == 88
    assert [t.index for t in tiles] == list(range(88))
    last = tiles[-1]
    assert (last.row, last.col, last.x, last.y) == (10, 7, 7 * 256, 10 * 256)
    np.testing.assert_array_equal(read_tile(cmu, last), cmu.read_region(0, 1792, 2560, 256, 256))


def test_overlap_sets_the_stride(cmu: OpenSlideImage) -> None:
    tiles = Tiler(256, overlap=64).tiles(cmu)
    assert tiles[1].x - tiles[0].x == 192
    assert Tiler(256, overlap=64).grid_shape(cmu) == (
        (2967 - 256) // 192 + 1,
        (2220 - 256) // 192 + 1,
    )
    assert len(tiles) == 15 * 11


def test_mpp_on_a_pyramid_reads_the_matching_level(pyramid: OpenSlideImage) -> None:
    tiles = Tiler(256, mpp=0.998).tiles(pyramid)
    assert {t.level for t in tiles} == {1}
    assert {t.read_size for t in tiles} == {256}
    t = tiles[5]
    np.testing.assert_array_equal(read_tile(pyramid, t), pyramid.read_region(1, t.x, t.y, 256, 256))


def test_mpp_between_levels_reads_finer_and_resizes(pyramid: OpenSlideImage) -> None:
    tiles = Tiler(128, mpp=1.4971).tiles(pyramid)  # downsample 3: level 1, read 192 px
    t = tiles[3]
    assert (t.level, t.read_size, t.size) == (1, 192, 128)
    assert t.extent == pytest.approx(384, rel=1e-3)
    expected = cv2.resize(
        pyramid.read_region(1, t.x, t.y, 192, 192), (128, 128), interpolation=cv2.INTER_AREA
    )
    np.testing.assert_array_equal(read_tile(pyramid, t), expected)


def test_magnification_uses_objective_power(cmu: OpenSlideImage) -> None:
    tiles = Tiler(128, magnification=10).tiles(cmu)  # scanned at 20x: downsample 2
    t = tiles[0]
    assert (t.level, t.read_size, t.downsample) == (0, 256, 2.0)
    assert len(tiles) == (2967 // 256) * (2220 // 256)


def test_magnification_without_objective_power_uses_mpp(pyramid: OpenSlideImage) -> None:
    t = Tiler(256, magnification=10).tiles(pyramid)[0]  # 10x = 1 um/px, slide 0.499 um/px
    assert t.downsample == pytest.approx(1.0 / 0.499)


def test_min_tissue_keeps_tissue_tiles_only(cmu: OpenSlideImage) -> None:
    all_tiles = Tiler(256, min_tissue=0.0).tiles(cmu)
    kept = Tiler(256, min_tissue=0.5).tiles(cmu)
    assert 15 < len(kept) < len(all_tiles)
    assert all(t.tissue >= 0.5 for t in kept)
    assert (0, 0) not in {(t.x, t.y) for t in kept}  # the glass corner
    means = [read_tile(cmu, t).mean() for t in kept]
    assert max(means) < 225  # no white glass tile among them


def test_parallel_reads_keep_order_and_pixels(cmu: OpenSlideImage) -> None:
    tiles = Tiler(200, overlap=50).tiles(cmu)[:40]
    serial = list(iter_tile_pixels(cmu, tiles, workers=1))
    parallel = list(iter_tile_pixels(cmu, tiles, workers=3, prefetch=2))
    assert [t for t, _ in parallel] == tiles
    for (_, a), (_, b) in zip(serial, parallel):
        np.testing.assert_array_equal(a, b)


def test_errors(tmp_path: Path, cmu: OpenSlideImage) -> None:
    with pytest.raises(ValueError, match="at most one"):
        Tiler(256, mpp=0.5, magnification=20)
    with pytest.raises(ValueError, match="overlap"):
        Tiler(256, overlap=256)
    with pytest.raises(ValueError, match="finer than level 0"):
        Tiler(256, mpp=0.25).tiles(cmu)
    path = tmp_path / "nompp.tif"
    synthetic_slide(path, (512, 512), mpp=None)  # type: ignore[arg-type]
    with OpenSlideImage(path) as slide:
        assert slide.mpp is None
        with pytest.raises(ValueError, match="nompp.tif.*microns-per-pixel"):
            Tiler(256, mpp=1.0).tiles(slide)
        assert len(Tiler(256).tiles(slide)) == 4
