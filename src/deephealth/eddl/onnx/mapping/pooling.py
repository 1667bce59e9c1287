"""ONNX mapping of pooling: MaxPool/AveragePool 1-3D (explicit pads) and the global pools."""

from __future__ import annotations

import onnx

from deephealth.eddl.layers._util import window_padding
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.foreign import ImportContext
from deephealth.eddl.onnx.mapping.conv import _padding
from deephealth.eddl.onnx.registry import exporter, op_importer

_WINDOW = {
    f"{name}{nd}D": op
    for nd in (1, 2, 3)
    for name, op in (("MaxPool", "MaxPool"), ("AveragePool", "AveragePool"))
}
_GLOBAL = {
    f"Global{name}{nd}D": f"Global{name}" for nd in (1, 2, 3) for name in ("MaxPool", "AveragePool")
}


@exporter(*_WINDOW)
def pool_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """MaxPool / AveragePool (padding excluded from averages, as the layer does)."""
    p = layer.params
    pads = window_padding(p["padding"], layer.input_shapes[0][1:], p["pool_size"], p["strides"])
    attrs = {
        "kernel_shape": p["pool_size"],
        "strides": p["strides"],
        "pads": [a for a, _ in pads] + [b for _, b in pads],
    }
    op = _WINDOW[layer.kind]
    if op == "AveragePool":
        attrs["count_include_pad"] = 0
    ctx.node(op, inputs, ctx.out(layer), layer, **attrs)


@exporter(*_GLOBAL)
def global_pool_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """GlobalMaxPool / GlobalAveragePool (spatial axes kept as size 1)."""
    ctx.node(_GLOBAL[layer.kind], inputs, ctx.out(layer), layer)


@op_importer("MaxPool", "AveragePool")
def pool_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """A pooling layer; ceil_mode, dilations and averages counting padding are refused."""
    parent = ictx.layer(node)
    a = ictx.attrs(node)
    kernel = list(a["kernel_shape"])
    nd = len(kernel)
    strides = list(a.get("strides", [1] * nd))
    if a.get("ceil_mode", 0) or any(d != 1 for d in a.get("dilations", [])):
        raise ictx.error(node, "ceil_mode and dilations are not supported")
    if len(node.output) > 1 and node.output[1]:
        raise ictx.error(node, "the Indices output is not supported")
    padding = _padding(ictx, node, a, parent.output_shape[1:], kernel, strides, [1] * nd)
    if node.op_type == "AveragePool" and a.get("count_include_pad", 0) and padding != "valid":
        raise ictx.error(node, "count_include_pad=1 with padding is not supported")
    params = {"pool_size": kernel, "strides": strides, "padding": padding}
    ictx.add(f"{node.op_type}{nd}D", [parent], params, node)


@op_importer("GlobalMaxPool", "GlobalAveragePool")
def global_pool_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """A global pooling layer of the input's dimensionality."""
    parent = ictx.layer(node)
    nd = len(parent.output_shape) - 1
    if nd not in (1, 2, 3):
        raise ictx.error(node, f"global pooling of a {nd}-D input is not supported")
    ictx.add(f"{node.op_type}{nd}D", [parent], {}, node)
