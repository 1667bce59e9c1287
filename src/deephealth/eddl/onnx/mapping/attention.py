"""ONNX mapping of the attention layers, written with standard ops (exact at any opset >= 13).

MultiHeadAttention: per projection MatMul(x, W^T) + b; heads split by Reshape + Transpose;
queries scaled (Mul), scores MatMul(q, k^T) (+ the constant causal mask), Softmax over the keys,
MatMul with the values, heads merged (Transpose + Reshape), output projection.
PositionalEmbedding: Add(x, table). Both import back exactly through our metadata; as foreign
graphs they read through the op table (the constant-table Add is refused clearly there).
"""

from __future__ import annotations

import numpy as np

from deephealth.eddl.layers.attention import causal_mask
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.registry import exporter


def _linear(ctx: ExportContext, layer: Layer, x: str, proj: str) -> str:
    """x @ W^T (+ b) of the `proj` nn.Linear of the layer's module."""
    wt = ctx.node(
        "Transpose", [ctx.weight(layer, f"{proj}.weight")], ctx.tmp(layer, f"{proj}_wt"), layer,
        perm=[1, 0],
    )  # fmt: skip
    out = ctx.node("MatMul", [x, wt], ctx.tmp(layer, f"{proj}_matmul"), layer)
    if layer.params["use_bias"]:
        bias = ctx.weight(layer, f"{proj}.bias")
        out = ctx.node("Add", [out, bias], ctx.tmp(layer, proj), layer)
    return out


@exporter("MultiHeadAttention")
def attention_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """The attention written out op by op (see the module doc)."""
    p = layer.params
    heads, embed = p["num_heads"], p["embed_dim"]
    head = embed // heads
    tq = layer.input_shapes[0][0]
    tk = layer.input_shapes[1][0] if len(inputs) > 1 else tq
    key = inputs[1] if len(inputs) > 1 else inputs[0]
    value = inputs[2] if len(inputs) > 2 else key

    def split(x: str, t: int, proj: str, perm: list[int]) -> str:
        shape = ctx.ints(layer, f"{proj}_heads_shape", [0, t, heads, head])
        x = ctx.node("Reshape", [x, shape], ctx.tmp(layer, f"{proj}_heads"), layer)
        return ctx.node("Transpose", [x], ctx.tmp(layer, f"{proj}_t"), layer, perm=perm)

    q = split(_linear(ctx, layer, inputs[0], "q"), tq, "q", [0, 2, 1, 3])
    scale = ctx.const(f"{layer.name}/scale", np.float32(1.0 / np.sqrt(head)))
    q = ctx.node("Mul", [q, scale], ctx.tmp(layer, "q_scaled"), layer)
    k = split(_linear(ctx, layer, key, "k"), tk, "k", [0, 2, 3, 1])
    v = split(_linear(ctx, layer, value, "v"), tk, "v", [0, 2, 1, 3])
    scores = ctx.node("MatMul", [q, k], ctx.tmp(layer, "scores"), layer)
    if p["causal"]:
        mask = ctx.const(f"{layer.name}/causal_mask", causal_mask(tq, tk).numpy())
        scores = ctx.node("Add", [scores, mask], ctx.tmp(layer, "masked"), layer)
    weights = ctx.node("Softmax", [scores], ctx.tmp(layer, "weights"), layer, axis=-1)
    out = ctx.node("MatMul", [weights, v], ctx.tmp(layer, "context"), layer)
    out = ctx.node("Transpose", [out], ctx.tmp(layer, "context_t"), layer, perm=[0, 2, 1, 3])
    merged = ctx.ints(layer, "merged_shape", [0, tq, embed])
    out = ctx.node("Reshape", [out, merged], ctx.tmp(layer, "merged"), layer)
    wt = ctx.node(
        "Transpose", [ctx.weight(layer, "o.weight")], ctx.tmp(layer, "o_wt"), layer, perm=[1, 0]
    )
    if not p["use_bias"]:
        ctx.node("MatMul", [out, wt], ctx.out(layer), layer)
        return
    mm = ctx.node("MatMul", [out, wt], ctx.tmp(layer, "o_matmul"), layer)
    ctx.node("Add", [mm, ctx.weight(layer, "o.bias")], ctx.out(layer), layer)


@exporter("PositionalEmbedding")
def positional_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Add(x, the learned (T, E) table)."""
    ctx.node("Add", [inputs[0], ctx.weight(layer, "weight")], ctx.out(layer), layer)
