"""ONNX mapping of the merge, operator and reduction layers.

Element-wise merges become Add/Sub/Mul/Div/Pow/Max/Min/Mean (n-ary where ONNX allows), `ScalarOp`
a binary op with a scalar constant, `Unary` its ONNX op (Log2/Log10 as Log times a constant),
`Clamp` a Clip, `Reduce` a ReduceX over the shifted axes (ArgMax cast back to float, as the layer).
Foreign binary ops with a scalar constant become `ScalarOp`; Clip becomes `Clamp`.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from deephealth.eddl.layers.base import Layer
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.foreign import ImportContext
from deephealth.eddl.onnx.registry import exporter, op_importer

_NARY = {"Add": "Sum", "Maximum": "Max", "Minimum": "Min", "Average": "Mean"}
_BINARY = {"Subtract": "Sub", "Mult": "Mul", "Div": "Div", "Pow": "Pow", "MatMul": "MatMul"}
_SCALAR = {
    "add": ("Add", False),
    "sub": ("Sub", False),
    "rsub": ("Sub", True),
    "mul": ("Mul", False),
    "div": ("Div", False),
    "rdiv": ("Div", True),
    "pow": ("Pow", False),
}
_UNARY = {"abs": "Abs", "exp": "Exp", "log": "Log", "sqrt": "Sqrt"}
_LOG_BASE = {"log2": 2.0, "log10": 10.0}
_REDUCE = {"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin"}


@exporter(*_NARY, *_BINARY, "Concat")
def merge_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """One n-ary or binary ONNX op over the parents (Concat on the shifted axis)."""
    if layer.kind == "Concat":
        rank = len(layer.input_shapes[0])
        axis = layer.params["axis"] % rank + 1
        ctx.node("Concat", inputs, ctx.out(layer), layer, axis=axis)
        return
    ctx.node(_NARY.get(layer.kind) or _BINARY[layer.kind], inputs, ctx.out(layer), layer)


@exporter("ScalarOp")
def scalar_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """x op k (or k op x) with k a float32 scalar initializer."""
    op, reverse = _SCALAR[layer.params["op"]]
    k = ctx.const(f"{layer.name}/value", np.float32(layer.params["value"]))
    args = [k, inputs[0]] if reverse else [inputs[0], k]
    ctx.node(op, args, ctx.out(layer), layer)


@exporter("Unary")
def unary_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Abs/Exp/Log/Sqrt; log2 and log10 as Log(x) / log(base)."""
    op = layer.params["op"]
    if op in _UNARY:
        ctx.node(_UNARY[op], inputs, ctx.out(layer), layer)
        return
    ln = ctx.node("Log", inputs, ctx.tmp(layer, "ln"), layer)
    k = ctx.const(f"{layer.name}/ln_base", np.float32(math.log(_LOG_BASE[op])))
    ctx.node("Div", [ln, k], ctx.out(layer), layer)


