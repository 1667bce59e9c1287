"""The 3D detector exported with its peak finding in the graph (`onnx_peaks`): per patch, the
ONNX outputs equal the numpy decoding of the network's maps, and sliding-window inference over a
volume in onnxruntime only (`serving.detection3d`) gives the torch path's detections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl.training.detection_losses import centernet, centernet_offsets
from deephealth.eddl.zoo.detection.centernet3d import (
    CenterNet3D,
    decode_centres,
    detect_volume,
    encode_centres,
    set_heat_prior,
)
from deephealth.eddl.zoo.detection.onnx_peaks import save_detector3d
from deephealth.serving import InferenceSession, ServingError
from deephealth.serving.detection3d import detect_volume as slide
from deephealth.serving.detection3d import (
    detect_volume_session,
    is_detector3d,
    merge_detections,
    peaks_of_outputs,
    settings,
)

PATCH = 16


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    torch.manual_seed(3)
    # with the offset head (the exported graph gathers the offsets; without it, the pipeline's
    # 3D smoke test and the server's detector compare the graph with the numpy decoding)
    net = CenterNet3D((1, PATCH, PATCH, PATCH), 2, (4, 8), fpn_filters=8, stride=2, offsets=True)
    eddl.build(net, eddl.adam(1e-3), ["centernet_offsets"], [], eddl.CS_CPU())
    set_heat_prior(net, 0.3)  # many peaks above the threshold from a random network
    path = tmp_path_factory.mktemp("det3d") / "det3d.onnx"
    save_detector3d(net, path, 2, 2, threshold=0.1, top_k=50, overlap=0.25)
    return net, path


def _torch(net: object):
    def forward(batch: np.ndarray) -> np.ndarray:
        return np.asarray(eddl.predict(net, [batch])[0])

    return forward


def test_peaks_in_the_graph_equal_the_numpy_decoding(exported: tuple) -> None:
    net, path = exported
    session = InferenceSession(path)
    assert is_detector3d(session) and session.output_names[:4] == [
        "centres", "diameters", "scores", "labels"
    ]  # fmt: skip
    s = settings(session)
    assert s["patch"] == [PATCH] * 3 and s["num_classes"] == 2 and s["top_k"] == 50
    x = np.random.default_rng(0).normal(size=(3, 1, PATCH, PATCH, PATCH)).astype(np.float32)
    ref = decode_centres(_torch(net)(x), 2, 2, threshold=0.1, top_k=50)
    out = session.run_named(x)
    assert out["centres"].shape == (3, 50, 3) and out["labels"].dtype == np.int64
    got = peaks_of_outputs([out[k] for k in ("centres", "diameters", "scores", "labels")], 0.1)
    for a, b in zip(ref, got):
        assert len(a["scores"]) > 5 and len(a["scores"]) == len(b["scores"])
        np.testing.assert_array_equal(a["labels"], b["labels"])
        np.testing.assert_allclose(a["centres"], b["centres"], atol=1e-5)
        np.testing.assert_allclose(a["scores"], b["scores"], atol=1e-5)
        np.testing.assert_allclose(a["diameters"], b["diameters"], rtol=1e-4, atol=1e-5)


def test_sliding_windows_in_onnxruntime_equal_the_torch_path(exported: tuple) -> None:
    net, path = exported
    session = InferenceSession(path)
    volume = np.random.default_rng(1).normal(size=(1, 24, 30, 20)).astype(np.float32)
    ref = detect_volume(volume, _torch(net), (PATCH,) * 3, 2, 2, overlap=0.25, threshold=0.1)
    got = detect_volume_session(session, volume)
    # the exported model's outputs through the pipeline's entry point give the same again
    via = detect_volume(volume, lambda b: session.run(b), (PATCH,) * 3, 2, 2, 0.25, 0.1)
    assert len(ref["scores"]) > 5
    for other in (got, via):
        assert len(other["scores"]) == len(ref["scores"])
        np.testing.assert_array_equal(other["labels"], ref["labels"])
        np.testing.assert_allclose(other["centres"], ref["centres"], atol=1e-4)
        np.testing.assert_allclose(other["scores"], ref["scores"], atol=1e-5)
        np.testing.assert_allclose(other["boxes"], ref["boxes"], rtol=1e-4, atol=1e-4)
    assert np.all(ref["centres"] < [24, 30, 20])  # merged detections lie inside the volume
    with pytest.raises(ServingError, match="takes one volume"):
        detect_volume_session(session, volume[0])


def test_merging_keeps_a_nodule_split_over_windows_once() -> None:
    # a 28 mm nodule seen by two windows, each placing its centre a little differently
    det = {
        "centres": np.array([[30.0, 30, 30], [31.5, 29, 30.5], [60, 60, 60]]),
        "diameters": np.array([28.0, 26, 6]), "scores": np.array([0.6, 0.9, 0.5]),
        "labels": np.zeros(3, np.int64),
    }  # fmt: skip
    merged = merge_detections(det)
    np.testing.assert_allclose(merged["scores"], [0.9, 0.5])


def test_offset_head_finds_centres_between_locations_in_numpy_and_onnx(exported: tuple) -> None:
    """With the offset head, target maps decode back to the exact centres (not the locations'
    middles), and the exported graph gathers the offsets as the numpy decoding does."""
    centres, diameters = np.array([[5.3, 7.9, 3.1], [11.0, 2.2, 12.6]]), np.array([3.0, 5.0])
    t = encode_centres(centres, diameters, [0, 1], (PATCH,) * 3, 2, 2, offsets=True)
    assert t.shape == (6, 8, 8, 8)
    np.testing.assert_allclose(t[3:, 2, 3, 1], [0.65, 0.95, 0.55], atol=1e-6)
    logits = np.log(np.clip(t[:2], 1e-6, 1 - 1e-6) / (1 - np.clip(t[:2], 1e-6, 1 - 1e-6)))
    back = decode_centres(np.concatenate([logits, t[2:]])[None], 2, 2, threshold=0.5)[0]
    order = np.argsort(back["labels"])
    np.testing.assert_allclose(back["centres"][order], centres, atol=1e-5)
    np.testing.assert_allclose(back["diameters"][order], diameters, atol=1e-5)
    # the loss: centernet's on the heat and diameter + the L1 of the offsets at the centres
    y = torch.randn(2, 6, 8, 8, 8)
    tt = torch.from_numpy(np.stack([t, t]))
    at = (tt[:, :2] >= 1).any(dim=1)
    l1 = (y[:, 3:].movedim(1, -1)[at] - tt[:, 3:].movedim(1, -1)[at]).abs().sum() / 4
    torch.testing.assert_close(centernet_offsets(y, tt), centernet(y[:, :3], tt[:, :3]) + l1)
    with pytest.raises(ValueError, match="classes \\+ 4"):
        centernet_offsets(y[:, :4], tt[:, :4])
    net, path = exported
    x = np.random.default_rng(2).normal(size=(2, 1, PATCH, PATCH, PATCH)).astype(np.float32)
    ref = decode_centres(_torch(net)(x), 2, 2, threshold=0.1, top_k=20)
    out = InferenceSession(path).run_named(x)
    got = peaks_of_outputs([out[k] for k in ("centres", "diameters", "scores", "labels")], 0.1)
    for a, b in zip(ref, got):
        assert len(a["scores"]) > 5
        np.testing.assert_array_equal(a["labels"], b["labels"][: len(a["labels"])])
        np.testing.assert_allclose(a["centres"], b["centres"][: len(a["labels"])], atol=1e-5)
        assert np.abs(a["centres"] / 2 - 0.5 - np.round(a["centres"] / 2 - 0.5)).max() > 1e-3


def test_windows_vote_on_each_merged_detection() -> None:
    """Two windows (z 0-15 and 8-23) hold A (z 12, found by both: 0.8 and 0.6) and B (z 10,
    found by the first only: 0.6); C (z 3) lies in the first window only (0.5). The merged
    scores are the windows' mean: A 0.7, B 0.3, C 0.5; without the vote, the best window's."""

    def windows(batch: np.ndarray) -> list[dict[str, np.ndarray]]:
        out = []
        for patch in batch:
            first = patch[0, 0, 0, 0] == 0  # the first window starts at z 0 (voxel value = z)
            zs, scores = ([12.0, 10, 3], [0.8, 0.6, 0.5]) if first else ([4.0], [0.6])
            out.append({
                "centres": np.array([[z, 8, 8] for z in zs]), "diameters": np.full(len(zs), 2.0),
                "scores": np.array(scores), "labels": np.zeros(len(zs), np.int64),
            })  # fmt: skip
        return out

    volume = np.broadcast_to(np.arange(24.0)[None, :, None, None], (1, 24, 16, 16))
    voted = slide(volume, windows, (16, 16, 16), overlap=0.5)
    np.testing.assert_allclose(voted["centres"][:, 0], [12, 3, 10])
    np.testing.assert_allclose(voted["scores"], [0.7, 0.5, 0.3])
    best = slide(volume, windows, (16, 16, 16), overlap=0.5, vote=False)
    np.testing.assert_allclose(best["scores"], [0.8, 0.6, 0.5])
