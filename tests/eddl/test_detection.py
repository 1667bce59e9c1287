"""The FCOS-style detector: targets, losses, torch NMS vs onnxruntime's NonMaxSuppression, and the
exported model with post-processing vs the torch path."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl.training.detection_losses import giou_loss
from deephealth.eddl.training.losses import getLoss
from deephealth.eddl.zoo.detection import FCOS
from deephealth.eddl.zoo.detection.decode import decode_fcos, fcos_boxes, nms
from deephealth.eddl.zoo.detection.onnx_nms import add_detection_postprocess
from deephealth.eddl.zoo.detection.targets import encode_fcos


def _ort_nms(boxes, scores, iou, score, k):
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("NonMaxSuppression", ["b", "s", "k", "i", "t"], ["o"])],
        "nms",
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("k", TensorProto.INT64, None),
         helper.make_tensor_value_info("i", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("t", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("o", TensorProto.INT64, None)],
    )  # fmt: skip
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    yxyx = boxes[..., [1, 0, 3, 2]]
    return sess.run(None, {"b": yxyx, "s": scores, "k": np.array([k], np.int64),
                           "i": np.array([iou], np.float32), "t": np.array([score], np.float32)})[0]  # fmt: skip


@pytest.mark.parametrize("seed", range(8))
def test_torch_nms_equals_onnxruntime(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, c, m = 2, 3, 60
    xy = rng.uniform(0, 50, (n, m, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 25, (n, m, 2))], -1).astype(np.float32)
    scores = (rng.integers(0, 20, (n, c, m)) / 20).astype(np.float32)  # many ties
    iou, thr, k = [0.3, 0.5, 0.7][seed % 3], 0.2, [5, 100][seed % 2]
    got = nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou, thr, k).numpy()
    np.testing.assert_array_equal(got, _ort_nms(boxes, scores, iou, thr, k))


def test_targets_mark_each_box_centre_and_its_distances() -> None:
    t = encode_fcos([[8, 8, 24, 40], [40, 40, 44, 44]], [0, 1], (64, 64), 2, stride=4)
    assert t.shape == (7, 16, 16)
    pos = t[-1] > 0
    assert t[0, 6, 4] == 1 and t[1, 10, 10] == 1  # centres (16, 24) and (42, 42)
    np.testing.assert_allclose(t[2:6, 6, 4] * 4, [18 - 8, 26 - 8, 24 - 18, 40 - 26])
    assert pos.sum() == (t[:2].sum(0) > 0).sum()
    # decoding the targets' own distances at the positives gives back the boxes
    boxes, _ = fcos_boxes(torch.from_numpy(t[None]), 2, 4)
    got = boxes[0][torch.from_numpy(pos.reshape(-1))].numpy()
    assert {tuple(b) for b in got.round(3)} == {(8, 8, 24, 40), (40, 40, 44, 44)}


def test_losses() -> None:
    a = torch.tensor([[0.0, 0, 2, 2]])
    assert float(giou_loss(a, a)[0]) == pytest.approx(0)
    far = torch.tensor([[4.0, 0, 6, 2]])  # IoU 0, hull 12, union 8: GIoU = -1/3
    assert float(giou_loss(a, far)[0]) == pytest.approx(1 + 1 / 3)
    t = torch.from_numpy(encode_fcos([[8, 8, 24, 40]], [0], (32, 48), 1, stride=4)[None])
    good = t.clone()
    good[:, 0] = torch.where(t[:, 0] > 0, 10.0, -10.0)
    ctr = t[:, -1].clamp(1e-4, 1 - 1e-4)
    good[:, -1] = torch.log(ctr) - torch.log1p(-ctr)  # the centerness target's own logit
    bad = torch.zeros_like(t)
    loss = getLoss("fcos")
    # what remains of a perfect prediction is the entropy of the soft centerness targets
    p = t[:, -1][t[:, -1] > 0]
    entropy = float(-(p * p.log() + (1 - p) * (1 - p).log()).mean())
    assert float(loss(good, t)) == pytest.approx(entropy, abs=0.01)
    assert float(loss(bad, t)) > entropy + 1.0
    with pytest.raises(ValueError, match="fcos"):
        loss(torch.zeros(1, 6, 4, 4), torch.zeros(1, 6, 4, 5))


def test_exported_detector_returns_the_torch_path_boxes(tmp_path) -> None:
    torch.manual_seed(0)
    net = FCOS((1, 64, 64), 2, filters=(8, 16, 32), fpn_filters=16, stride=4)
    eddl.build(net, eddl.adam(1e-3), ["fcos"], [], eddl.CS_CPU())
    x = np.random.default_rng(0).random((3, 1, 64, 64), dtype=np.float32)
    net.graph.eval()
    with torch.no_grad():
        raw = net.graph(torch.from_numpy(x))[0]
    want = decode_fcos(raw, 2, 4, 0.5, 0.3, 20)
    assert len(want["scores"]) > 0
    model = onnx.load_from_string(eddl.serialize_net_to_onnx_string(net))
    model = add_detection_postprocess(model, 2, 4, 0.5, 0.3, 20)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    boxes, scores, labels, image = sess.run(None, {sess.get_inputs()[0].name: x})
    np.testing.assert_array_equal(image, want["image"].numpy())
    np.testing.assert_array_equal(labels, want["labels"].numpy())
    np.testing.assert_allclose(scores, want["scores"].numpy(), atol=1e-5)
    np.testing.assert_allclose(boxes, want["boxes"].numpy(), atol=1e-3)