@exporter("Clamp")
def clamp_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Clip with min/max initializers."""
    lo = ctx.const(f"{layer.name}/min", np.float32(layer.params["min"]))
    hi = ctx.const(f"{layer.name}/max", np.float32(layer.params["max"]))
    ctx.node("Clip", [inputs[0], lo, hi], ctx.out(layer), layer)


@exporter("Reduce")
def reduce_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """ReduceX over the batch-shifted axes; var as ReduceMean of squared deviations."""
    p = layer.params
    rank = len(layer.input_shapes[0])
    axes = sorted({a % rank + 1 for a in p["axis"]})
    keep = int(bool(p["keepdims"]))
    if p["op"] == "argmax":
        idx = ctx.node(
            "ArgMax", inputs, ctx.tmp(layer, "argmax"), layer, axis=axes[0], keepdims=keep
        )
        ctx.node("Cast", [idx], ctx.out(layer), layer, to=onnx.TensorProto.FLOAT)
        return
    if p["op"] == "var":
        mean = _reduce(ctx, layer, "ReduceMean", inputs[0], axes, 1, ctx.tmp(layer, "mean"))
        dev = ctx.node("Sub", [inputs[0], mean], ctx.tmp(layer, "dev"), layer)
        sq = ctx.node("Mul", [dev, dev], ctx.tmp(layer, "sq"), layer)
        _reduce(ctx, layer, "ReduceMean", sq, axes, keep, ctx.out(layer))
        return
    _reduce(ctx, layer, _REDUCE[p["op"]], inputs[0], axes, keep, ctx.out(layer))


def _reduce(
    ctx: ExportContext, layer: Layer, op: str, x: str, axes: list[int], keep: int, out: str
) -> str:
    """A ReduceX node; axes as an attribute where the opset wants one (ReduceSum: input from 13)."""
    if op != "ReduceSum" and ctx.opset < 18:
        return ctx.node(op, [x], out, layer, axes=axes, keepdims=keep)
    return ctx.node(op, [x, ctx.ints(layer, "axes", axes)], out, layer, keepdims=keep)


# ---- import ---------------------------------------------------------------------------------

_FOREIGN_NARY = {"Sum": "Add", "Max": "Maximum", "Min": "Minimum", "Mean": "Average"}
_FOREIGN_BINARY = {
    "Add": ("Add", "add", "add"),
    "Sub": ("Subtract", "sub", "rsub"),
    "Mul": ("Mult", "mul", "mul"),
    "Div": ("Div", "div", "rdiv"),
    "Pow": ("Pow", "pow", None),
}


@op_importer(*_FOREIGN_BINARY)
def binary_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Two data inputs -> a merge layer; data and a scalar constant -> ScalarOp."""
    kind, op, rop = _FOREIGN_BINARY[node.op_type]
    a_const, b_const = (ictx.is_const(n) for n in node.input[:2])
    if not a_const and not b_const:
        ictx.add(kind, [ictx.layer(node, 0), ictx.layer(node, 1)], {}, node)
        return
    k = ictx.consts[node.input[0] if a_const else node.input[1]]
    if k.size != 1:
        raise ictx.error(node, f"a constant operand of shape {k.shape} (not a scalar)")
    chosen = rop if a_const else op
    if chosen is None:
        raise ictx.error(node, "a constant base with a data exponent is not supported")
    parent = ictx.layer(node, 1 if a_const else 0)
    ictx.add("ScalarOp", [parent], {"op": chosen, "value": float(k.reshape(-1)[0])}, node)


@op_importer(*_FOREIGN_NARY)
def nary_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Sum/Max/Min/Mean of data inputs -> Add/Maximum/Minimum/Average."""
    parents = [ictx.layer(node, i) for i in range(len(node.input))]
    if len(parents) == 1:
        ictx.layers[node.output[0]] = parents[0]
        return
    ictx.add(_FOREIGN_NARY[node.op_type], parents, {}, node)


@op_importer("Concat")
def concat_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Concat of data inputs along a non-batch axis."""
    parents = [ictx.layer(node, i) for i in range(len(node.input))]
    rank = len(parents[0].output_shape) + 1
    axis = int(ictx.attrs(node)["axis"]) % rank
    if axis == 0:
        raise ictx.error(node, "concatenation along the batch axis is not supported")
    ictx.add("Concat", parents, {"axis": axis - 1}, node)


@op_importer("Abs", "Log", "Sqrt")
def unary_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Unary element-wise op."""
    op = {v: k for k, v in _UNARY.items()}[node.op_type]
    ictx.add("Unary", [ictx.layer(node)], {"op": op}, node)


@op_importer("Clip")
def clip_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Clip (attributes before opset 11, constant inputs after) -> Clamp; ReLU6 is Clip(0, 6)."""
    a = ictx.attrs(node)
    lo = ictx.const(node, 1, "min")
    hi = ictx.const(node, 2, "max")
    lo = float(lo) if lo is not None else float(a.get("min", -np.inf))
    hi = float(hi) if hi is not None else float(a.get("max", np.inf))
    ictx.add("Clamp", [ictx.layer(node)], {"min": lo, "max": hi}, node)


@op_importer("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin")
def reduce_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Reduction over non-batch axes -> Reduce."""
    parent = ictx.layer(node)
    rank = len(parent.output_shape) + 1
    a = ictx.attrs(node)
    axes = a.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = ictx.const(node, 1, "axes").tolist()
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            ictx.layers[node.output[0]] = parent
            return
        raise ictx.error(node, "reducing every axis (the batch included) is not supported")
    axes = sorted({int(x) % rank for x in axes})
    if 0 in axes:
        raise ictx.error(node, "reducing the batch axis is not supported")
    op = {v: k for k, v in _REDUCE.items()}[node.op_type]
    params = {"op": op, "axis": [x - 1 for x in axes], "keepdims": bool(a.get("keepdims", 1))}
    ictx.add("Reduce", [parent], params, node)
