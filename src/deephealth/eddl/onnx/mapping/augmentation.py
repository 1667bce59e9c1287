"""ONNX mapping of in-graph augmentation and of nearest-neighbour resampling.

Random augmentations are the identity at inference (RandomCrop: its centered crop). Deterministic
ones that move pixels without blending (Flip, Crop, CropScale, Cutout, Rotate, Shift, RandomCrop in
eval, nearest Resize) are written exactly as one Gather over the flattened (H*W) plane: the index
map is computed by running the layer's own torch module once on an image of pixel numbers, and
pixels that fall outside read an extra padded column holding the layer's constant. The ONNX output
is therefore bit-identical to the library's forward.
"""

from __future__ import annotations

import numpy as np
import torch

from deephealth.eddl.layers.base import Layer
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.mapping.resize import resize_to_onnx
from deephealth.eddl.onnx.registry import exporter

_IDENTITY = (
    "RandomFlip",
    "RandomCropScale",
    "RandomCutout",
    "RandomRotation",
    "RandomShift",
    "RandomScale",
)
_GATHER = ("Flip", "Crop", "CropScale", "Cutout", "Rotate", "Shift", "RandomCrop")


def index_map(layer: Layer) -> tuple[np.ndarray, float]:
    """Flat source index per output pixel (H*W meaning "outside": the constant) and the constant.

    Raises:
        ValueError: when the layer's output is not a pure per-pixel copy of its input.
    """
    params = dict(layer.params)
    constant = float(params.get("constant", 0.0))
    if "constant" in params:
        params["constant"] = 0.0
    module = layer.spec.build(params, layer.input_shapes, layer.output_shape).eval()
    c, h, w = layer.input_shapes[0]
    plane = torch.arange(1, h * w + 1, dtype=torch.float32).reshape(1, 1, h, w)
    with torch.no_grad():
        out = module(plane.expand(1, c, h, w).contiguous())[0, 0]
    values = out.numpy().astype(np.int64)
    if not np.array_equal(values.astype(np.float32), out.numpy()) or values.min() < 0:
        raise ValueError(f"layer '{layer.name}' ({layer.kind}) is not a pixel gather")
    idx = np.where(values == 0, h * w, values - 1)
    return idx.reshape(-1), constant


def gather_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Reshape to (N, C, H*W), pad one constant column, Gather the index map, reshape back."""
    idx, constant = index_map(layer)
    flat = ctx.node(
        "Reshape",
        [inputs[0], ctx.ints(layer, "flat_shape", [0, 0, -1])],
        ctx.tmp(layer, "flat"),
        layer,
    )
    if (idx == layer.input_shapes[0][1] * layer.input_shapes[0][2]).any():
        pads = ctx.ints(layer, "pads", [0, 0, 0, 0, 0, 1])
        value = ctx.const(f"{layer.name}/value", np.float32(constant))
        flat = ctx.node(
            "Pad", [flat, pads, value], ctx.tmp(layer, "padded"), layer, mode="constant"
        )
    got = ctx.node(
        "Gather",
        [flat, ctx.ints(layer, "index_map", idx)],
        ctx.tmp(layer, "gathered"),
        layer,
        axis=2,
    )
    shape = ctx.ints(layer, "shape", [0, *layer.output_shape])
    ctx.node("Reshape", [got, shape], ctx.out(layer), layer)


exporter(*_GATHER)(gather_to_onnx)


@exporter(*_IDENTITY)
def random_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Training-only augmentation: the identity."""
    ctx.node("Identity", inputs, ctx.out(layer), layer)


@exporter("Resize")
def resize_any_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Nearest Resize of 2-D images as an exact Gather; linear (and 3-D) as an ONNX Resize."""
    if layer.params["interpolation"] == "nearest" and len(layer.input_shapes[0]) == 3:
        gather_to_onnx(ctx, layer, inputs)
    else:
        resize_to_onnx(ctx, layer, inputs)
