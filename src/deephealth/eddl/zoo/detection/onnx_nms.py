"""The detector's ONNX file with its post-processing: final boxes, scores and labels.

`add_detection_postprocess` appends to an exported FCOS-style model the decoding of
`decode.fcos_boxes` (sigmoid scores, distances to corner boxes on the location grid) and ONNX
`NonMaxSuppression`, then gathers the kept detections. The result has four outputs:
``boxes`` (K, 4) corner boxes [x0, y0, x1, y1] in input pixels, ``scores`` (K,), ``labels``
(K,) int64 and ``image`` (K,) int64 (the index of the image in the batch), ordered by image,
class and decreasing score, as `decode.decode_fcos` returns them. It runs in onnxruntime alone;
the thresholds are stored in the graph (`save_detector` writes them in the file's metadata too).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

if TYPE_CHECKING:
    from deephealth.eddl.model import Model

POSTPROCESS_KEY = "deephealth.detection"


def _const(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))


def add_detection_postprocess(
    model: onnx.ModelProto,
    num_classes: int,
    stride: int,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.05,
    max_per_class: int = 100,
) -> onnx.ModelProto:
    """The model with decoding and non-maximum suppression appended (see the module docstring)."""
    out = model.graph.output[0]
    dims = [d.dim_value for d in out.type.tensor_type.shape.dim]
    h, w = dims[2], dims[3]
    c = int(num_classes)
    m = h * w
    ys, xs = np.meshgrid((np.arange(h) + 0.5) * stride, (np.arange(w) + 0.5) * stride,
                         indexing="ij")  # fmt: skip
    raw = out.name
    nodes = [
        _const("pp_shape", np.array([0, c + 5, m], np.int64)),
        helper.make_node("Reshape", [raw, "pp_shape"], ["pp_flat"]),
        _const("pp_split", np.array([c, 4, 1], np.int64)),
        helper.make_node("Split", ["pp_flat", "pp_split"], ["pp_cls", "pp_dist", "pp_ctr"], axis=1),
        helper.make_node("Sigmoid", ["pp_cls"], ["pp_pcls"]),
        helper.make_node("Sigmoid", ["pp_ctr"], ["pp_pctr"]),
        helper.make_node("Mul", ["pp_pcls", "pp_pctr"], ["pp_prod"]),
        helper.make_node("Sqrt", ["pp_prod"], ["pp_scores"]),  # (N, C, M)
        _const("pp_stride", np.array(stride, np.float32)),
        helper.make_node("Mul", ["pp_dist", "pp_stride"], ["pp_d"]),  # (N, 4, M)
        _const("pp_sign", np.array([[-1], [-1], [1], [1]], np.float32)),
        helper.make_node("Mul", ["pp_d", "pp_sign"], ["pp_sd"]),
        _const("pp_grid", np.stack([xs, ys, xs, ys]).reshape(1, 4, m).astype(np.float32)),
        helper.make_node("Add", ["pp_grid", "pp_sd"], ["pp_xyxy"]),  # (N, 4, M) x0 y0 x1 y1
        helper.make_node("Transpose", ["pp_xyxy"], ["pp_boxes"], perm=[0, 2, 1]),  # (N, M, 4)
        _const("pp_yxyx", np.array([1, 0, 3, 2], np.int64)),
        helper.make_node("Gather", ["pp_boxes", "pp_yxyx"], ["pp_nms_boxes"], axis=2),
        _const("pp_max", np.array([max_per_class], np.int64)),
        _const("pp_iou", np.array([iou_threshold], np.float32)),
        _const("pp_score", np.array([score_threshold], np.float32)),
        helper.make_node(
            "NonMaxSuppression",
            ["pp_nms_boxes", "pp_scores", "pp_max", "pp_iou", "pp_score"],
            ["pp_sel"],
            center_point_box=0,
        ),  # (K, 3): image, class, box
        _const("pp_i0", np.array(0, np.int64)),
        _const("pp_i1", np.array(1, np.int64)),
        helper.make_node("Gather", ["pp_sel", "pp_i0"], ["image"], axis=1),
        helper.make_node("Gather", ["pp_sel", "pp_i1"], ["labels"], axis=1),
        _const("pp_box_cols", np.array([0, 2], np.int64)),
        helper.make_node("Gather", ["pp_sel", "pp_box_cols"], ["pp_img_box"], axis=1),
        helper.make_node("GatherND", ["pp_boxes", "pp_img_box"], ["boxes"]),
        helper.make_node("GatherND", ["pp_scores", "pp_sel"], ["scores"]),
    ]
    graph = model.graph
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["detections", 4]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["detections"]),
        helper.make_tensor_value_info("labels", TensorProto.INT64, ["detections"]),
        helper.make_tensor_value_info("image", TensorProto.INT64, ["detections"]),
    ])  # fmt: skip
    del model.metadata_props[:]  # no longer the stored layer graph: serve it, don't re-import it
    meta = model.metadata_props.add()
    meta.key = POSTPROCESS_KEY
    meta.value = (
        f'{{"num_classes": {c}, "stride": {stride}, "iou_threshold": {iou_threshold}, '
        f'"score_threshold": {score_threshold}, "max_per_class": {max_per_class}}}'
    )
    onnx.checker.check_model(model, full_check=True)
    return model


def save_detector(
    net: Model,
    path: str | os.PathLike,
    num_classes: int,
    stride: int,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.05,
    max_per_class: int = 100,
) -> None:
    """Write the trained detector `net` as ONNX with its post-processing (final boxes)."""
    import deephealth.eddl as eddl

    model = onnx.load_from_string(eddl.serialize_net_to_onnx_string(net))
    model = add_detection_postprocess(
        model, num_classes, stride, iou_threshold, score_threshold, max_per_class
    )
    onnx.save(model, os.fspath(path))
