"""ONNX mapping of UpSampling and Resize (ONNX Resize), and import of Resize/Upsample nodes.

Torch's nearest mode is ONNX's asymmetric/floor, nearest-exact its half_pixel/round_prefer_ceil,
and linear without corner alignment its pytorch_half_pixel. Output sizes are passed as `sizes`
built from the input's (N, C) and the target spatial size, so they are exact. (2-D nearest Resize
layers are exported as an exact Gather by `augmentation.py`.)
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from deephealth.eddl.layers.base import Layer
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.foreign import ImportContext
from deephealth.eddl.onnx.registry import exporter, op_importer


def _resize_attrs(interpolation: str, ctm: str) -> dict:
    if interpolation == "nearest":
        if ctm == "asymmetric":
            return {
                "mode": "nearest",
                "coordinate_transformation_mode": "asymmetric",
                "nearest_mode": "floor",
            }
        return {
            "mode": "nearest",
            "coordinate_transformation_mode": "half_pixel",
            "nearest_mode": "round_prefer_ceil",
        }
    return {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"}


@exporter("UpSampling")
def upsampling_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Resize by integer scales (exact output sizes)."""
    scales = ctx.const(f"{layer.name}/scales", np.array([1, 1, *layer.params["size"]], np.float32))
    attrs = _resize_attrs(layer.params["interpolation"], "asymmetric")
    ctx.node("Resize", [inputs[0], "", scales], ctx.out(layer), layer, **attrs)


def resize_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Resize to (N, C, *new_shape); without `reshape`, centered Slice/Pad back to the input."""
    p = layer.params
    head = ctx.node("Shape", [inputs[0]], ctx.tmp(layer, "shape"), layer, start=0, end=2)
    sizes = ctx.node(
        "Concat",
        [head, ctx.ints(layer, "new_shape", p["new_shape"])],
        ctx.tmp(layer, "sizes"),
        layer,
        axis=0,
    )
    attrs = _resize_attrs(p["interpolation"], p["coordinate_transformation_mode"])
    if p["reshape"]:
        ctx.node("Resize", [inputs[0], "", "", sizes], ctx.out(layer), layer, **attrs)
        return
    y = ctx.node("Resize", [inputs[0], "", "", sizes], ctx.tmp(layer, "resized"), layer, **attrs)
    keep = layer.input_shapes[0][1:]
    diffs = [want - cur for cur, want in zip(p["new_shape"], keep)]
    crops = [(-d // 2, -d - (-d // 2)) if d < 0 else (0, 0) for d in diffs]
    if any(a or b for a, b in crops):
        starts = [a for a, _ in crops]
        ends = [n - b for n, (_, b) in zip(p["new_shape"], crops)]
        axes = list(range(2, 2 + len(keep)))
        y = ctx.node(
            "Slice",
            [
                y,
                ctx.ints(layer, "starts", starts),
                ctx.ints(layer, "ends", ends),
                ctx.ints(layer, "axes", axes),
            ],
            ctx.tmp(layer, "crop"),
            layer,
        )
    pads = [(d // 2, d - d // 2) if d > 0 else (0, 0) for d in diffs]
    onnx_pads = [0, 0] + [a for a, _ in pads] + [0, 0] + [b for _, b in pads]
    value = ctx.const(f"{layer.name}/value", np.float32(p["constant"]))
    ctx.node(
        "Pad",
        [y, ctx.ints(layer, "pads", onnx_pads), value],
        ctx.out(layer),
        layer,
        mode="constant",
    )


@op_importer("Resize", "Upsample")
def resize_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Nearest (asymmetric/floor or half_pixel) and linear (half_pixel) resizing of spatial axes."""
    parent = ictx.layer(node)
    shape = parent.output_shape
    a = ictx.attrs(node)
    mode = a.get("mode", "nearest")
    if node.op_type == "Upsample":
        scales, sizes, ctm, nearest = ictx.const(node, 1, "scales"), None, "asymmetric", "floor"
    else:
        scales = ictx.const(node, 2, "scales")
        sizes = ictx.const(node, 3, "sizes")
        ctm = a.get("coordinate_transformation_mode", "half_pixel")
        nearest = a.get("nearest_mode", "round_prefer_floor")
    if sizes is not None and sizes.size:
        out = [int(s) for s in sizes.tolist()[2:]]
        if sizes.tolist()[1] != shape[0]:
            raise ictx.error(node, "resizing the channel axis is not supported")
    elif scales is not None and scales.size:
        if scales.tolist()[:2] != [1.0, 1.0]:
            raise ictx.error(node, f"scales {scales.tolist()} resize the batch or channel axis")
        out = [int(math.floor(n * s)) for n, s in zip(shape[1:], scales.tolist()[2:])]
    else:
        raise ictx.error(node, "neither scales nor sizes is given")
    if mode == "nearest" and ctm == "asymmetric" and nearest == "floor":
        our_ctm, interp = "asymmetric", "nearest"
    elif mode == "nearest" and ctm == "half_pixel" and nearest == "round_prefer_ceil":
        our_ctm, interp = "half_pixel", "nearest"
    elif mode == "linear" and ctm in ("half_pixel", "pytorch_half_pixel"):
        our_ctm, interp = "half_pixel", "linear"
    else:
        raise ictx.error(node, f"mode {mode} with {ctm} / {nearest} is not supported")
    factors = [o // n for o, n in zip(out, shape[1:])]
    if (
        our_ctm == "asymmetric"
        and all(f * n == o for f, n, o in zip(factors, shape[1:], out))
        and len(out) == 2
    ):
        ictx.add("UpSampling", [parent], {"size": factors, "interpolation": interp}, node)
        return
    params = {
        "new_shape": out,
        "reshape": True,
        "constant": 0.0,
        "coordinate_transformation_mode": our_ctm,
        "interpolation": interp,
    }
    ictx.add("Resize", [parent], params, node)
