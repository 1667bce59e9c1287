"""Augmentations on real images: image/mask alignment, determinism, values, 3D volumes, Image API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deephealth.ecvl as ecvl

ROOT = Path(__file__).resolve().parents[2]
NUCLEI = ROOT / ".data" / "stardist"
COLIN = Path("/usr/share/mricron/templates")


@pytest.fixture(scope="module")
def nuclei():
    """DSB2018 nuclei image (uint16, 512²) and its instance mask, cropped to 256² for speed."""
    import tifffile

    img = tifffile.imread(NUCLEI / "img2d.tif")[:256, :256]
    mask = tifffile.imread(NUCLEI / "mask2d.tif")[:256, :256]
    return img[:, :, None], mask[:, :, None].astype(np.uint16)


@pytest.fixture(scope="module")
def rgb():
    import skimage.data

    return skimage.data.immunohistochemistry()[:200, :240]


@pytest.fixture(scope="module")
def brain():
    """Colin27 T1 crop (64³ float32) and its brain mask (ch2bet > 0)."""
    import nibabel as nib

    sl = (slice(60, 124), slice(70, 134), slice(60, 124))
    t1 = np.asarray(nib.load(COLIN / "ch2.nii.gz").dataobj, dtype=np.float32)[sl]
    bet = np.asarray(nib.load(COLIN / "ch2bet.nii.gz").dataobj)[sl] > 0
    # nibabel (x, y, z) → canonical (z, y, x, c)
    return t1.transpose(2, 1, 0)[..., None], bet.transpose(2, 1, 0)[..., None].astype(np.uint8)


GEOMETRIC = [
    ecvl.AugRotate([-30, 30], interp="nearest"),
    ecvl.AugRotate([-30, 30], center=[40, 60], scale=1.3, interp="nearest"),
    ecvl.AugResizeDim([180, 150], interp="nearest"),
    ecvl.AugResizeScale([0.7, 1.4], interp="nearest"),
    ecvl.AugFlip(1.0),
    ecvl.AugMirror(1.0),
    ecvl.AugTranspose(1.0),
    ecvl.AugCenterCrop([100, 120]),
    ecvl.AugCenterCrop(),
    ecvl.AugRandomCrop([100, 120]),
    ecvl.AugRandomCrop([300, 280]),
    ecvl.AugGridDistortion([3, 8], [-0.3, 0.3], "nearest", "constant", 0),
    ecvl.AugElasticTransform([20, 40], [4, 6], "nearest", "constant", 0),
    ecvl.AugOpticalDistortion([-0.3, 0.3], [-0.1, 0.1], "nearest", "constant", 0),
]


@pytest.mark.parametrize("aug", GEOMETRIC, ids=lambda a: a.to_text())
def test_mask_stays_aligned_exactly(aug, nuclei):
    """The mask given as image (nearest) and as ground truth must come out identical."""
    img, mask = nuclei
    out, gt = aug.apply_arrays(mask.copy(), mask, np.random.default_rng(7))
    np.testing.assert_array_equal(out, gt)
    assert gt.dtype == mask.dtype
    assert set(np.unique(gt)) <= set(np.unique(mask))  # nearest: no mixed labels
    # carried as a second image channel, it matches too (OpenCV may break exact .5 ties
    # differently for 2-channel data: allow 0.1 % of pixels)
    stacked = np.concatenate([img, mask], axis=2)
    out2, gt2 = aug.apply_arrays(stacked, mask, np.random.default_rng(7))
    assert gt2.shape[:2] == out2.shape[:2]
    assert (out2[:, :, 1:] != gt2).mean() < 1e-3


@pytest.mark.parametrize("aug", GEOMETRIC[:7], ids=lambda a: a.to_text())
def test_nuclei_stay_bright_inside_mask_with_linear_image(aug, nuclei):
    img, mask = nuclei
    lin = ecvl.AugmentationFactory.create(
        aug.to_text().replace('interp="nearest"', 'interp="linear"', 1)
    )
    out, gt = lin.apply_arrays(img.astype(np.float32), mask, np.random.default_rng(3))
    inside = out[gt > 0].mean()
    outside = out[(gt == 0) & (out > 0)].mean()
    assert inside > 2 * outside


def test_seed_replays_exactly(rgb):
    aug = ecvl.AugmentationFactory.create(
        """SequentialAugmentationContainer
        AugRotate angle=[-20,20]
        AugFlip p=0.5
        AugMirror p=0.5
        AugGammaContrast gamma=[0.5,1.5]
        AugAdditiveLaplaceNoise std_dev=[0,10]
        AugCoarseDropout p=[0,0.2] drop_size=[0.02,0.1] per_channel=0.5
        OneOfAugmentationContainer p=0.9
            AugElasticTransform alpha=[10,20] sigma=[3,5]
            AugSalt p=[0,0.1] per_channel=0.5
        end
    end"""
    )
    runs = []
    for seed in (5, 5, 6):
        ecvl.AugmentationParam.SetSeed(seed)
        img = ecvl.Image.from_cv(rgb.copy())
        aug.Apply(img)
        runs.append(img.to_cv().copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_apply_on_image_updates_layout_gt_and_params(nuclei):
    img_arr, mask = nuclei
    img = ecvl.Image.fromarray(img_arr.transpose(1, 0, 2), "xyc", ecvl.ColorType.GRAY)
    gt = ecvl.Image.fromarray(mask.transpose(1, 0, 2), "xyc", ecvl.ColorType.GRAY)
    aug = ecvl.SequentialAugmentationContainer(
        ecvl.AugResizeDim([100, 50]), ecvl.AugRotate([10, 10])
    )
    aug.Apply(img, gt)
    assert img.channels == "xyc" and img.dims_ == [100, 50, 1]
    assert gt.dims_ == [100, 50, 1] and gt.data.dtype == np.uint16
    assert aug[1].params_["angle"].value_ == 10
    # layout other than xyc is accepted ("cxy")
    img2 = ecvl.Image.fromarray(img_arr.transpose(2, 1, 0), "cxy", ecvl.ColorType.GRAY)
    ecvl.AugMirror(1.0).Apply(img2)
    np.testing.assert_array_equal(img2.to_cv(), img_arr[:, ::-1, 0])


def test_flip_mirror_transpose_and_crops_are_exact(rgb):
    r = np.random.default_rng(0)
    assert np.array_equal(ecvl.AugFlip(1).apply_arrays(rgb, None, r)[0], rgb[::-1])
    assert np.array_equal(ecvl.AugMirror(1).apply_arrays(rgb, None, r)[0], rgb[:, ::-1])
    assert np.array_equal(
        ecvl.AugTranspose(1).apply_arrays(rgb, None, r)[0], rgb.transpose(1, 0, 2)
    )
    assert np.array_equal(ecvl.AugFlip(0).apply_arrays(rgb, None, r)[0], rgb)
    c = ecvl.AugCenterCrop([100, 50]).apply_arrays(rgb, None, r)[0]
    assert np.array_equal(c, rgb[75:125, 70:170])
    assert ecvl.AugCenterCrop().apply_arrays(rgb, None, r)[0].shape == (200, 200, 3)
    with pytest.raises(ecvl.EcvlError, match="larger than image"):
        ecvl.AugCenterCrop([500, 10]).apply_arrays(rgb, None, r)
    padded = ecvl.AugRandomCrop([260, 220], "constant", 9).apply_arrays(rgb, None, r)[0]
    assert padded.shape == (220, 260, 3) and padded[0, 0, 0] == 9


def test_rotate_90_is_exact(rgb):
    sq = rgb[:200, :200]
    out = ecvl.AugRotate([90, 90], interp="nearest").apply_arrays(sq)[0]
    np.testing.assert_array_equal(out, np.rot90(sq, -1))  # clockwise, as ECVL


def test_intensity_values(rgb, nuclei):
    r = np.random.default_rng(0)
    f = ecvl.AugToFloat32(255, 2).apply_arrays(rgb, rgb[:, :, :1], r)
    assert f[0].dtype == np.float32 and f[0].max() <= 1 and f[1].max() == rgb[:, :, 0].max() / 2
    d = ecvl.AugDivBy255().apply_arrays(rgb, None, r)[0]
    np.testing.assert_allclose(d, rgb / 255.0, rtol=1e-6)
    s = ecvl.AugScaleTo(-1, 1).apply_arrays(nuclei[0], None, r)[0]
    assert s.dtype == np.float32 and s.min() == -1 and s.max() == pytest.approx(1)
    sf = ecvl.AugScaleFromTo(0, 255, -1, 1).apply_arrays(rgb, None, r)[0]
    np.testing.assert_allclose(sf, rgb / 127.5 - 1, atol=1e-5)
    n = ecvl.AugNormalize([10, 20, 30], [2, 4, 5]).apply_arrays(rgb, None, r)[0]
    np.testing.assert_allclose(n[..., 2], (rgb[..., 2] - 30.0) / 5, rtol=1e-5, atol=1e-5)
    with pytest.raises(ecvl.EcvlError, match="3 means for an image with 1 channels"):
        ecvl.AugNormalize([1, 2, 3], [1, 1, 1]).apply_arrays(nuclei[0], None, r)
    b = ecvl.AugBrightness([300, 300]).apply_arrays(rgb, None, r)[0]
    assert b.dtype == np.uint8 and (b == 255).all()  # saturates
    g = ecvl.AugGammaContrast([1, 1]).apply_arrays(rgb, None, r)[0]
    np.testing.assert_array_equal(g, rgb)
    g2 = ecvl.AugGammaContrast([2, 2]).apply_arrays(nuclei[0], None, r)[0]
    assert g2.dtype == np.uint16 and g2.mean() < nuclei[0].mean()
    blur = ecvl.AugGaussianBlur([2, 2]).apply_arrays(rgb, None, r)[0]
    assert blur.shape == rgb.shape and blur.std() < rgb.std()


def test_noise_and_dropout(rgb):
    r = np.random.default_rng(1)
    assert (ecvl.AugSalt([1, 1], 0).apply_arrays(rgb, None, r)[0] == 255).all()
    assert (ecvl.AugPepper([1, 1], 1).apply_arrays(rgb, None, r)[0] == 0).all()
    sp = ecvl.AugSaltAndPepper([0.2, 0.2], 0).apply_arrays(rgb, None, r)[0]
    changed = (sp != rgb).any(axis=2).mean()
    assert 0.15 < changed < 0.25
    assert ((sp == 0) | (sp == 255) | (sp == rgb)).all()
    assert (ecvl.AugCoarseDropout([1, 1], [0.1, 0.1], 0).apply_arrays(rgb, None, r)[0] == 0).all()
    assert np.array_equal(
        ecvl.AugCoarseDropout([0, 0], [0.1, 0.1], 0).apply_arrays(rgb, None, r)[0], rgb
    )
    lap = ecvl.AugAdditiveLaplaceNoise([20, 20]).apply_arrays(rgb.astype(np.float32), None, r)[0]
    assert (lap - rgb).std() == pytest.approx(20, rel=0.1)
    poi = ecvl.AugAdditivePoissonNoise([5, 5]).apply_arrays(rgb.astype(np.float32), None, r)[0]
    assert np.abs(poi - rgb).mean() == pytest.approx(5, rel=0.15)
    mask = rgb[:, :, :1]
    _, gt = ecvl.AugSalt([1, 1], 0).apply_arrays(rgb, mask, r)
    assert gt is mask  # pixel-value augmentations leave the ground truth alone


def test_containers(rgb):
    r = np.random.default_rng(0)
    seq = ecvl.SequentialAugmentationContainer([ecvl.AugFlip(1), ecvl.AugMirror(1)])
    np.testing.assert_array_equal(seq.apply_arrays(rgb, None, r)[0], rgb[::-1, ::-1])
    never = ecvl.OneOfAugmentationContainer(0.0, [ecvl.AugFlip(1), ecvl.AugMirror(1)])
    np.testing.assert_array_equal(never.apply_arrays(rgb, None, r)[0], rgb)
    always = ecvl.OneOfAugmentationContainer(1.0, [ecvl.AugFlip(1), ecvl.AugMirror(1)])
    outs = {always.apply_arrays(rgb, None, r)[0].tobytes() for _ in range(20)}
    assert outs == {rgb[::-1].tobytes(), rgb[:, ::-1].tobytes()}
    seq.Add(ecvl.AugTranspose(1))
    assert len(seq) == 3 and seq.deterministic is False


def test_many_channels_and_int32_labels(rgb):
    six = np.concatenate([rgb, rgb[..., ::-1]], axis=2)
    labels = rgb[:, :, :1].astype(np.int32) * 1000
    out, gt = ecvl.AugRotate([15, 15]).apply_arrays(six, labels)
    assert out.shape == six.shape and gt.dtype == np.int32
    assert set(np.unique(gt)) <= set(np.unique(labels)) | {0}  # 0 = outside after rotating


VOLUME_AUGS = [
    ecvl.AugRandomCrop([40, 30, 20]),
    ecvl.AugCenterCrop([40, 30, 20]),
    ecvl.AugFlip(1.0),
    ecvl.AugMirror(1.0),
    ecvl.AugTranspose(1.0),
    ecvl.AugRotate([-20, 20], interp="nearest"),
    ecvl.AugResizeDim([32, 48, 40], interp="nearest"),
    ecvl.AugResizeScale([0.5, 0.5, 2.0], interp="nearest"),
    ecvl.AugElasticTransform([10, 10], [4, 4], "nearest", "constant", 0),
]


@pytest.mark.parametrize("aug", VOLUME_AUGS, ids=lambda a: a.to_text())
def test_volume_and_brain_mask_stay_aligned(aug, brain):
    t1, mask = brain
    stacked = np.concatenate([t1, mask.astype(np.float32)], axis=3)
    out, gt = aug.apply_arrays(stacked, mask, np.random.default_rng(2))
    assert out.ndim == 4 and gt.shape[:3] == out.shape[:3]
    np.testing.assert_array_equal(out[..., 1:], gt.astype(np.float32))
    # the brain is brighter than the rest in the T1 inside the (transformed) mask
    if gt.any() and (gt == 0).any():
        assert out[..., 0][gt[..., 0] > 0].mean() > out[..., 0][gt[..., 0] == 0].mean()


def test_volume_resize_dims_order(brain):
    t1, _ = brain
    out = ecvl.AugResizeDim([32, 48, 40]).apply_arrays(t1)[0]
    assert out.shape == (40, 48, 32, 1)  # (d, h, w, c) for dims (w, h, d)
    img = ecvl.Image.fromarray(t1.transpose(2, 1, 0, 3), "xyzc", ecvl.ColorType.GRAY)
    ecvl.AugResizeDim([32, 48, 40]).Apply(img)
    assert img.channels == "xyzc" and img.dims_ == [32, 48, 40, 1]
