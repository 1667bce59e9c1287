"""DLDataset: tensor batches, determinism, failures, bounded queue, 3D, samplers, cache, bridge."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import torch

import deephealth.ecvl as ecvl
from deephealth import eddl

COLIN = Path("/usr/share/mricron/templates")
AUG = """SequentialAugmentationContainer
    AugResizeDim dims=(48,40)
    AugMirror p=0.5
    AugRotate angle=[-15,15]
    AugGammaContrast gamma=[0.7,1.3]
    AugToFloat32 divisor=255
end"""


def _write(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr)


@pytest.fixture(scope="module")
def cls_yml(tmp_path_factory) -> Path:
    """22 real tiles: immunohistochemistry (class ihc) and retina (class retina), 3 splits."""
    root = tmp_path_factory.mktemp("dl")
    ihc = cv2.cvtColor(skimage.data.immunohistochemistry(), cv2.COLOR_RGB2BGR)
    ret = cv2.cvtColor(skimage.data.retina(), cv2.COLOR_RGB2BGR)
    lines = ["classes: [ihc, retina]", "images:"]
    for i in range(22):
        if i % 2:
            tile = cv2.resize(ret[300 + i * 30 :, 300 + i * 20 :][:400, :400], (64, 56))
        else:
            tile = ihc[i * 20 : i * 20 + 56, i * 10 : i * 10 + 64]
        _write(root / f"t{i}.png", tile)
        label = "[ihc, retina]" if i == 21 else ("retina" if i % 2 else "ihc")
        lines.append(f"  - location: t{i}.png\n    label: {label}")
    lines.append("split:\n  training: [" + ", ".join(map(str, range(14))) + "]")
    lines.append("  validation: [14, 15, 16, 17]\n  test: [18, 19, 20, 21]")
    yml = root / "cls.yml"
    yml.write_text("\n".join(lines) + "\n")
    return yml


@pytest.fixture(scope="module")
def seg_yml(tmp_path_factory) -> Path:
    """DSB2018 nuclei: four 128² tiles of img2d.tif with their instance masks."""
    import tifffile

    data = Path(__file__).resolve().parents[2] / ".data" / "stardist"
    img = tifffile.imread(data / "img2d.tif")
    mask = tifffile.imread(data / "mask2d.tif")
    root = tmp_path_factory.mktemp("seg")
    lines = ["images:"]
    for k, (y, x) in enumerate([(0, 0), (0, 128), (128, 0), (128, 128)]):
        _write(root / f"n{k}.png", img[y : y + 128, x : x + 128])
        _write(root / f"n{k}_mask.png", (mask[y : y + 128, x : x + 128] > 0).astype(np.uint8))
        lines.append(f"  - location: n{k}.png\n    label: n{k}_mask.png")
    lines.append("split:\n  training: [0, 1, 2]\n  test: [3]")
    yml = root / "seg.yml"
    yml.write_text("\n".join(lines) + "\n")
    return yml


@pytest.fixture(scope="module")
def vol_yml(tmp_path_factory) -> Path:
    """Three 48³ crops of the Colin27 T1 (.nii) with brain masks (ch2bet > 0)."""
    import nibabel as nib

    t1 = np.asarray(nib.load(COLIN / "ch2.nii.gz").dataobj, dtype=np.float32)
    bet = np.asarray(nib.load(COLIN / "ch2bet.nii.gz").dataobj) > 0
    root = tmp_path_factory.mktemp("vol")
    lines = ["images:"]
    for k, o in enumerate([(40, 60, 50), (70, 80, 60), (100, 100, 90)]):
        sl = tuple(slice(a, a + 48) for a in o)
        nib.save(nib.Nifti1Image(t1[sl], np.eye(4)), str(root / f"v{k}.nii"))
        nib.save(nib.Nifti1Image(bet[sl].astype(np.uint8), np.eye(4)), str(root / f"m{k}.nii.gz"))
        lines.append(f"  - location: v{k}.nii\n    label: m{k}.nii.gz")
    yml = root / "vol.yml"
    yml.write_text("\n".join(lines) + "\nsplit:\n  training: [0, 1, 2]\n")
    return yml


def test_classification_batches_one_hot_and_multi_hot(cls_yml):
    ds = ecvl.DLDataset(cls_yml, 4, [AUG, AUG, AUG], num_workers=2, seed=1)
    assert ds.GetNumBatches("training") == 4 and ds.split_[0].last_batch_ == 2
    ds.SetSplit("test")
    batches = list(ds)
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3, 40, 48)]
    x, y = batches[0]
    assert x.dtype == torch.float32 and y.dtype == torch.float32 and 0 <= float(x.min())
    assert y.tolist() == [[1, 0], [0, 1], [1, 0], [1, 1]]  # last sample is multi-label
    ds.SetSplit("training")
    assert [x.shape[0] for x, _ in ds] == [4, 4, 4, 2]


def test_ecvl_start_getbatch_stop_and_counters(cls_yml):
    ds = ecvl.DLDataset(cls_yml, 4, ecvl.DatasetAugmentations([AUG, None, None]), "GRAY",
                        num_workers=2, drop_last=[True, False, False], seed=3)  # fmt: skip
    assert ds.GetNumBatches() == 3 and ds.n_channels_ == 1
    ds.ResetBatch(ecvl.SplitType.training, shuffle=True)
    ds.Start()
    seen = []
    for _ in range(ds.GetNumBatches()):
        samples, x, y = ds.GetBatch()
        assert x.shape == (4, 1, 40, 48) and y.shape == (4, 2)
        seen += [s.location_[0] for s in samples]
    with pytest.raises(ecvl.DatasetError, match="no more batches"):
        ds.GetBatch()
    ds.Stop()
    assert len(set(seen)) == 12
    ds.SetSplit("validation")
    x, y = ds.LoadBatch()
    assert x.shape == (4, 1, 56, 64)  # no augmentation for validation
    out = torch.zeros(4, 1, 56, 64)
    ds.ResetBatch()
    ds.LoadBatch(out)
    assert torch.equal(out, x)
    ds.SetBatchSize(3)
    assert ds.GetNumBatches("validation") == 2
    with pytest.raises(ecvl.DatasetError, match="call Start"):
        ds.GetBatch()


def test_same_seed_same_batches_whatever_the_workers(cls_yml):
    def epoch(workers, backend="thread", seed=7):
        ds = ecvl.DLDataset(cls_yml, 4, [AUG], num_workers=workers, seed=seed, backend=backend)
        return [(x.clone(), y.clone()) for x, y in ds]

    ref = epoch(0)
    for other in (epoch(1), epoch(3), epoch(2, "process")):
        assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(ref, other))
    assert not torch.equal(ref[0][0], epoch(0, seed=8)[0][0])


def test_shuffle_is_a_deterministic_permutation(cls_yml):
    ds = ecvl.DLDataset(cls_yml, 4, None, seed=11)
    ds.ResetBatch("training", shuffle=True)
    first = list(ds._orders[0])
    assert sorted(first) == list(range(14)) and first != list(range(14))
    ds2 = ecvl.DLDataset(cls_yml, 4, None, seed=11)
    ds2.ResetAllBatches(shuffle=True)
    assert ds2._orders[0] == first


@pytest.mark.timeout(60)
def test_failing_sample_is_reported_with_its_location(cls_yml, tmp_path):
    text = cls_yml.read_text().replace("location: t5.png", f"location: {tmp_path}/gone.png")
    yml = cls_yml.parent / "broken.yml"
    yml.write_text(text)
    for backend in ("thread", "process"):
        ds = ecvl.DLDataset(yml, 4, [AUG], num_workers=2, backend=backend, shuffle=False)
        t0 = time.time()
        with pytest.raises(ecvl.SampleLoadError) as err:
            list(ds)
        assert err.value.index == 5 and "gone.png" in str(err.value)
        assert "no such file" in err.value.cause
        assert time.time() - t0 < 20
        ds.Stop()


def test_queue_is_bounded(cls_yml):
    ds = ecvl.DLDataset(cls_yml, 2, None, num_workers=2, queue_ratio_size=1)
    ds.Start()
    time.sleep(0.5)  # the consumer is not consuming: workers must stop at the bound
    assert 0 < ds.GetQueueSize() <= 2 * 1 * 2
    _, x, _ = ds.GetBatch()
    time.sleep(0.3)
    assert ds.GetQueueSize() <= 4
    ds.Stop()


def test_segmentation_ground_truth_follows_the_image(seg_yml):
    aug = """SequentialAugmentationContainer
        AugRotate angle=[-30,30]
        AugFlip p=0.5
        AugRandomCrop size=(96,96)
        AugToFloat32 divisor=65535
    end"""
    ds = ecvl.DLDataset(seg_yml, 3, [aug, None], "GRAY", "GRAY", num_workers=2, seed=4)
    ((x, y),) = list(ds)
    assert x.shape == (3, 1, 96, 96) and y.shape == (3, 1, 96, 96)
    assert set(torch.unique(y).tolist()) <= {0.0, 1.0}
    # nuclei are bright: the image is brighter inside the (augmented) mask
    assert float(x[y > 0].mean()) > 2 * float(x[(y == 0) & (x > 0)].mean())


def test_volumes_batch_ncdhw_with_patch_sampler(vol_yml):
    aug = "SequentialAugmentationContainer\n AugMirror p=0.5\n AugNormalize mean=60 std=40\nend"
    ps = ecvl.PatchSampler((32, 24, 16), label_weighted=True, pos_ratio=1.0)
    ds = ecvl.DLDataset(vol_yml, 3, [aug], "none", "none", num_workers=2, seed=0, patch_sampler=ps)
    ((x, y),) = list(ds)
    assert x.shape == (3, 1, 16, 24, 32) and y.shape == (3, 1, 16, 24, 32)
    assert all(float(y[i].sum()) > 0 for i in range(3))  # label-weighted: every patch hits brain
    ds2 = ecvl.DLDataset(vol_yml, 3, ["AugRandomCrop size=(40,40,40)"], "none", num_workers=1)
    ((x2, y2),) = list(ds2)
    assert x2.shape == (3, 1, 40, 40, 40)


def test_multi_channel_input_from_several_locations(cls_yml):
    yml = cls_yml.parent / "planes.yml"
    yml.write_text("classes: [a]\nimages:\n  - location: [t0.png, t2.png, t4.png, t6.png]\n"
                   "    label: a\n  - location: [t8.png, t10.png, t12.png, t14.png]\n    label: a\n")  # fmt: skip
    ds = ecvl.DLDataset(yml, 2, None, "GRAY")
    ((x, y),) = list(ds)
    assert x.shape == (2, 4, 56, 64) and y.tolist() == [[1.0], [1.0]]


def test_plain_torch_training_loop(cls_yml):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    ds = ecvl.DLDataset(cls_yml, 4, [AUG], num_workers=2, seed=0)
    losses = []
    for _ in range(2):
        for x, y in ds:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert len(losses) == 8 and all(np.isfinite(losses))


def test_class_balanced_sampler(tmp_path):
    ihc = skimage.data.immunohistochemistry()
    lines = ["classes: [common, rare]", "images:"]
    for i in range(20):
        _write(tmp_path / f"{i}.png", ihc[i * 10 : i * 10 + 16, :16])
        lines.append(f"  - location: {i}.png\n    label: {'rare' if i < 2 else 'common'}")
    (tmp_path / "imb.yml").write_text("\n".join(lines) + "\n")
    ds = ecvl.DLDataset(tmp_path / "imb.yml", 20, None, sampler="balanced", seed=0)
    rare = 0
    for _ in range(20):
        ds.ResetBatch(shuffle=True)
        rare += sum(1 for i in ds._orders[0] if i < 2)
    assert 0.35 < rare / 400 < 0.65  # 10 % of the data, about half of the draws


def test_cache_of_deterministic_preprocessing(cls_yml, tmp_path):
    aug = AUG
    plain = [x.clone() for x, _ in ecvl.DLDataset(cls_yml, 4, [aug], seed=5, shuffle=False)]
    cached = ecvl.DLDataset(cls_yml, 4, [aug], seed=5, shuffle=False, cache_dir=tmp_path)
    first = [x.clone() for x, _ in cached]
    files = list(tmp_path.rglob("*.npy"))
    assert len(files) == 14  # one per training sample, after AugResizeDim
    assert np.load(files[0]).shape == (40, 48, 3)
    cached.ResetBatch()
    second = [x.clone() for x, _ in cached]
    assert all(torch.equal(a, b) for a, b in zip(plain, first))
    assert not all(torch.equal(a, b) for a, b in zip(first, second))  # new random draws


def test_tensor_bridge(cls_yml):
    ds = ecvl.Dataset(cls_yml)
    img = ds.samples_[0].LoadImage(ecvl.ColorType.RGB)
    t = ecvl.ImageToTensor(img)
    assert isinstance(t, eddl.Tensor) and t.shape == [3, 56, 64]
    assert t.torch.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy()[0], img.to_cv()[:, :, 0])
    batch = torch.zeros(2, 3, 56, 64)
    ecvl.ImageToTensor(img, batch, 1)
    assert torch.equal(batch[1], t.torch)
    back = ecvl.TensorToImage(t)
    assert back.channels == "xyc" and back.dims_ == [64, 56, 3]
    np.testing.assert_array_equal(back.to_cv(), img.to_cv().astype(np.float32))
    view = ecvl.TensorToView(batch)
    assert view.channels == "xyo" and view.dims_ == [64, 56, 6] and not view.IsOwner()
    batch[1, 0, 0, 0] = -5
    assert view.data[0, 0, 3] == -5  # shares memory: plane o = n * C + c
    grid = ecvl.MakeGrid(torch.rand(5, 3, 8, 10), cols=2, normalize=True)
    assert grid.dims_ == [20, 24, 3] and float(grid.data.max()) <= 1
    with pytest.raises(ValueError, match="both t and offset"):
        ecvl.ImageToTensor(img, batch)
    with pytest.raises(ecvl.EcvlError, match="N×C×H×W"):
        ecvl.MakeGrid(torch.rand(3, 8, 8))


def test_batches_feed_eddl_fit_and_train_batch(cls_yml):
    import deephealth.eddl as eddl

    ds = ecvl.DLDataset(cls_yml, 4, ["AugResizeDim dims=(16,16)\n"], num_workers=1, seed=0)
    in_ = eddl.Input([3, 16, 16])
    out = eddl.Softmax(eddl.Dense(eddl.Flatten(in_), 2))
    net = eddl.Model([in_], [out])
    eddl.build(
        net, eddl.sgd(0.01), ["softmax_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU()
    )
    history = eddl.fit(net, ds, epochs=1, verbose=0)
    assert np.isfinite(history[-1]["loss"])
    ds.ResetBatch()
    ds.Start()
    _, x, y = ds.GetBatch()
    ds.Stop()
    eddl.train_batch(net, [x], [y])


def test_sample_of_another_size_is_named(tmp_path):
    ihc = skimage.data.immunohistochemistry()
    _write(tmp_path / "a.png", ihc[:32, :32])
    _write(tmp_path / "b.png", ihc[:40, :32])
    (tmp_path / "s.yml").write_text("images:\n  - a.png\n  - b.png\n")
    ds = ecvl.DLDataset(tmp_path / "s.yml", 2, None, num_workers=1, shuffle=False)
    with pytest.raises(ecvl.SampleLoadError, match=r"sample 1 .*b\.png.*differs from the batch"):
        list(ds)


def test_dataset_augmentations_by_split_name(cls_yml):
    da = ecvl.DatasetAugmentations(
        {ecvl.SplitType.training: "AugMirror p=1", "test": ecvl.AugFlip(1.0)}
    )
    assert da.get(0, "training") == ecvl.AugMirror(1.0) and da.get(1, "validation") is None
    img = ecvl.Dataset(cls_yml).samples_[0].LoadImage()
    ref = img.to_cv().copy()
    da.Apply(ecvl.SplitType.test, img)
    np.testing.assert_array_equal(img.to_cv(), ref[::-1])
    ds = ecvl.DLDataset(cls_yml, 4, da, num_workers=0, seed=0)
    ds.SetSplit("test")
    ((x, _),) = list(ds)
    plain = ecvl.DLDataset(cls_yml, 4, None, num_workers=0, seed=0)
    plain.SetSplit("test")
    ((x0, _),) = list(plain)
    assert torch.equal(x, x0.flip(2))
    assert ecvl.DatasetAugmentations([None, None]).IsEmpty()
    with pytest.raises(ecvl.DatasetError, match="augmentation, its text or None"):
        ecvl.DatasetAugmentations([3])


def test_constructor_errors(cls_yml):
    with pytest.raises(ecvl.DatasetError, match="backend must be"):
        ecvl.DLDataset(cls_yml, 4, backend="gpu")
    with pytest.raises(ecvl.DatasetError, match="sampler must be"):
        ecvl.DLDataset(cls_yml, 4, sampler="uniform")
    with pytest.raises(ecvl.DatasetError, match="batch_size must be positive"):
        ecvl.DLDataset(cls_yml, 0)
    with pytest.raises(ecvl.DatasetError, match="drop_last has 2 entries for 3 splits"):
        ecvl.DLDataset(cls_yml, 4, drop_last=[True, False])
    ds = ecvl.DLDataset(cls_yml, 4)
    ds.Start()
    with pytest.raises(ecvl.DatasetError, match="already started"):
        ds.Start()
    ds.Stop()


def test_ranks_share_each_epoch_without_overlap(cls_yml):
    ranks = [ecvl.DLDataset(cls_yml, 2, None, seed=5, rank=r, world_size=3) for r in range(3)]
    for ds in ranks:
        ds.ResetBatch("training", shuffle=True)
    shares = [ds._orders[0] for ds in ranks]
    seen = [i for share in shares for i in share]
    assert len(seen) == len(set(seen)) == 12  # 14 cut to a multiple of 3; no sample twice
    assert {ds.GetNumBatches("training") for ds in ranks} == {2}  # same step count on every rank
    test_shares = [ds._orders[2] for ds in ranks]
    assert sorted(i for share in test_shares for i in share) == [18, 19, 20, 21]
    batches = [list(ds) for ds in ranks]  # the current split (training) on each rank
    assert all(len(b) == 2 for b in batches)
    with pytest.raises(ecvl.DatasetError, match="rank 3 is outside a job of 3"):
        ecvl.DLDataset(cls_yml, 2, None, rank=3, world_size=3)
