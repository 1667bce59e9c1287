"""ONNX mapping of the shape layers: identity-at-inference (Dropout, GaussianNoise), Flatten,
Reshape/Squeeze/Unsqueeze, Permute/Transpose, Select, Embedding and Pad (resizing: `resize.py`).

Reshapes are written with a `0` for the batch axis (copied from the input), so the batch stays
dynamic. Foreign Reshape/Flatten/Squeeze/Unsqueeze all become a `Reshape` layer to the folded
per-sample shape; ops that would move or merge the batch axis are refused.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from deephealth.eddl.layers.base import Layer
from deephealth.eddl.layers.shape import _bounds, _pad_lrtb
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.foreign import BATCH, ImportContext
from deephealth.eddl.onnx.registry import exporter, op_importer

# ---- export ---------------------------------------------------------------------------------


@exporter("Dropout", "GaussianNoise")
def identity_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Training-only layers are the identity at inference."""
    ctx.node("Identity", inputs, ctx.out(layer), layer)


@exporter("Flatten")
def flatten_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Flatten(axis=1)."""
    ctx.node("Flatten", inputs, ctx.out(layer), layer, axis=1)


@exporter("Reshape", "Squeeze", "Unsqueeze")
def reshape_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Reshape to (batch, *output_shape)."""
    shape = ctx.ints(layer, "shape", [0, *layer.output_shape])
    ctx.node("Reshape", [inputs[0], shape], ctx.out(layer), layer)


@exporter("Permute", "Transpose")
def permute_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Transpose with the batch axis kept first."""
    n = len(layer.input_shapes[0])
    dims = layer.params["dims"] if layer.kind == "Permute" else [*range(n - 2), n - 1, n - 2]
    ctx.node("Transpose", inputs, ctx.out(layer), layer, perm=[0, *(d % n + 1 for d in dims)])


@exporter("Select")
def select_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Slice over every sample axis."""
    bounds = _bounds(layer.params, layer.input_shapes[0])
    starts = ctx.ints(layer, "starts", [a for a, _ in bounds])
    ends = ctx.ints(layer, "ends", [b for _, b in bounds])
    axes = ctx.ints(layer, "axes", list(range(1, len(bounds) + 1)))
    ctx.node("Slice", [inputs[0], starts, ends, axes], ctx.out(layer), layer)


@exporter("Embedding")
def embedding_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Gather rows of the table at the (float-coded) indices, a trailing size-1 axis dropped."""
    x = inputs[0]
    shape = layer.input_shapes[0]
    if len(shape) >= 1 and shape[-1] == 1:
        x = ctx.node(
            "Reshape",
            [x, ctx.ints(layer, "shape", [0, *shape[:-1]])],
            ctx.tmp(layer, "squeezed"),
            layer,
        )
    idx = ctx.node("Cast", [x], ctx.tmp(layer, "indices"), layer, to=onnx.TensorProto.INT64)
    ctx.node("Gather", [ctx.weight(layer, "weight"), idx], ctx.out(layer), layer, axis=0)


@exporter("Pad")
def pad_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Constant Pad of the last two axes."""
    left, right, top, bottom = _pad_lrtb(layer.params["padding"])
    lead = len(layer.input_shapes[0]) - 1  # batch + axes before (H, W)
    pads = [0] * lead + [top, left] + [0] * lead + [bottom, right]
    value = ctx.const(f"{layer.name}/value", np.float32(layer.params["constant"]))
    ctx.node(
        "Pad",
        [inputs[0], ctx.ints(layer, "pads", pads), value],
        ctx.out(layer),
        layer,
        mode="constant",
    )


# ---- import ---------------------------------------------------------------------------------


def _reshape_layer(ictx: ImportContext, node: onnx.NodeProto, target: list[int]) -> None:
    parent = ictx.layer(node)
    if list(target) == list(parent.output_shape):
        ictx.layers[node.output[0]] = parent
        return
    if len(target) == 1:
        ictx.add("Flatten", [parent], {}, node)
        return
    ictx.add("Reshape", [parent], {"shape": [int(d) for d in target]}, node)


