"""Pyramidal tiled TIFF writer: OpenSlide reads back levels, mpp and pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from skimage.data import immunohistochemistry

from deephealth.ecvl.image import Image
from deephealth.ecvl.slide import OpenSlideImage, pyramid_levels, write_pyramidal_tiff


def test_rgb_pyramid_pages_and_openslide_view(tmp_path: Path) -> None:
    ihc = immunohistochemistry()  # 512 x 512 RGB
    path = tmp_path / "ihc.tif"
    sizes = write_pyramidal_tiff(path, ihc, (0.25, 0.3), tile=128, min_size=64)
    assert sizes == [(512, 512), (256, 256), (128, 128), (64, 64)]
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 4 and not tif.pages[0].subifds
        assert [p.subfiletype for p in tif.pages] == [0, 1, 1, 1]
        assert tif.pages[0].is_tiled and tif.pages[0].tilewidth == 128
    with OpenSlideImage(path) as slide:
        assert slide.vendor == "generic-tiff"
        assert slide.mpp == pytest.approx((0.25, 0.3))
        assert slide.GetLevelDownsamples() == pytest.approx([1, 2, 4, 8])
        np.testing.assert_array_equal(slide.read_level(0), ihc)
        np.testing.assert_array_equal(slide.read_level(3), pyramid_levels(ihc, 64)[3])


def test_gray_label_map_keeps_labels_with_nearest(tmp_path: Path) -> None:
    labels = np.zeros((300, 400), np.uint8)
    labels[100:200, 40:360] = 2
    labels[120:140, 60:80] = 1
    path = tmp_path / "labels.tif"
    write_pyramidal_tiff(path, labels, 2.0, interpolation="nearest", min_size=32)
    with OpenSlideImage(path) as slide:
        assert slide.GetLevelCount() == 5
        for level in range(slide.GetLevelCount()):
            pixels = slide.read_level(level)
            assert set(np.unique(pixels)) <= {0, 1, 2}
            np.testing.assert_array_equal(pixels[..., 0], pixels[..., 2])
        np.testing.assert_array_equal(slide.read_level(0)[..., 0], labels)


def test_accepts_an_ecvl_image(tmp_path: Path) -> None:
    rgb = immunohistochemistry()[:256, :320]
    img = Image.fromarray(rgb.transpose(1, 0, 2), "xyc")
    write_pyramidal_tiff(tmp_path / "img.tif", img, 0.5)
    with OpenSlideImage(tmp_path / "img.tif") as slide:
        np.testing.assert_array_equal(slide.read_level(0), rgb)


@pytest.mark.parametrize(
    "image, kwargs, match",
    [
        (np.zeros((8, 8, 2), np.uint8), {}, "expected an"),
        (np.zeros((8, 8), np.float32), {}, "uint8"),
        (np.zeros((8, 8), np.uint8), {"tile": 100}, "multiple of 16"),
        (np.zeros((8, 8), np.uint8), {"interpolation": "cubic"}, "interpolation"),
    ],
)
def test_bad_input(tmp_path: Path, image: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        write_pyramidal_tiff(tmp_path / "x.tif", image, 1.0, **kwargs)
