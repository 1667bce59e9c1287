"""The 3D detector's ONNX file with its peak finding: final detections of a patch in the graph.

`add_peak_postprocess` appends to an exported `CenterNet3D` the decoding of
`serving.detection3d.decode_centres` in ONNX operators: sigmoid of the heat-map logits, local
maxima as equality with a 3×3×3 `MaxPool` (stride 1, padded), the threshold, `TopK` over classes
and locations (ties by lower index, as the numpy decoding's stable sort), class and location
from the flat index (`Div`, `Mod`), the location's voxel centre (or, for a network with the
offset head, the offsets gathered at it), and the diameter gathered at it.
Outputs, per patch of the batch: ``centres`` (N, K, 3) z, y, x in patch voxels, ``diameters``
(N, K) in voxels, ``scores`` (N, K; 0 for an unused slot: not a peak or below the threshold) and
``labels`` (N, K) int64. Sliding windows over a whole volume and the merging of the windows'
detections run in numpy (`serving.detection3d.detect_volume_session`), with onnxruntime only.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from deephealth.serving.detection3d import PEAKS_KEY

if TYPE_CHECKING:
    from deephealth.eddl.model import Model


def _const(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))


def _offset_nodes(offsets: bool, m: int) -> list[onnx.NodeProto]:
    """``pk_at``: 0.5 (the location's middle), or the offsets (N, 3, d, h, w) gathered at the
    peaks' locations ``pk_loc`` as (N, K, 3)."""
    if not offsets:
        return [_const("pk_at", np.array(0.5, np.float32))]
    return [
        _const("pk_offs_flat", np.array([0, 3, m], np.int64)),
        helper.make_node("Reshape", ["pk_offs", "pk_offs_flat"], ["pk_offs3"]),  # (N, 3, M)
        _const("pk_axis1", np.array([1], np.int64)),
        helper.make_node("Unsqueeze", ["pk_loc", "pk_axis1"], ["pk_loc1"]),  # (N, 1, K)
        _const("pk_three", np.array([1, 3, 1], np.int64)),
        helper.make_node("Expand", ["pk_loc1", "pk_three"], ["pk_loc3"]),  # (N, 3, K)
        helper.make_node("GatherElements", ["pk_offs3", "pk_loc3"], ["pk_off"], axis=2),
        helper.make_node("Transpose", ["pk_off"], ["pk_at"], perm=[0, 2, 1]),  # (N, K, 3)
    ]


def add_peak_postprocess(
    model: onnx.ModelProto,
    num_classes: int,
    stride: int,
    threshold: float = 0.1,
    top_k: int = 50,
    overlap: float = 0.25,
) -> onnx.ModelProto:
    """The model with peak finding appended (see the module docstring)."""
    out = model.graph.output[0]
    channels = out.type.tensor_type.shape.dim[1].dim_value
    d, h, w = (dim.dim_value for dim in out.type.tensor_type.shape.dim[2:5])
    c, m = int(num_classes), d * h * w
    offsets = channels == c + 4  # CenterNet3D(offsets=True): the centre within its location
    k = min(int(top_k), c * m)
    raw = out.name
    i64 = np.int64
    nodes = [
        _const("pk_split", np.array([c, 1, 3] if offsets else [c, 1], i64)),
        helper.make_node(
            "Split", [raw, "pk_split"], ["pk_logits", "pk_size"] + ["pk_offs"] * offsets, axis=1
        ),
        helper.make_node("Sigmoid", ["pk_logits"], ["pk_heat"]),  # (N, C, d, h, w)
        helper.make_node(
            "MaxPool",
            ["pk_heat"],
            ["pk_pool"],
            kernel_shape=[3, 3, 3],
            pads=[1, 1, 1, 1, 1, 1],
            strides=[1, 1, 1],
        ),  # fmt: skip
        helper.make_node("Equal", ["pk_heat", "pk_pool"], ["pk_is_max"]),
        _const("pk_thr", np.array(threshold, np.float32)),
        helper.make_node("Greater", ["pk_heat", "pk_thr"], ["pk_above"]),
        helper.make_node("And", ["pk_is_max", "pk_above"], ["pk_peak"]),
        helper.make_node("Cast", ["pk_peak"], ["pk_peakf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["pk_heat", "pk_peakf"], ["pk_peak_heat"]),
        _const("pk_flat", np.array([0, c * m], i64)),
        helper.make_node("Reshape", ["pk_peak_heat", "pk_flat"], ["pk_heat_flat"]),
        _const("pk_k", np.array([k], i64)),
        helper.make_node(
            "TopK", ["pk_heat_flat", "pk_k"], ["scores", "pk_index"], axis=1, largest=1, sorted=1
        ),  # fmt: skip
        _const("pk_m", np.array(m, i64)),
        helper.make_node("Div", ["pk_index", "pk_m"], ["labels"]),
        helper.make_node("Mod", ["pk_index", "pk_m"], ["pk_loc"]),
        _const("pk_hw", np.array(h * w, i64)),
        _const("pk_w", np.array(w, i64)),
        _const("pk_h", np.array(h, i64)),
        helper.make_node("Div", ["pk_loc", "pk_hw"], ["pk_z"]),
        helper.make_node("Div", ["pk_loc", "pk_w"], ["pk_zy"]),
        helper.make_node("Mod", ["pk_zy", "pk_h"], ["pk_y"]),
        helper.make_node("Mod", ["pk_loc", "pk_w"], ["pk_x"]),
        _const("pk_axis", np.array([2], i64)),
        helper.make_node("Unsqueeze", ["pk_z", "pk_axis"], ["pk_z1"]),
        helper.make_node("Unsqueeze", ["pk_y", "pk_axis"], ["pk_y1"]),
        helper.make_node("Unsqueeze", ["pk_x", "pk_axis"], ["pk_x1"]),
        helper.make_node("Concat", ["pk_z1", "pk_y1", "pk_x1"], ["pk_zyx"], axis=2),
        helper.make_node("Cast", ["pk_zyx"], ["pk_zyxf"], to=TensorProto.FLOAT),
        _const("pk_stride", np.array(float(stride), np.float32)),
        *_offset_nodes(offsets, m),  # pk_at: the centre's place within its location
        helper.make_node("Add", ["pk_zyxf", "pk_at"], ["pk_mid"]),
        helper.make_node("Mul", ["pk_mid", "pk_stride"], ["centres"]),  # (N, K, 3)
        _const("pk_size_flat", np.array([0, m], i64)),
        helper.make_node("Reshape", ["pk_size", "pk_size_flat"], ["pk_sizes"]),  # (N, M)
        helper.make_node("GatherElements", ["pk_sizes", "pk_loc"], ["pk_diam"], axis=1),
        helper.make_node("Mul", ["pk_diam", "pk_stride"], ["diameters"]),  # (N, K)
    ]
    graph = model.graph
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info("centres", TensorProto.FLOAT, ["N", k, 3]),
        helper.make_tensor_value_info("diameters", TensorProto.FLOAT, ["N", k]),
        helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", k]),
        helper.make_tensor_value_info("labels", TensorProto.INT64, ["N", k]),
    ])  # fmt: skip
    # no longer the stored layer graph: serve it, don't re-import it
    kept = [(p.key, p.value) for p in model.metadata_props if p.key.startswith("deephealth.pre")]
    del model.metadata_props[:]
    for key, value in kept:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    meta = model.metadata_props.add()
    meta.key = PEAKS_KEY
    meta.value = json.dumps({
        "num_classes": c, "stride": int(stride), "threshold": float(threshold), "top_k": k,
        "overlap": float(overlap),
    })  # fmt: skip
    onnx.checker.check_model(model, full_check=True)
    return model


def save_detector3d(
    net: Model,
    path: str | os.PathLike[str],
    num_classes: int,
    stride: int,
    threshold: float = 0.1,
    top_k: int = 50,
    overlap: float = 0.25,
) -> None:
    """Write the trained `CenterNet3D` as ONNX with its peak finding (final detections)."""
    import deephealth.eddl as eddl

    model = onnx.load_from_string(eddl.serialize_net_to_onnx_string(net))
    model = add_peak_postprocess(model, num_classes, stride, threshold, top_k, overlap)
    onnx.save(model, os.fspath(path))
