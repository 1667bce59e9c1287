"""Sliding-window inference: coverage, exact blending, padding and errors."""

import numpy as np
import pytest
from scipy import ndimage

from deephealth.pipelines.sliding_window import (
    blend_weights,
    sliding_window_inference,
    window_starts,
)


def test_window_starts_cover_axis():
    assert window_starts(100, 32, 0.5) == [0, 16, 32, 48, 64, 68]
    assert window_starts(64, 32, 0.0) == [0, 32]
    assert window_starts(20, 32, 0.5) == [0]


@pytest.mark.parametrize("blend", ["gaussian", "constant"])
def test_identity_is_reproduced_2d_and_3d(blend):
    rng = np.random.default_rng(0)
    for shape, win in [((2, 70, 50), (32, 32)), ((1, 20, 33, 17), (16, 16, 16))]:
        img = rng.random(shape).astype(np.float32)
        out = sliding_window_inference(img, win, lambda b: b, overlap=0.5, blend=blend)
        np.testing.assert_allclose(out, img, rtol=1e-5, atol=1e-6)


def test_local_filter_matches_whole_image_away_from_window_borders():
    """A 3x3 mean filter per window agrees with the whole-image filter where windows agree."""
    rng = np.random.default_rng(1)
    img = rng.random((1, 96, 96)).astype(np.float32)
    full = ndimage.uniform_filter(img[0], 3, mode="constant")

    def predict(batch):
        return np.stack([ndimage.uniform_filter(b, (1, 3, 3), mode="constant") for b in batch])

    out = sliding_window_inference(img, (32, 32), predict, overlap=0.5, blend="gaussian")
    # Gaussian weights make window borders (where the per-window filter is wrong) count little.
    err = np.abs(out[0] - full)[1:-1, 1:-1]
    assert err.mean() < 0.01 and out.shape == (1, 96, 96)


def test_predictions_are_weighted_averages():
    img = np.zeros((1, 48, 48), np.float32)
    calls = []

    def predict(batch):
        calls.append(len(batch))
        return np.ones((len(batch), 3, 32, 32), np.float32) * np.arange(3)[None, :, None, None]

    out = sliding_window_inference(img, (32, 32), predict, overlap=0.5, batch_size=3)
    assert out.shape == (3, 48, 48)
    np.testing.assert_allclose(out, np.ones_like(out) * np.arange(3)[:, None, None], rtol=1e-6)
    assert calls == [3, 1]  # 2x2 windows in batches of 3


def test_blend_weights():
    w = blend_weights((9, 9))
    assert w[4, 4] == pytest.approx(1.0) and w[0, 0] < w[0, 4] < w[4, 4]
    assert np.all(blend_weights((4, 5), "constant") == 1)
    with pytest.raises(ValueError, match="unknown blend"):
        blend_weights((4, 4), "median")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"window": (32,)}, "does not fit"),
        ({"window": (32, 32), "overlap": 1.0}, "overlap"),
        ({"window": (32, 32), "predict": lambda b: b[:, :, :16]}, "predict returned shape"),
    ],
)
def test_errors(kwargs, match):
    args = {"image": np.zeros((1, 40, 40)), "predict": lambda b: b, **kwargs}
    with pytest.raises(ValueError, match=match):
        sliding_window_inference(**args)
