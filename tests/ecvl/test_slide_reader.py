"""OpenSlideImage on the real Aperio CMU-1-Small-Region slide and on pyramids written from it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import openslide
import pytest
import tifffile

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import ColorType, Image
from deephealth.ecvl.slide import (
    OpenSlideGetLevels,
    OpenSlideImage,
    OpenSlideRead,
    SlideOpenError,
    SlideReadError,
    SlideRegionError,
    write_pyramidal_tiff,
)

CMU = Path(__file__).resolve().parents[2] / ".data" / "cmu_small_region.svs"


@pytest.fixture(scope="module")
def cmu_pixels() -> np.ndarray:
    assert CMU.is_file(), f"{CMU} missing: run `make data`"
    with OpenSlideImage(CMU) as slide:
        return slide.read_level(0)


@pytest.fixture(scope="module")
def pyramid(tmp_path_factory: pytest.TempPathFactory, cmu_pixels: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("slide") / "cmu_pyramid.tif"
    write_pyramidal_tiff(path, cmu_pixels, 0.499)
    return path


def test_aperio_properties_and_levels() -> None:
    with OpenSlideImage(CMU) as slide:
        assert slide.vendor == "aperio"
        assert slide.GetLevelCount() == 1
        assert slide.GetLevelsDimensions() == [[2220, 2967]]
        assert slide.GetLevelDownsamples() == [1.0]
        assert slide.mpp == pytest.approx((0.499, 0.499))
        assert slide.objective_power == 20.0
        props = slide.GetProperties()
        assert props["aperio.AppMag"] == "20"
        assert props["openslide.vendor"] == "aperio"


def test_read_region_matches_openslide() -> None:
    ref = openslide.OpenSlide(str(CMU))
    expected = np.asarray(ref.read_region((1000, 1200), 0, (300, 200)).convert("RGB"))
    with OpenSlideImage(CMU) as slide:
        got = slide.read_region(0, 1000, 1200, 300, 200)
    assert got.shape == (200, 300, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)


def test_read_region_bgra_is_the_same_pixels_without_conversion(pyramid: Path) -> None:
    for path, level, region in [(CMU, 0, (1000, 1200, 300, 200)), (pyramid, 1, (64, 128, 255, 97))]:
        with OpenSlideImage(path) as slide:
            rgb = slide.read_region(level, *region)
            buf = np.zeros((region[3], region[2], 4), np.uint8)
            bgra = slide.read_region_bgra(level, *region, out=buf)
        assert bgra is buf  # read into the caller's buffer
        np.testing.assert_array_equal(bgra[..., 2::-1], rgb)
        assert (bgra[..., 3] == 255).all()
    with OpenSlideImage(CMU) as slide, pytest.raises(SlideRegionError, match="outside"):
        slide.read_region_bgra(0, 2900, 0, 300, 10)


def test_opaque_bgra_unpremultiplies_as_openslide_python() -> None:
    from openslide import _convert

    from deephealth.ecvl.slide.reader import opaque_bgra

    rng = np.random.default_rng(0)
    alpha = rng.choice([0, 1, 7, 128, 254, 255], size=(50, 40)).astype(np.uint32)
    colour = rng.integers(0, 256, size=(50, 40, 3)).astype(np.uint32)
    colour = colour * alpha[..., None] // 255  # premultiplied: channel <= alpha
    words = (alpha << 24) | (colour[..., 0] << 16) | (colour[..., 1] << 8) | colour[..., 2]
    ref = words.copy()
    _convert.argb2rgba(ref)  # openslide-python: un-premultiplied RGBA bytes
    expected = ref.view(np.uint8).reshape(50, 40, 4)[..., :3].copy()
    expected[alpha == 0] = 255  # read_region's rule: transparent (unscanned) areas are white
    out = words.view(np.uint8).reshape(50, 40, 4).copy()
    opaque_bgra(out)
    np.testing.assert_array_equal(out[..., 2::-1], expected)
    assert (out[..., 3] == 255).all()


def test_ReadRegion_returns_xyc_image_with_spacing_and_metadata() -> None:
    with OpenSlideImage(CMU) as slide:
        img = slide.ReadRegion(0, [100, 50, 64, 32])
        slide.GetProperties(img)
        raw = slide.read_region(0, 100, 50, 64, 32)
    assert isinstance(img, Image)
    assert img.channels == "xyc" and img.colortype == ColorType.RGB
    assert img.data.shape == (64, 32, 3)
    np.testing.assert_array_equal(img.to_cv(), raw)
    assert img.spacings[:2] == pytest.approx([0.000499, 0.000499])
    assert img.GetMeta("openslide.mpp-x") == "0.499"


def test_pyramid_levels_downsamples_and_best_level(pyramid: Path, cmu_pixels: np.ndarray) -> None:
    with OpenSlideImage(pyramid) as slide:
        assert slide.vendor == "generic-tiff"
        assert slide.mpp == pytest.approx((0.499, 0.499))
        assert slide.GetLevelsDimensions()[:3] == [[2220, 2967], [1110, 1483], [555, 741]]
        ds = slide.GetLevelDownsamples()
        assert ds[1] == pytest.approx(2.0, rel=1e-3) and ds[2] == pytest.approx(4.0, rel=1e-3)
        assert slide.GetBestLevelForDownsample(1.0) == 0
        assert slide.GetBestLevelForDownsample(3.0) == 1
        assert slide.GetBestLevelForDownsample(4.1) == 2
        assert slide.GetBestLevelForDownsample(1000.0) == slide.GetLevelCount() - 1
        np.testing.assert_array_equal(
            slide.read_region(0, 500, 700, 256, 256), cmu_pixels[700:956, 500:756]
        )
        level1 = slide.read_region(1, 0, 0, 512, 512)
    import cv2

    half = cv2.resize(cmu_pixels, (1110, 1483), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(level1, half[:512, :512])


def test_context_manager_closes(pyramid: Path) -> None:
    with OpenSlideImage(pyramid) as slide:
        pass
    with pytest.raises(SlideReadError, match="closed"):
        slide.read_region(0, 0, 0, 8, 8)


def test_file_openslide_cannot_open_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.svs"
    bad.write_text("this is not a slide")
    with pytest.raises(SlideOpenError, match="notes.svs") as info:
        OpenSlideImage(bad)
    assert isinstance(info.value, EcvlError)
    with pytest.raises(SlideOpenError, match="no such file"):
        OpenSlideImage(tmp_path / "missing.svs")


def test_truncated_slide_cannot_open(tmp_path: Path) -> None:
    cut = tmp_path / "cut.svs"
    cut.write_bytes(CMU.read_bytes()[:4096])
    with pytest.raises(SlideOpenError, match="cut.svs"):
        OpenSlideImage(cut)


@pytest.mark.parametrize(
    "level, dims, why",
    [
        (0, (2000, 0, 300, 10), "outside the slide"),
        (0, (-1, 0, 10, 10), "outside the slide"),
        (0, (0, 2900, 10, 100), "outside the slide"),
        (3, (0, 0, 10, 10), "level does not exist"),
        (0, (0, 0, 0, 10), "must be positive"),
    ],
)
def test_region_outside_slide_names_slide_and_region(level: int, dims: tuple, why: str) -> None:
    with OpenSlideImage(CMU) as slide:
        with pytest.raises(SlideRegionError) as info:
            slide.read_region(level, *dims)
    message = str(info.value)
    assert "cmu_small_region.svs" in message and why in message
    assert f"x={dims[0]}, y={dims[1]}, w={dims[2]}, h={dims[3]}" in message


def test_corrupt_tile_names_slide_and_region_and_reader_recovers(
    tmp_path: Path, pyramid: Path
) -> None:
    bad = tmp_path / "corrupt.tif"
    shutil.copy(pyramid, bad)
    with tifffile.TiffFile(bad) as tif:
        page = tif.pages[0]
        per_row = -(-page.shape[1] // 256)
        index = 2 * per_row + 3  # the tile at x=768, y=512 of level 0
        offset, count = page.dataoffsets[index], page.databytecounts[index]
    with open(bad, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * count)
    with OpenSlideImage(bad) as slide:
        good = slide.read_region(0, 0, 0, 256, 256)
        with pytest.raises(SlideReadError) as info:
            slide.read_region(0, 768, 512, 256, 256)
        assert "corrupt.tif" in str(info.value) and "x=768, y=512" in str(info.value)
        np.testing.assert_array_equal(slide.read_region(0, 0, 0, 256, 256), good)


def test_missing_openslide_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openslide", None)  # what Python does when it is absent
    with pytest.raises(ImportError, match=r"deephealth\[slide\]"):
        OpenSlideImage(CMU)


def test_thumbnail_and_repr() -> None:
    with OpenSlideImage(CMU) as slide:
        thumb, ds = slide.thumbnail(512)
        assert max(thumb.shape[:2]) == 512 and thumb.shape[2] == 3
        assert ds == pytest.approx(2220 / thumb.shape[1])
        assert "2220x2967" in repr(slide)


def test_function_api_of_older_pyecvl(pyramid: Path, cmu_pixels: np.ndarray) -> None:
    assert OpenSlideGetLevels(pyramid)[:2] == [[2220, 2967], [1110, 1483]]
    img = OpenSlideRead(pyramid, 0, [10, 20, 30, 40])
    assert img.channels == "xyc" and img.data.shape == (30, 40, 3)
    np.testing.assert_array_equal(img.to_cv(), cmu_pixels[20:60, 10:40])
    with pytest.raises(SlideRegionError, match="cmu_pyramid.tif"):
        OpenSlideRead(pyramid, 0, [2200, 0, 100, 100])