@op_importer("Flatten")
def flatten_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Flatten(axis=1) -> Flatten; other axes that keep the batch first -> Reshape."""
    shape = ictx.layer(node).output_shape
    axis = int(ictx.attrs(node).get("axis", 1)) % (len(shape) + 1)
    if axis == 0:
        raise ictx.error(node, "Flatten(axis=0) merges the batch axis")
    target = [math.prod(shape[: axis - 1]), math.prod(shape[axis - 1 :])]
    _reshape_layer(ictx, node, target if axis > 1 else [math.prod(shape)])


@op_importer("Reshape")
def reshape_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Reshape with a folded target shape whose first entry is the batch (or -1 / 0)."""
    shape = ictx.layer(node).output_shape
    target = [int(d) for d in ictx.const(node, 1, "the target shape")]
    n = math.prod(shape)
    full = [BATCH, *shape]
    allowzero = ictx.attrs(node).get("allowzero", 0)
    target = [full[i] if d == 0 and not allowzero else d for i, d in enumerate(target)]
    if not target:
        raise ictx.error(node, "reshape to a scalar drops the batch axis")
    head, rest = target[0], target[1:]
    if head == -1 and -1 not in rest and math.prod(rest) == n:
        head = BATCH
    if head != BATCH:
        raise ictx.error(node, f"target shape {target} does not keep the batch axis first")
    if rest.count(-1) == 1:
        known = math.prod(d for d in rest if d != -1)
        rest[rest.index(-1)] = n // known if known else 0
    if math.prod(rest) != n:
        raise ictx.error(node, f"cannot reshape {list(shape)} to {rest}")
    _reshape_layer(ictx, node, rest)


def _axes(ictx: ImportContext, node: onnx.NodeProto) -> list[int]:
    axes = ictx.attrs(node).get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = ictx.const(node, 1, "axes").tolist()
    return [int(a) for a in (axes or [])]


@op_importer("Squeeze")
def squeeze_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Squeeze of non-batch axes -> Reshape."""
    shape = ictx.layer(node).output_shape
    rank = len(shape) + 1
    axes = {a % rank for a in _axes(ictx, node)} or {i + 1 for i, d in enumerate(shape) if d == 1}
    if 0 in axes or any(shape[a - 1] != 1 for a in axes):
        raise ictx.error(node, f"cannot squeeze axes {sorted(axes)} of (batch, {shape})")
    _reshape_layer(ictx, node, [d for i, d in enumerate(shape) if i + 1 not in axes] or [1])


@op_importer("Unsqueeze")
def unsqueeze_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Unsqueeze after the batch axis -> Reshape."""
    out = list(ictx.layer(node).output_shape)
    rank = len(out) + 1 + len(_axes(ictx, node))
    full: list[int | None] = [None] * rank
    for a in sorted(a % rank for a in _axes(ictx, node)):
        if a == 0:
            raise ictx.error(node, "unsqueezing before the batch axis is not supported")
        full[a] = 1
    it = iter(out)
    target = [d if d is not None else next(it) for d in full[1:]]
    _reshape_layer(ictx, node, target)


@op_importer("Transpose")
def transpose_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Transpose that keeps the batch first -> Permute."""
    shape = ictx.layer(node).output_shape
    perm = ictx.attrs(node).get("perm", list(range(len(shape), -1, -1)))
    if perm[0] != 0:
        raise ictx.error(node, f"perm {list(perm)} moves the batch axis")
    ictx.add("Permute", [ictx.layer(node)], {"dims": [p - 1 for p in perm[1:]]}, node)


def _slice_indices(shape: tuple, spans: dict[int, tuple[int, int]]) -> list[str]:
    return [f"{spans[i][0]}:{spans[i][1]}" if i in spans else ":" for i in range(len(shape))]


@op_importer("Slice")
def slice_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Slice of non-batch axes with step 1 -> Select."""
    parent = ictx.layer(node)
    shape = parent.output_shape
    rank = len(shape) + 1
    starts = ictx.const(node, 1, "starts").tolist()
    ends = ictx.const(node, 2, "ends").tolist()
    axes = ictx.const(node, 3, "axes")
    steps = ictx.const(node, 4, "steps")
    axes = list(range(len(starts))) if axes is None else axes.tolist()
    if steps is not None and any(s != 1 for s in steps.tolist()):
        raise ictx.error(node, f"steps {steps.tolist()} are not supported (only 1)")
    spans = {}
    for a, s, e in zip(axes, starts, ends):
        a %= rank
        if a == 0:
            if s == 0 and e >= BATCH:
                continue
            raise ictx.error(node, "slicing the batch axis is not supported")
        size = shape[a - 1]
        s = max(0, min(size, s + size if s < 0 else s))
        e = max(0, min(size, e + size if e < 0 else e))
        spans[a - 1] = (s, e)
    ictx.add("Select", [parent], {"indices": _slice_indices(shape, spans)}, node)


