"""ONNX mapping of the repeating layers (Repeat, Tile, Expand, Broadcast) and the auxiliary ones
(ConstOfTensor, GaussGenerator, UniformGenerator, Shape, Where, Bypass, Transform).

Repeat is a Gather at constant indices; Tile, Expand and Broadcast are a Tile (Broadcast after a
Reshape inserting its size-1 axes). Sources take the batch size from the graph's first input
(`Shape(x)[:1]`) and Expand their value to it; the generators are RandomNormalLike /
RandomUniformLike of that shape. Foreign Tile, Expand (of a layer, same rank), Where and the
random-like ops import back to these kinds.
"""

from __future__ import annotations

import numpy as np
import onnx

from deephealth.eddl.layers.base import Layer
from deephealth.eddl.layers.tiling import broadcast_plan, expand_repeats, repeat_counts
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.foreign import BATCH, ImportContext
from deephealth.eddl.onnx.registry import exporter, op_importer

# ---- export ---------------------------------------------------------------------------------


@exporter("Repeat")
def repeat_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Gather along the axis at each index repeated its count."""
    axis, counts = repeat_counts(layer.params, layer.input_shapes[0])
    idx = np.repeat(np.arange(len(counts)), counts)
    ctx.node(
        "Gather", [inputs[0], ctx.ints(layer, "indices", idx)], ctx.out(layer), layer, axis=axis + 1
    )


def _tile(ctx: ExportContext, layer: Layer, x: str, repeats: list[int]) -> None:
    ctx.node("Tile", [x, ctx.ints(layer, "repeats", [1, *repeats])], ctx.out(layer), layer)


@exporter("Tile", "Expand")
def tile_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Tile with the batch repeated once."""
    shape = layer.input_shapes[0]
    reps = layer.params["repeats"] if layer.kind == "Tile" else expand_repeats(layer.params, shape)
    _tile(ctx, layer, inputs[0], list(reps))


@exporter("Broadcast")
def broadcast_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Reshape the smaller parent to its place in the bigger one's axes, then Tile."""
    small, view, reps = broadcast_plan(layer.input_shapes)
    x = inputs[small]
    if tuple(view) != tuple(layer.input_shapes[small]):
        shape = ctx.ints(layer, "view", [0, *view])
        x = ctx.node("Reshape", [x, shape], ctx.tmp(layer, "view"), layer)
    _tile(ctx, layer, x, reps)


@exporter("Where")
def where_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Where(condition != 0, parent1, parent2); the condition cast to bool."""
    a, b, cond = inputs
    mask = ctx.node("Cast", [cond], ctx.tmp(layer, "mask"), layer, to=onnx.TensorProto.BOOL)
    ctx.node("Where", [mask, a, b], ctx.out(layer), layer)


@exporter("Bypass")
def bypass_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Identity."""
    ctx.node("Identity", inputs, ctx.out(layer), layer)


