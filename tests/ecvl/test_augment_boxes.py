"""Boxes follow every geometric augmentation: compared with boxes recomputed from the transformed
instance mask of the real DSB2018 nuclei image (125 nuclei)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deephealth.ecvl as ecvl
from deephealth.ecvl.augment.boxes import apply_with_boxes, boxes_from_labels, boxes_to_masks
from deephealth.ecvl.errors import EcvlError

DATA = Path(__file__).resolve().parents[2] / ".data" / "stardist"
GEOMETRIC = [
    "AugFlip p=1",
    "AugMirror p=1",
    "AugTranspose p=1",
    "AugRotate angle=[20,20]",
    "AugRotate angle=[-90,90] scale=1.3",
    "AugResizeDim dims=(96,80)",
    "AugResizeScale scale=(0.7,1.4)",
    "AugCenterCrop size=(100,90)",
    "AugRandomCrop size=(90,110)",
    "AugElasticTransform alpha=[20,40] sigma=[4,6]",
    "AugGridDistortion num_steps=[5,5] distort_limit=[-0.3,0.3]",
    "AugOpticalDistortion distort_limit=[-0.3,0.3] shift_limit=[-0.1,0.1]",
    "SequentialAugmentationContainer\n AugRotate angle=[-30,30]\n AugFlip p=0.5\nend",
]


@pytest.fixture(scope="module")
def nuclei() -> tuple[np.ndarray, np.ndarray]:
    tifffile = pytest.importorskip("tifffile")
    if not (DATA / "mask2d.tif").is_file():
        pytest.skip("DSB2018 nuclei not fetched (scripts/fetch_data.sh)")
    img = tifffile.imread(DATA / "img2d.tif")[:160, :160]
    lab = tifffile.imread(DATA / "mask2d.tif")[:160, :160].astype(np.int32)
    x = (img.astype(np.float32) / max(1, img.max()))[..., None]
    return x, lab


def test_boxes_from_labels_of_the_real_masks(nuclei) -> None:
    _, lab = nuclei
    boxes, ids = boxes_from_labels(lab)
    assert len(ids) == len(np.unique(lab)) - 1 > 10
    for (x0, y0, x1, y1), i in zip(boxes.astype(int), ids):
        ys, xs = np.nonzero(lab == i)
        assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


@pytest.mark.parametrize("text", GEOMETRIC, ids=lambda t: t.split()[0] + t.split()[1][:6])
def test_boxes_equal_those_of_the_transformed_mask(nuclei, text: str) -> None:
    x, lab = nuclei
    aug = ecvl.AugmentationFactory.create(text)
    boxes, ids = boxes_from_labels(lab)
    instances = np.stack([lab == i for i in ids], axis=-1).astype(np.uint8)
    for seed in range(3):
        _, gt_lab = aug.apply_arrays(
            x, lab[..., None].astype(np.float32), np.random.default_rng(seed)
        )
        want, want_ids = boxes_from_labels(np.rint(gt_lab[..., 0]).astype(np.int32))
        x2, got, got_labels, _ = apply_with_boxes(
            aug, x, boxes, ids, np.random.default_rng(seed), instances=instances
        )
        assert x2.shape[:2] == gt_lab.shape[:2]
        np.testing.assert_array_equal(got_labels, want_ids)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("text", ["AugFlip p=1", "AugMirror p=1", "AugCenterCrop size=(80,80)"])
def test_rectangles_follow_axis_aligned_geometry_exactly(nuclei, text: str) -> None:
    x, lab = nuclei
    aug = ecvl.AugmentationFactory.create(text)
    boxes, ids = boxes_from_labels(lab)
    _, gt_lab = aug.apply_arrays(x, lab[..., None].astype(np.float32), np.random.default_rng(0))
    want, want_ids = boxes_from_labels(np.rint(gt_lab[..., 0]).astype(np.int32))
    _, got, got_ids, _ = apply_with_boxes(aug, x, boxes, ids, np.random.default_rng(0))
    if text.startswith("AugCenterCrop"):
        # a crop clips a box to the image; the clipped rectangle contains the box of what
        # remains of the object, and equals it for objects left whole
        assert set(want_ids) <= set(got_ids)
        keep = np.isin(got_ids, want_ids)
        got, got_ids = got[keep], got_ids[keep]
        assert np.all(got[:, :2] <= want[:, :2]) and np.all(got[:, 2:] >= want[:, 2:])
        whole = np.all(got[:, :2] > 0, 1) & np.all(got[:, 2:] < 80, 1)
        got, want = got[whole], want[whole]
    else:
        np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("angle", [90, 30])
def test_a_rotated_box_covers_the_rotated_rectangle_in_the_image(angle: int) -> None:
    """The box moves with the image content: a bright rectangle drawn in the image ends inside
    the returned box, which is its bounding box (+-1 px)."""
    x = np.zeros((101, 121, 1), np.float32)
    x[30:50, 40:70] = 1.0  # the box [40, 30, 70, 50]: 30 wide, 20 tall
    aug = ecvl.AugmentationFactory.create(f"AugRotate angle=[{angle},{angle}]")
    x2, got, _, _ = apply_with_boxes(aug, x, [[40, 30, 70, 50]], [1])
    ys, xs = np.nonzero(x2[..., 0] > 0.5)
    want = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    np.testing.assert_allclose(got[0], want, atol=1)
    if angle == 90:
        assert got[0][2] - got[0][0] == pytest.approx(20, abs=1)  # width and height swapped
        assert got[0][3] - got[0][1] == pytest.approx(30, abs=1)


def test_boxes_leaving_the_image_are_dropped_and_intensity_keeps_them() -> None:
    x = np.zeros((64, 64, 1), np.float32)
    boxes = [[2, 2, 10, 10], [30, 30, 40, 40]]
    crop = ecvl.AugmentationFactory.create("AugCenterCrop size=(20,20)")
    _, got, labels, _ = apply_with_boxes(crop, x, boxes, [7, 8])
    np.testing.assert_array_equal(labels, [8])
    np.testing.assert_array_equal(got, [[8, 8, 18, 18]])  # clipped to the crop [22, 42)
    bright = ecvl.AugmentationFactory.create("AugBrightness beta=[0.1,0.2]")
    _, same, labels, _ = apply_with_boxes(bright, x, boxes, [7, 8])
    np.testing.assert_array_equal(same, boxes)
    np.testing.assert_array_equal(labels, [7, 8])


def test_3d_boxes_follow_a_volume_flip() -> None:
    x = np.zeros((10, 20, 30, 1), np.float32)  # (D, H, W, C)
    flip = ecvl.AugmentationFactory.create("AugMirror p=1")
    _, got, _, _ = apply_with_boxes(flip, x, [[1, 2, 3, 5, 6, 7]], [1])
    masks = boxes_to_masks([[1, 2, 3, 5, 6, 7]], (10, 20, 30))
    assert masks[..., 0].sum() == 4 * 4 * 4 * 255
    assert got.shape == (1, 6)
    # a mirror reverses x: [1, 5) -> [25, 29); y and z unchanged
    np.testing.assert_array_equal(got[0], [25, 2, 3, 29, 6, 7])


def test_bad_boxes_are_named() -> None:
    x = np.zeros((8, 8, 1), np.float32)
    flip = ecvl.AugmentationFactory.create("AugFlip p=1")
    with pytest.raises(EcvlError, match="far corner"):
        apply_with_boxes(flip, x, [[5, 5, 1, 1]], [0])
    with pytest.raises(EcvlError, match="2 boxes but 1 labels"):
        apply_with_boxes(flip, x, [[0, 0, 1, 1], [1, 1, 2, 2]], [0])
