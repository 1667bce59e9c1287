"""pyecvl workflows, written as a pyecvl user writes them, on small real data.

Each test follows one of pyecvl's example workflows (ECVL core, imgproc, metadata of DICOM/NIfTI/
slides, augmentations, the ECVL↔EDDL bridge, the threaded pipeline) with only the import changed,
and checks values against numpy/OpenCV/pydicom/nibabel rather than against our own code.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

import deephealth.ecvl as ecvl
from deephealth import eddl

ROOT = Path(__file__).resolve().parents[2]
CMU = ROOT / ".data" / "cmu_small_region.svs"


@pytest.fixture(scope="module")
def ihc() -> np.ndarray:
    """A real H&E/IHC tile, BGR, 160×200."""
    return cv2.cvtColor(skimage.data.immunohistochemistry()[:160, :200], cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def dataset_yml(tmp_path_factory) -> Path:
    """24 gray 28×28 crops of two real images (class ihc / retina), training 16, test 8."""
    root = tmp_path_factory.mktemp("pyecvl_ds")
    a = cv2.cvtColor(skimage.data.immunohistochemistry(), cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(skimage.data.retina(), cv2.COLOR_RGB2GRAY)
    lines = ["name: two-sources", "classes: [ihc, retina]", "images:"]
    for i in range(24):
        src, label = (a, "ihc") if i % 2 == 0 else (b, "retina")
        cv2.imwrite(str(root / f"s{i}.png"), src[300 + i * 7 :, 200 + i * 5 :][:28, :28])
        lines.append(f"  - location: s{i}.png\n    label: {label}")
    lines.append("split:\n  training: [" + ", ".join(map(str, range(16))) + "]")
    lines.append("  test: [" + ", ".join(map(str, range(16, 24))) + "]")
    yml = root / "ds.yml"
    yml.write_text("\n".join(lines) + "\n")
    return yml


# ------------------------------------------------------------------------------------ ECVL core
def test_image_semantics_as_ecvl():
    x = ecvl.Image([4, 3, 2], ecvl.DataType.int8, "xyc", ecvl.ColorType.none)
    y = ecvl.Image([4, 3, 2], ecvl.DataType.int8, "xyc", ecvl.ColorType.none)
    a, b = np.array(x, copy=False), np.array(y, copy=False)
    a[...] = np.arange(24).reshape(4, 3, 2) - 12
    b.fill(5)
    want = np.clip(a.astype(int) * 5, -128, 127)
    x *= y  # in place: the array taken before sees the result
    np.testing.assert_array_equal(a, want)
    a[...] = np.arange(24).reshape(4, 3, 2) - 12
    x.Div(y)  # C++ integer division truncates toward zero
    np.testing.assert_array_equal(a, np.trunc((np.arange(24) - 12) / 5).reshape(4, 3, 2))
    assert x.IsOwner() and x.strides_ == list(a.strides)
    view = ecvl.View_int8(x)
    assert not view.IsOwner()
    view[1, 2, 0] = -7
    assert a[1, 2, 0] == -7
    with pytest.raises(ecvl.EcvlError, match="View_int8"):
        ecvl.View_int16(x)
    shallow = ecvl.Image.empty()
    assert shallow.dims_ == [] and shallow.strides_ == [] and shallow.IsEmpty()
    ecvl.ShallowCopyImage(x, shallow)
    assert not shallow.IsOwner() and np.shares_memory(np.array(shallow), a)
    five = ecvl.Image([1, 2, 3, 4, 5], ecvl.DataType.uint8, "xyzoo", ecvl.ColorType.none)
    assert five.dims_ == [1, 2, 3, 4, 5] and len(five.strides_) == 5
    copy = ecvl.Image(x)  # pyecvl core's copy constructor
    assert copy.IsOwner() and not np.shares_memory(np.array(copy), a)
    neg = ecvl.Image.empty()
    ecvl.Neg(x, neg, ecvl.DataType.int8, True)
    np.testing.assert_array_equal(np.array(neg), np.clip(-a.astype(int), -128, 127))


def test_imgproc_leniency_against_opencv(ihc, tmp_path):
    img = ecvl.Image.fromarray(ihc.transpose(1, 0, 2).copy(), "xyc", ecvl.ColorType.BGR)
    gray_cv = cv2.cvtColor(ihc, cv2.COLOR_BGR2GRAY)
    out = ecvl.Image.empty()
    ecvl.ResizeDim(img, out, [50, 40, 1])  # [w, h, c] as ECVL's dims: one channel = gray
    assert out.dims_ == [50, 40, 1] and out.colortype_ == ecvl.ColorType.GRAY
    np.testing.assert_allclose(
        out.to_cv().astype(float), cv2.resize(gray_cv, (50, 40)).astype(float), atol=2
    )
    mom = ecvl.Image.empty()
    ecvl.Moments(img, mom, 1)  # colour image: moments of its luminance
    m = cv2.moments(gray_cv.astype(np.float64))
    got = np.array(mom)
    assert mom.dims_ == [2, 2]
    np.testing.assert_allclose([got[0, 0], got[1, 0], got[0, 1]], [m["m00"], m["m10"], m["m01"]],
                               rtol=1e-3)  # fmt: skip
    norm = ecvl.Image.empty()
    ecvl.Normalize(img, norm, [20], [5.5])  # one value for every channel
    np.testing.assert_allclose(np.array(norm), (np.array(img).astype(float) - 20) / 5.5, rtol=1e-6)
    as_i32 = ecvl.Image.fromarray(gray_cv.T.astype(np.int32).copy(), "xy", ecvl.ColorType.GRAY)
    nms = ecvl.Image.empty()
    ecvl.NonMaximaSuppression(as_i32, nms)
    local_max = cv2.dilate(gray_cv, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(nms.to_cv(), np.where(gray_cv == local_max, gray_cv, 0))
    blank = ecvl.Image([20, 40, 1], ecvl.DataType.uint8, "xyc", ecvl.ColorType.GRAY)
    thresholds = ecvl.OtsuMultiThreshold(blank)
    ecvl.MultiThreshold(blank, out, thresholds)
    assert thresholds == [0, 0] and int(np.array(out).max()) == 0
    gray3 = ecvl.Image.fromarray(np.stack([gray_cv.T] * 3, -1), "xyc", ecvl.ColorType.GRAY)
    ecvl.DropColorChannel(gray3)
    assert gray3.channels_ == "xy" and gray3.colortype_ == ecvl.ColorType.none
    np.testing.assert_array_equal(np.array(gray3), gray_cv.T)
    with pytest.raises(ecvl.EcvlError, match="BGR"):
        ecvl.DropColorChannel(ecvl.Image(img))


def test_random_crop_is_a_window_and_pads_on_request(ihc):
    img = ecvl.Image.fromarray(ihc.transpose(1, 0, 2).copy(), "xyc", ecvl.ColorType.BGR)
    crop = ecvl.Image.empty()
    ecvl.RandomCrop(img, crop, [30, 20], seed=7)
    win = crop.to_cv()
    hits = [
        (y, x) for y in range(160 - 19) for x in range(200 - 29)
        if np.array_equal(ihc[y : y + 20, x : x + 30], win)
    ]  # fmt: skip
    assert len(hits) == 1
    with pytest.raises(RuntimeError, match="pad_if_needed"):
        ecvl.RandomCrop(img, crop, [210, 170])
    ecvl.RandomCrop(img, crop, [210, 170], True, ecvl.BorderType.BORDER_CONSTANT, 9, 1)
    assert crop.dims_ == [210, 170, 3] and (crop.to_cv()[:5] == 9).all()


def test_slice_timing_correction_shifts_each_slice():
    nt, nz = 64, 4
    t = np.arange(nt, dtype=np.float64)
    series = np.sin(2 * np.pi * t / 32)
    data = np.broadcast_to(series, (2, 2, nz, nt)).astype(np.float32).copy()
    img = ecvl.Image.fromarray(data, "xyzt", ecvl.ColorType.none, [1, 1, 3, 2])
    out = ecvl.Image.empty()
    ecvl.SliceTimingCorrection(img, out)
    got = np.array(out)
    inner = slice(12, nt - 12)
    for z in range(nz):  # slice z acquired z/nz of a TR after the first: moved by z/nz - 0.5
        want = np.sin(2 * np.pi * (t + z / nz - 0.5) / 32)
        np.testing.assert_allclose(got[0, 0, z, inner], want[inner], atol=0.02)
    const = ecvl.Image.fromarray(np.full((2, 2, 3, 10), 7, np.float32), "xyzt")
    ecvl.SliceTimingCorrection(const, out, True, True)
    np.testing.assert_allclose(np.array(out), 7, rtol=1e-6)


def test_gamma_contrast_on_a_nifti_volume(tmp_path):
    import nibabel as nib

    path = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
    vol = ecvl.NiftiRead(str(path))
    ref = np.asarray(nib.load(path).dataobj)
    out = ecvl.Image.empty()
    ecvl.GammaContrast(vol, out, 2)
    raw = np.array(vol)
    src = raw.astype(np.float64)
    m = float(np.iinfo(raw.dtype).max) if raw.dtype.kind in "ui" else 1.0
    want = m * (np.clip(src, 0, None) / m) ** 2 if m != 1.0 else src**2
    np.testing.assert_allclose(np.array(out).astype(np.float64), want, atol=0.5)
    assert vol.Depth() == ref.shape[2]


# ------------------------------------------------------------------------------------ metadata
def test_dicom_metadata_objects():
    import pydicom
    from pydicom.data import get_testdata_file

    fn = get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(fn)
    img = ecvl.DicomRead(fn)
    assert img.GetMeta("Rows").Get() == ds.Rows
    assert img.GetMeta("Modality").GetStr() == "CT"
    assert all(isinstance(v, ecvl.MetaData) for v in img.meta_.values())
    assert img.SetMeta("foo", ecvl.MetaData(8)) and img.GetMeta("foo").Get() == 8
    for v in (-4294967300, 66000, 5e40, "foo"):
        m = ecvl.MetaData(v)
        assert m.Get() == v and type(m.Get())(m.GetStr()) == v
    assert ecvl.ECVL_WITH_DICOM and ecvl.ECVL_EDDL and ecvl.ECVL_WITH_OPENSLIDE


def test_openslide_workflow_properties_as_metadata():
    with ecvl.OpenSlideImage(str(CMU)) as slide:
        levels = slide.GetLevelsDimensions()
        img = slide.ReadRegion(slide.GetLevelCount() - 1, [0, 0, 64, 48])
        slide.GetProperties(img)
    assert levels[0] == [2220, 2967] and img.dims_ == [64, 48, 3]
    assert img.GetMeta("openslide.mpp-x").GetStr() == "0.499"


# ------------------------------------------------------------------------------- augmentations
TEXTS = {
    "AugRotate": 'angle=[30, 50] center=(2, 3) scale=1.1 interp="nearest"',
    "AugFlip": "p=0.5",
    "AugGammaContrast": "gamma=[3, 4]",
    "AugCoarseDropout": "p=[0.5, 0.7] drop_size=[0.1, 0.2] per_channel=0.4",
    "AugScaleFromTo": "old_min=1 old_max=254 new_min=1 new_max=254",
    "AugRandomCrop": 'size=(4,3) border_type="constant" border_value=255',
    "AugToFloat32": "divisor=2. divisor_gt=3.",
    "AugDivBy255": "",
}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_augmentation_text_constructor_equals_fromtext(name, ihc):
    cls = getattr(ecvl, name)
    a, b = cls(TEXTS[name]), cls.fromtext(TEXTS[name])
    assert a.to_text() == b.to_text()
    imgs = []
    for aug in (a, b):
        img = ecvl.Image.fromarray(
            ihc[:40, :50].transpose(1, 0, 2).copy(), "xyc", ecvl.ColorType.BGR
        )
        ecvl.AugmentationParam.SetSeed(3)
        aug.Apply(img)
        imgs.append(np.array(img))
    np.testing.assert_array_equal(imgs[0], imgs[1])


def test_container_text_constructors():
    seq = ecvl.SequentialAugmentationContainer("AugFlip p=0.2\nAugMirror p=0.4\nend")
    one = ecvl.OneOfAugmentationContainer("p=0.7\nAugFlip p=0.2\nAugMirror p=0.2\nend")
    assert [type(a).__name__ for a in seq] == ["AugFlip", "AugMirror"] and one.p_ == 0.7


# ---------------------------------------------------------------------------- ecvl_eddl bridge
def test_image_to_tensor_is_an_eddl_tensor(ihc):
    img = ecvl.Image.fromarray(ihc.transpose(1, 0, 2).copy(), "xyc", ecvl.ColorType.BGR)
    t = ecvl.ImageToTensor(img)
    assert isinstance(t, eddl.Tensor) and t.shape == [3, 160, 200]
    t.div_(128)
    t.mult_(128)
    back = ecvl.TensorToImage(t)
    np.testing.assert_allclose(back.to_cv(), ihc.astype(np.float32), atol=1e-4)
    batch = eddl.Tensor([4, 160, 200])  # ECVL's offset counts images from the start of memory
    ecvl.ImageToTensor(
        ecvl.Image.fromarray(ihc[:, :, :2].transpose(1, 0, 2).copy(), "xyc"), batch, 1
    )
    np.testing.assert_array_equal(batch.numpy()[2], ihc[:, :, 0])
    view = ecvl.TensorToView(eddl.Tensor([2, 3, 5, 4]))
    assert view.channels_ == "xyo" and view.dims_ == [4, 5, 6] and not view.IsOwner()
    grid = ecvl.MakeGrid(eddl.Tensor(np.ones((3, 1, 5, 4), np.float32)), 2, False)
    assert grid.dims_ == [8, 10, 1]
    with pytest.raises(ValueError):
        ecvl.ImageToTensor(img, None, 0)


def test_load_batch_fills_eddl_tensors(dataset_yml):
    augs = ecvl.DatasetAugmentations(
        [ecvl.SequentialAugmentationContainer([ecvl.AugResizeDim([30, 30]), ecvl.AugToFloat32(255)]),
         ecvl.SequentialAugmentationContainer([ecvl.AugResizeDim([30, 30]), ecvl.AugToFloat32(255)])]
    )  # fmt: skip
    d = ecvl.DLDataset(str(dataset_yml), 8, augs, ecvl.ColorType.GRAY)
    assert d.resize_dims_ == [30, 30]
    x = eddl.Tensor([8, d.n_channels_, d.resize_dims_[0], d.resize_dims_[1]])
    y = eddl.Tensor([8, len(d.classes_)])
    d.LoadBatch(x, y)
    ref = ecvl.DLDataset(str(dataset_yml), 8, augs, ecvl.ColorType.GRAY)
    rx, ry = ref.LoadBatch()
    np.testing.assert_array_equal(x.numpy(), rx.numpy())
    np.testing.assert_array_equal(y.numpy(), ry.numpy())
    first = cv2.imread(str(dataset_yml.parent / "s0.png"), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_allclose(x.numpy()[0, 0], cv2.resize(first, (30, 30)) / 255.0, atol=1e-6)
    d.SetSplit(ecvl.SplitType.test)
    with pytest.raises(ecvl.DatasetError, match="shape"):
        d.LoadBatch(eddl.Tensor([8, 3, 30, 30]))  # a wrong buffer does not consume the batch
    xn = np.zeros((8, 1, 30, 30), np.float32)
    d.LoadBatch(xn, None)
    assert xn.any()
    np.testing.assert_array_equal(d.ToTensorPlane([1]).numpy(), [0, 1])


def test_threaded_pipeline_with_sleep_for(dataset_yml):
    augs = ecvl.DatasetAugmentations(
        [ecvl.SequentialAugmentationContainer([ecvl.AugRotate([-5, 5]), ecvl.AugToFloat32(255)]),
         ecvl.SequentialAugmentationContainer([ecvl.AugToFloat32(255)])]
    )  # fmt: skip
    runs = []
    for workers in (1, 2):
        d = ecvl.DLDataset(str(dataset_yml), 5, augs, ecvl.ColorType.GRAY, ecvl.ColorType.none, 1,
                           2, {"training": False, "test": False}, seed=11)  # fmt: skip
        d.SetWorkers(workers)
        d.SetSplit(ecvl.SplitType.training)
        d.ResetBatch(d.current_split_, False)
        d.Start()
        xs = []
        for _ in range(d.GetNumBatches(ecvl.SplitType.training)):
            _, x, _ = d.GetBatch()
            xs.append(x.numpy())
        t0 = time.perf_counter()
        d.sleep_for(datetime.timedelta(milliseconds=20))
        assert time.perf_counter() - t0 >= 0.019
        d.Stop()
        runs.append(np.concatenate(xs))
    assert runs[0].shape == (16, 1, 28, 28)
    np.testing.assert_array_equal(runs[0], runs[1])  # same batches whatever the worker count
