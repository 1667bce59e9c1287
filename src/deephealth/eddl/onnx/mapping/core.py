"""ONNX mapping of the core layers: Dense (Gemm, or MatMul + Add above 2-D); Gemm/MatMul import."""

from __future__ import annotations

import numpy as np
import onnx

from deephealth.eddl.layers.base import Layer
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.foreign import ImportContext
from deephealth.eddl.onnx.registry import exporter, op_importer


@exporter("Input")
def input_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Inputs are graph inputs; nothing to write."""


@exporter("Dense")
def dense_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Gemm(x, W, b, transB=1) for (N, in) inputs; MatMul(x, W^T) (+ b) for higher ranks."""
    weight = ctx.weight(layer, "weight")
    bias = ctx.weight(layer, "bias") if layer.params["use_bias"] else None
    if len(layer.input_shapes[0]) == 1:
        args = [inputs[0], weight] + ([bias] if bias else [])
        ctx.node("Gemm", args, ctx.out(layer), layer, transB=1)
        return
    wt = ctx.node("Transpose", [weight], ctx.tmp(layer, "weight_t"), layer, perm=[1, 0])
    if bias is None:
        ctx.node("MatMul", [inputs[0], wt], ctx.out(layer), layer)
        return
    mm = ctx.node("MatMul", [inputs[0], wt], ctx.tmp(layer, "matmul"), layer)
    ctx.node("Add", [mm, bias], ctx.out(layer), layer)


def _dense(
    ictx: ImportContext,
    node: onnx.NodeProto,
    weight: np.ndarray,
    bias: np.ndarray | None,
    output: str | None = None,
) -> None:
    """A Dense layer with `weight` as (out, in) and an optional bias of `out` values."""
    parent = ictx.layer(node, 0)
    if bias is not None:
        if bias.size != weight.shape[0] and bias.size == 1:
            bias = np.broadcast_to(bias.reshape(-1), (weight.shape[0],))
        if bias.size != weight.shape[0]:
            raise ictx.error(
                node, f"bias of shape {bias.shape} does not fit {weight.shape[0]} units"
            )
        bias = bias.reshape(-1)
    params = {"ndim": int(weight.shape[0]), "use_bias": bias is not None}
    weights = {"weight": weight} | ({"bias": bias} if bias is not None else {})
    ictx.add("Dense", [parent], params, node, weights, output)


@op_importer("Gemm")
def gemm_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Gemm(x, B, C) with constant B, C: a Dense layer (alpha, beta folded into the weights)."""
    a = ictx.attrs(node)
    if a.get("transA", 0):
        raise ictx.error(node, "transA=1 (transposed data input) is not supported")
    w = ictx.const(node, 1, "the weight B")
    c = ictx.const(node, 2, "the bias C")
    w = w * np.float32(a.get("alpha", 1.0))
    w = w if a.get("transB", 0) else w.T
    if c is not None:
        c = c * np.float32(a.get("beta", 1.0))
    if len(ictx.layer(node).output_shape) != 1:
        raise ictx.error(node, "Gemm takes a 2-D input (batch, features)")
    _dense(ictx, node, w, c)


@op_importer("MatMul")
def matmul_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """MatMul(x, W) with a constant 2-D W: a Dense layer (a following Add of a bias is fused);
    of two data inputs: a MatMul layer."""
    if not ictx.is_const(node.input[0]) and not ictx.is_const(node.input[1]):
        ictx.add("MatMul", [ictx.layer(node, 0), ictx.layer(node, 1)], {}, node)
        return
    w = ictx.const(node, 1, "the weight matrix")
    if w.ndim != 2:
        raise ictx.error(node, f"the weight matrix must be 2-D, got shape {w.shape}")
    nxt = ictx.sole_consumer(node.output[0])
    if nxt is not None and nxt.op_type == "Add":
        other = [n for n in nxt.input if n != node.output[0]]
        if len(other) == 1 and ictx.is_const(other[0]):
            bias = ictx.consts[other[0]]
            if bias.size in (1, w.shape[1]) and int(np.prod(bias.shape[:-1])) == 1:
                ictx.fused.add(nxt.output[0])
                _dense(ictx, node, w.T, bias.reshape(-1), nxt.output[0])
                return
    _dense(ictx, node, w.T, None)