@exporter("Transform")
def transform_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Zero channels appended (a Pad of axis 1)."""
    rank = len(layer.input_shapes[0]) + 1
    extra = layer.output_shape[0] - layer.input_shapes[0][0]
    pads = [0] * rank + [0, extra] + [0] * (rank - 2)
    ctx.node("Pad", [inputs[0], ctx.ints(layer, "pads", pads)], ctx.out(layer), layer)


def _batch_shape(ctx: ExportContext, layer: Layer, ref: str, shape: list[int]) -> str:
    """int64 [N, *shape] with N the batch size of `ref`."""
    n = ctx.node("Shape", [ref], ctx.tmp(layer, "batch"), layer, end=1)
    dims = ctx.ints(layer, "dims", shape)
    return ctx.node("Concat", [n, dims], ctx.tmp(layer, "shape"), layer, axis=0)


@exporter("ConstOfTensor")
def const_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """The stored value Expanded to (N, *shape)."""
    target = _batch_shape(ctx, layer, inputs[0], list(layer.output_shape))
    ctx.node("Expand", [ctx.weight(layer, "value"), target], ctx.out(layer), layer)


@exporter("GaussGenerator", "UniformGenerator")
def generator_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """RandomNormalLike / RandomUniformLike of zeros of shape (N, *shape); a zero spread is the
    constant Expanded (onnxruntime aborts on a zero scale)."""
    target = _batch_shape(ctx, layer, inputs[0], list(layer.output_shape))
    p = layer.params
    fixed = p["stdev"] <= 0 if layer.kind == "GaussGenerator" else p["high"] <= p["low"]
    if fixed:
        value = p["mean"] if layer.kind == "GaussGenerator" else p["low"]
        k = ctx.const(f"{layer.name}/value", np.full(1, value, np.float32))
        ctx.node("Expand", [k, target], ctx.out(layer), layer)
        return
    zero = ctx.const(f"{layer.name}/zero", np.zeros(1, np.float32))
    like = ctx.node("Expand", [zero, target], ctx.tmp(layer, "like"), layer)
    if layer.kind == "GaussGenerator":
        ctx.node(
            "RandomNormalLike", [like], ctx.out(layer), layer, mean=p["mean"], scale=p["stdev"]
        )
    else:
        ctx.node("RandomUniformLike", [like], ctx.out(layer), layer, low=p["low"], high=p["high"])


@exporter("Shape")
def shape_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Shape(x) (from axis 1 without the batch) as floats, one row per sample."""
    start = 0 if layer.params["include_batch"] else 1
    dims = ctx.node("Shape", [inputs[0]], ctx.tmp(layer, "dims"), layer, start=start)
    row = ctx.node("Cast", [dims], ctx.tmp(layer, "row"), layer, to=onnx.TensorProto.FLOAT)
    target = _batch_shape(ctx, layer, inputs[0], list(layer.output_shape))
    ctx.node("Expand", [row, target], ctx.out(layer), layer)


# ---- import ---------------------------------------------------------------------------------


def _required(ictx: ImportContext, node: onnx.NodeProto, index: int, what: str) -> np.ndarray:
    value = ictx.const(node, index, what)
    if value is None:
        raise ictx.error(node, f"{what} must be given")
    return value


@op_importer("Tile")
def tile_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Tile of a layer with the batch repeated once -> Tile."""
    reps = [int(r) for r in _required(ictx, node, 1, "repeats")]
    if reps[0] != 1:
        raise ictx.error(node, f"repeats {reps} repeat the batch axis")
    ictx.add("Tile", [ictx.layer(node)], {"repeats": reps[1:]}, node)


@op_importer("Expand")
def expand_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Expand of a layer to a shape of the same rank that keeps the batch -> Tile."""
    parent = ictx.layer(node)
    shape = list(parent.output_shape)
    target = [int(d) for d in _required(ictx, node, 1, "the target shape")]
    if len(target) != len(shape) + 1 or target[0] not in (1, BATCH):
        raise ictx.error(node, f"expanding (batch, {shape}) to {target} is not supported")
    if any(s not in (1, t) and t != 1 for s, t in zip(shape, target[1:])):
        raise ictx.error(node, f"shape {shape} does not expand to {target[1:]}")
    reps = [t if s == 1 else 1 for s, t in zip(shape, target[1:])]
    ictx.add("Tile", [parent], {"repeats": reps}, node)


@op_importer("Where")
def where_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Where(condition, X, Y) of three layers -> Where([X, Y, condition])."""
    layers = [ictx.layer(node, i) for i in (1, 2, 0)]
    ictx.add("Where", layers, {}, node)


@op_importer("RandomNormalLike", "RandomUniformLike")
def random_like_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Random values shaped like a layer -> a generator of that per-sample shape."""
    shape = list(ictx.layer(node).output_shape)
    a = ictx.attrs(node)
    if node.op_type == "RandomNormalLike":
        params = {"mean": float(a.get("mean", 0.0)), "stdev": float(a.get("scale", 1.0))}
        ictx.add("GaussGenerator", [], {**params, "shape": shape}, node)
    else:
        params = {"low": float(a.get("low", 0.0)), "high": float(a.get("high", 1.0))}
        ictx.add("UniformGenerator", [], {**params, "shape": shape}, node)
