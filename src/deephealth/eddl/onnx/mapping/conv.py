"""ONNX mapping of the convolutions: Conv1D/2D/3D (Conv) and ConvT2D/3D (ConvTranspose).

Export writes explicit (possibly asymmetric) `pads`, so "same" padding needs no extra Pad node.
Import turns symmetric pads into explicit padding, asymmetric ones that equal EDDL's "same" split
into "same", and refuses the rest; `auto_pad` SAME_UPPER is "same", VALID is "valid".
"""

from __future__ import annotations

import onnx

from deephealth.eddl.layers._util import window_padding
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.layers.conv import _convt_geometry
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.foreign import ImportContext
from deephealth.eddl.onnx.registry import exporter, op_importer


def _weights(ctx: ExportContext, layer: Layer) -> list[str]:
    names = [ctx.weight(layer, "weight")]
    if layer.params["use_bias"]:
        names.append(ctx.weight(layer, "bias"))
    return names


def _common(params: dict) -> dict:
    return {
        "kernel_shape": params["kernel_size"],
        "strides": params["strides"],
        "dilations": params["dilation_rate"],
        "group": params["groups"],
    }


@exporter("Conv1D", "Conv2D", "Conv3D")
def conv_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Conv with the layer's padding written as explicit begin/end pads."""
    p = layer.params
    spatial = layer.input_shapes[0][1:]
    pads = window_padding(p["padding"], spatial, p["kernel_size"], p["strides"], p["dilation_rate"])
    onnx_pads = [a for a, _ in pads] + [b for _, b in pads]
    ctx.node(
        "Conv", inputs + _weights(ctx, layer), ctx.out(layer), layer, pads=onnx_pads, **_common(p)
    )


def convt_pads(params: dict, spatial: tuple) -> tuple[list[int], list[int]]:
    """ONNX (pads, output_padding) of a transposed convolution; a crop at the end of each axis
    becomes extra end padding."""
    pad, out_pad, out = _convt_geometry(params, spatial)
    natural = [
        (n - 1) * s - 2 * q + (k - 1) * d + op + 1
        for n, s, q, k, d, op in zip(
            spatial, params["strides"], pad, params["kernel_size"], params["dilation_rate"], out_pad
        )
    ]
    ends = [q + (nat - o) for q, nat, o in zip(pad, natural, out)]
    return pad + ends, out_pad


@exporter("ConvT2D", "ConvT3D")
def convt_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """ConvTranspose with explicit pads and output_padding."""
    p = layer.params
    pads, out_pad = convt_pads(p, layer.input_shapes[0][1:])
    ctx.node(
        "ConvTranspose",
        inputs + _weights(ctx, layer),
        ctx.out(layer),
        layer,
        pads=pads,
        output_padding=out_pad,
        **_common(p),
    )


def _padding(
    ictx: ImportContext,
    node: onnx.NodeProto,
    attrs: dict,
    spatial: tuple,
    kernel: list,
    strides: list,
    dilations: list,
) -> str | list[int]:
    """The layer padding for ONNX `pads` / `auto_pad`."""
    nd = len(kernel)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return "valid"
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        same = window_padding("same", spatial, kernel, strides, dilations)
        if auto == "SAME_LOWER" and any(a != b for a, b in same):
            raise ictx.error(node, "auto_pad SAME_LOWER with an odd total padding is not supported")
        return "same"
    pads = list(attrs.get("pads", [0] * 2 * nd))
    begins, ends = pads[:nd], pads[nd:]
    if begins == ends:
        return "valid" if not any(begins) else begins
    same = window_padding("same", spatial, kernel, strides, dilations)
    if [list(x) for x in same] == [list(x) for x in zip(begins, ends)]:
        return "same"
    raise ictx.error(node, f"asymmetric pads {pads} are not supported")


@op_importer("Conv")
def conv_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """A Conv1D/2D/3D layer (grouped and depthwise included)."""
    parent = ictx.layer(node)
    w = ictx.const(node, 1, "the weight")
    b = ictx.const(node, 2, "the bias")
    nd = w.ndim - 2
    if nd not in (1, 2, 3):
        raise ictx.error(node, f"{nd}-D convolutions are not supported")
    a = ictx.attrs(node)
    kernel = list(a.get("kernel_shape", w.shape[2:]))
    strides = list(a.get("strides", [1] * nd))
    dilations = list(a.get("dilations", [1] * nd))
    group = int(a.get("group", 1))
    spatial = parent.output_shape[1:]
    params = {
        "filters": int(w.shape[0]),
        "kernel_size": kernel,
        "strides": strides,
        "padding": _padding(ictx, node, a, spatial, kernel, strides, dilations),
        "use_bias": b is not None,
        "groups": group,
        "dilation_rate": dilations,
    }
    weights = {"weight": w} | ({"bias": b} if b is not None else {})
    ictx.add(f"Conv{nd}D", [parent], params, node, weights)


@op_importer("ConvTranspose")
def convt_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """A ConvT2D/3D layer whose padding ("valid", "same" or symmetric) gives the node's pads."""
    parent = ictx.layer(node)
    w = ictx.const(node, 1, "the weight")
    b = ictx.const(node, 2, "the bias")
    nd = w.ndim - 2
    if nd not in (2, 3):
        raise ictx.error(node, f"{nd}-D transposed convolutions are not supported")
    a = ictx.attrs(node)
    if "output_shape" in a or a.get("auto_pad", "NOTSET") != "NOTSET":
        raise ictx.error(node, "output_shape and auto_pad are not supported")
    pads = list(a.get("pads", [0] * 2 * nd))
    out_pad = list(a.get("output_padding", [0] * nd))
    group = int(a.get("group", 1))
    params = {
        "filters": int(w.shape[1]) * group,
        "kernel_size": list(a.get("kernel_shape", w.shape[2:])),
        "strides": list(a.get("strides", [1] * nd)),
        "padding": "valid",
        "use_bias": b is not None,
        "groups": group,
        "dilation_rate": list(a.get("dilations", [1] * nd)),
    }
    spatial = parent.output_shape[1:]
    candidates = ["valid", "same"] + ([pads[:nd]] if pads[:nd] == pads[nd:] else [])
    for padding in candidates:
        if convt_pads(params | {"padding": padding}, spatial) == (pads, out_pad):
            params["padding"] = padding
            break
    else:
        raise ictx.error(node, f"pads {pads} with output_padding {out_pad} are not supported")
    weights = {"weight": w} | ({"bias": b} if b is not None else {})
    ictx.add(f"ConvT{nd}D", [parent], params, node, weights)
