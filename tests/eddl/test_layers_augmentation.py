"""Augmentation layers: deterministic ones against numpy, random ones identity in eval mode and
seeded, per-sample transforms in training mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.eddl.layer_cases import run_graph

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import ShapeError

SHAPE = (2, 8, 8)


def _run(make, data, train=False, shape=SHAPE):
    x = eddl.Input(list(shape))
    out = make(x)
    return out, run_graph([x], out, data, train=train)


def _data(n=4, shape=SHAPE, seed=0):
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


def test_flips():
    d = _data()
    a = d.numpy()
    np.testing.assert_array_equal(_run(lambda x: eddl.Flip(x, 0), d)[1].numpy(), a[:, :, ::-1])
    np.testing.assert_array_equal(_run(eddl.VerticalFlip, d)[1].numpy(), a[:, :, ::-1])
    np.testing.assert_array_equal(_run(eddl.HorizontalFlip, d)[1].numpy(), a[:, :, :, ::-1])
    with pytest.raises(ValueError, match="axis"):
        eddl.Flip(eddl.Input(list(SHAPE)), 2)


def test_crops_and_cutout():
    d = _data()
    a = d.numpy()
    out, got = _run(lambda x: eddl.Crop(x, [1, 2], [5, 7]), d)
    assert out.output_shape == (2, 5, 6)
    np.testing.assert_array_equal(got.numpy(), a[:, :, 1:6, 2:8])
    _, got = _run(lambda x: eddl.Crop(x, [1, 2], [5, 7], False, 9.0), d)
    ref = np.full_like(a, 9.0)
    ref[:, :, 1:6, 2:8] = a[:, :, 1:6, 2:8]
    np.testing.assert_array_equal(got.numpy(), ref)
    out, got = _run(lambda x: eddl.CenteredCrop(x, [4, 6]), d)
    np.testing.assert_array_equal(got.numpy(), a[:, :, 2:6, 1:7])
    _, got = _run(lambda x: eddl.Cutout(x, [2, 3], [4, 4], -1.0), d)
    ref = a.copy()
    ref[:, :, 2:5, 3:5] = -1.0
    np.testing.assert_array_equal(got.numpy(), ref)
    _, got = _run(lambda x: eddl.CropScale(x, [0, 4], [3, 7]), d)
    idx = np.arange(8) // 2  # a 4x4 box scaled x2 by nearest neighbour
    np.testing.assert_array_equal(got.numpy(), a[:, :, :4, 4:][:, :, idx][:, :, :, idx])
    with pytest.raises(ShapeError, match="not inside"):
        eddl.Crop(eddl.Input(list(SHAPE)), [0, 0], [8, 3])
    with pytest.raises(ShapeError, match=r"\(C, H, W\)"):
        eddl.Cutout(eddl.Input([8, 8]), [0, 0], [1, 1])


def test_rotate_and_shift():
    d = _data()
    a = d.numpy()
    _, got = _run(lambda x: eddl.Rotate(x, 90.0), d)
    np.testing.assert_array_equal(got.numpy(), np.rot90(a, 1, axes=(2, 3)))
    _, got = _run(lambda x: eddl.Rotate(x, -90.0), d)
    np.testing.assert_array_equal(got.numpy(), np.rot90(a, -1, axes=(2, 3)))
    _, got = _run(lambda x: eddl.Rotate(x, 0.0), d)
    np.testing.assert_array_equal(got.numpy(), a)
    # a 45 degree turn with constant fill: the corners come from outside the image
    _, got = _run(lambda x: eddl.Rotate(x, 45.0, da_mode="constant", constant=5.0), d)
    assert torch.all(got[:, :, 0, 0] == 5.0) and torch.all(got[:, :, 3:5, 3:5] != 5.0)
    # "original" keeps the input pixel where the rotated image has none
    _, got = _run(lambda x: eddl.Rotate(x, 45.0), d)
    np.testing.assert_array_equal(got[:, :, 0, 0].numpy(), a[:, :, 0, 0])
    _, got = _run(lambda x: eddl.Shift(x, [2, -3], "constant", 7.0), d)
    ref = np.full_like(a, 7.0)
    ref[:, :, 2:, :5] = a[:, :, :6, 3:]
    np.testing.assert_array_equal(got.numpy(), ref)
    _, got = _run(lambda x: eddl.Shift(x, [1, 0]), d)  # "nearest": the edge row repeats
    ref = np.concatenate([a[:, :, :1], a[:, :, :7]], axis=2)
    np.testing.assert_array_equal(got.numpy(), ref)
    with pytest.raises(ValueError, match="da_mode"):
        eddl.Shift(eddl.Input(list(SHAPE)), [1, 1], "wrap")


def test_scale_is_a_resize():
    d = _data()
    out, got = _run(lambda x: eddl.Scale(x, [4, 4]), d)
    assert out.kind == "Resize" and out.output_shape == (2, 4, 4)
    np.testing.assert_array_equal(got.numpy(), d.numpy()[:, :, ::2, ::2])


RANDOM = [
    lambda x: eddl.RandomFlip(x, 0),
    eddl.RandomHorizontalFlip,
    eddl.RandomVerticalFlip,
    lambda x: eddl.RandomCropScale(x, [0.5, 0.9]),
    lambda x: eddl.RandomCutout(x, [0.2, 0.5], [0.2, 0.5]),
    lambda x: eddl.RandomRotation(x, [-40.0, 40.0]),
    lambda x: eddl.RandomShift(x, [-0.3, 0.3], [-0.3, 0.3]),
    lambda x: eddl.RandomScale(x, [0.6, 1.4]),
]


@pytest.mark.parametrize("make", RANDOM)
def test_random_layers_identity_in_eval_random_in_train(make):
    d = _data(n=16)
    x = eddl.Input(list(SHAPE))
    out = make(x)
    assert torch.equal(run_graph([x], out, d, train=False), d)
    torch.manual_seed(3)
    first = run_graph([x], out, d, train=True)
    torch.manual_seed(3)
    again = run_graph([x], out, d, train=True)
    assert torch.equal(first, again)  # seeded: reproducible
    changed = [not torch.equal(first[i], d[i]) for i in range(16)]
    assert 0 < sum(changed)  # random: something changed
    second = run_graph([x], out, d, train=True)
    assert not torch.equal(first, second)


def test_random_flip_is_per_sample():
    torch.manual_seed(0)
    d = _data(n=32)
    _, got = _run(eddl.RandomHorizontalFlip, d, train=True)
    flipped = [torch.equal(got[i], d[i].flip(-1)) for i in range(32)]
    kept = [torch.equal(got[i], d[i]) for i in range(32)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 5 < sum(flipped) < 27


def test_random_crop():
    torch.manual_seed(0)
    d = _data(n=8)
    out, got = _run(lambda x: eddl.RandomCrop(x, [5, 6]), d, train=True)
    assert out.output_shape == (2, 5, 6) and got.shape == (8, 2, 5, 6)
    offsets = set()
    for i in range(8):
        hits = [
            (t, l)
            for t in range(4)
            for l in range(3)
            if torch.equal(got[i], d[i, :, t : t + 5, l : l + 6])
        ]
        assert hits, "each sample is a window of its own image"
        offsets.add(hits[0])
    assert len(offsets) > 1
    _, ev = _run(lambda x: eddl.RandomCrop(x, [5, 6]), d, train=False)
    np.testing.assert_array_equal(ev.numpy(), d.numpy()[:, :, 1:6, 1:7])  # centered in eval
    with pytest.raises(ShapeError, match="does not fit"):
        eddl.RandomCrop(eddl.Input(list(SHAPE)), [9, 2])


def test_degenerate_ranges_match_deterministic_layers():
    d = _data()
    a = d.numpy()
    _, got = _run(lambda x: eddl.RandomRotation(x, [90.0, 90.0]), d, train=True)
    np.testing.assert_array_equal(got.numpy(), np.rot90(a, 1, axes=(2, 3)))
    _, got = _run(
        lambda x: eddl.RandomShift(x, [0.25, 0.25], [-0.125, -0.125], "constant"), d, True
    )
    _, ref = _run(lambda x: eddl.Shift(x, [-1, 2], "constant"), d)
    np.testing.assert_array_equal(got.numpy(), ref.numpy())
    _, got = _run(lambda x: eddl.RandomScale(x, [1.0, 1.0]), d, train=True)
    np.testing.assert_array_equal(got.numpy(), a)
    _, got = _run(lambda x: eddl.RandomScale(x, [2.0, 2.0]), d, train=True)
    idx = 2 + np.arange(8) // 2  # a x2 zoom on the centre shows rows/cols 2..5 twice each
    np.testing.assert_array_equal(got.numpy(), a[:, :, idx][:, :, :, idx])
    _, got = _run(lambda x: eddl.RandomCropScale(x, [1.0, 1.0]), d, train=True)
    np.testing.assert_array_equal(got.numpy(), a)


def test_random_cutout_box_size():
    torch.manual_seed(0)
    d = torch.rand(6, *SHAPE) + 1.0
    _, got = _run(lambda x: eddl.RandomCutout(x, [0.5, 0.5], [0.25, 0.25], 0.0), d, train=True)
    zeros = (got == 0).sum(dim=(1, 2, 3))
    assert torch.all(zeros == 2 * 4 * 2)  # C * (0.5 * 8) * (0.25 * 8)
    with pytest.raises(ValueError, match="factor_x"):
        eddl.RandomCutout(eddl.Input(list(SHAPE)), [0.5, 1.5], [0.1, 0.2])