@op_importer("Split")
def split_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Split of a non-batch axis -> one Select per output."""
    parent = ictx.layer(node)
    shape = parent.output_shape
    axis = int(ictx.attrs(node).get("axis", 0)) % (len(shape) + 1)
    if axis == 0:
        raise ictx.error(node, "splitting the batch axis is not supported")
    sizes = ictx.attrs(node).get("split")
    if sizes is None and len(node.input) > 1 and node.input[1]:
        sizes = ictx.const(node, 1, "split").tolist()
    n = len(node.output)
    if sizes is None:
        chunk = -(-shape[axis - 1] // n)
        sizes = [min(chunk, shape[axis - 1] - k * chunk) for k in range(n)]
    start = 0
    for out, size in zip(node.output, sizes):
        spans = {axis - 1: (start, start + int(size))}
        ictx.add("Select", [parent], {"indices": _slice_indices(shape, spans)}, node, output=out)
        start += int(size)


@op_importer("Pad")
def pad_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Constant, non-negative padding of the last two axes -> Pad."""
    parent = ictx.layer(node)
    rank = len(parent.output_shape) + 1
    a = ictx.attrs(node)
    if a.get("mode", "constant") != "constant":
        raise ictx.error(node, f"mode {a['mode']!r} is not supported (only constant)")
    pads = a.get("pads")
    if pads is None:
        pads = ictx.const(node, 1, "pads").tolist()
    value = ictx.const(node, 2, "constant_value")
    value = float(value.reshape(-1)[0]) if value is not None and value.size else a.get("value", 0.0)
    axes = ictx.const(node, 3, "axes")
    if axes is not None:
        full = [0] * (2 * rank)
        for i, ax in enumerate(axes.tolist()):
            full[ax % rank], full[ax % rank + rank] = pads[i], pads[i + len(axes)]
        pads = full
    begins, ends = pads[:rank], pads[rank:]
    if rank < 3 or any(begins[:-2]) or any(ends[:-2]) or min(pads) < 0:
        raise ictx.error(node, f"pads {pads} must be non-negative and on the last two axes only")
    top, left, bottom, right = begins[-2], begins[-1], ends[-2], ends[-1]
    params = {"padding": [top, right, bottom, left], "constant": float(value)}
    ictx.add("Pad", [parent], params, node)


@op_importer("Gather")
def gather_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Gather of data at constant indices: a view, turned into Select/Reshape layers when used;
    rows of a constant 2-D table at data indices (axis 0): an Embedding."""
    if ictx.is_const(node.input[0]):
        table = ictx.consts[node.input[0]]
        if table.ndim != 2 or int(ictx.attrs(node).get("axis", 0)) != 0:
            raise ictx.error(node, "only rows of a 2-D table can be gathered at data indices")
        parent = ictx.layer(node, 1)
        params = {
            "vocsize": int(table.shape[0]),
            "length": int(parent.output_shape[0]),
            "output_dim": int(table.shape[1]),
            "mask_zeros": False,
        }
        ictx.add("Embedding", [parent], params, node, {"weight": table})
        return
    indices = ictx.const(node, 1, "the indices")
    if _repeat_from_gather(ictx, node, indices):
        return
    ictx.view_op(node)


def _repeat_from_gather(ictx: ImportContext, node: onnx.NodeProto, indices: np.ndarray) -> bool:
    """Gather of a layer along a sample axis at each index in order, repeated -> Repeat."""
    name = node.input[0]
    if name not in ictx.layers or name in ictx.views or indices is None or indices.ndim != 1:
        return False
    shape = ictx.layers[name].output_shape
    axis = int(ictx.attrs(node).get("axis", 0)) % (len(shape) + 1)
    if axis == 0 or not indices.size:
        return False
    size = shape[axis - 1]
    idx = np.where(indices < 0, indices + size, indices)
    if np.any(np.diff(idx) < 0) or idx.min() < 0 or idx.max() >= size:
        return False
    if np.array_equal(idx, np.arange(size)):  # the identity: a view
        return False
    counts = np.bincount(idx, minlength=size).tolist()
    ictx.add("Repeat", [ictx.layers[name]], {"repeats": counts, "axis": axis - 1}, node)
    return True


@op_importer("Cast")
def cast_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Cast of data: layers compute in float32 and truncate indices themselves (Embedding), so a
    cast to a float or integer type is the identity; to bool it is refused."""
    to = int(ictx.attrs(node)["to"])
    if to == onnx.TensorProto.BOOL or to == onnx.TensorProto.STRING:
        raise ictx.error(node, f"a cast of data to {onnx.TensorProto.DataType.Name(to)}")
    ictx.layers[node.output[0]] = ictx.layer(node)
