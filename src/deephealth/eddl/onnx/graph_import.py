"""Import of foreign ONNX graphs: fold shape computations, check every op, map nodes to layers.

The graph is walked in its (topological) order. A node whose inputs are all constants — weights,
`Constant`, and `Shape` of data (known statically, the batch size standing in as `BATCH`) — is
evaluated with ONNX's reference implementation and becomes a constant, so Shape/Gather/Concat/
Reshape chains, ConstantOfShape, Cast and the like disappear. Identity and Dropout are aliases.
Every other node goes to its op importer (`OP_IMPORTERS`). Before anything is built, the op types
without an importer are collected and reported together with their node names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx

from deephealth.eddl.layers.base import Layer, ShapeError
from deephealth.eddl.layers.core import Input
from deephealth.eddl.model import GraphError, Model
from deephealth.eddl.onnx.errors import OnnxImportError, UnsupportedOpsError
from deephealth.eddl.onnx.foreign import BATCH, ImportContext, run_node
from deephealth.eddl.onnx.limits import TensorLimitError
from deephealth.eddl.onnx.load import tensor_array
from deephealth.eddl.onnx.registry import OP_IMPORTERS
from deephealth.eddl.onnx.views import MOVEMENT_OPS, batch_axis

_ALIASES = {"Identity", "Dropout"}
_SHAPE_OPS = {"Shape", "Size"}


def _data_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    inits = {t.name for t in graph.initializer}
    return [i for i in graph.input if i.name not in inits]


def _constant_nodes(graph: onnx.GraphProto) -> set[str]:
    """First outputs of the nodes that fold to constants (data-independent values)."""
    const = {t.name for t in graph.initializer}
    folded = set()
    for node in graph.node:
        ins = [n for n in node.input if n]
        if node.op_type in _SHAPE_OPS or all(n in const for n in ins):
            const.update(o for o in node.output if o)
            folded.add(node.output[0])
    return folded


def unsupported_ops(graph: onnx.GraphProto) -> dict[str, list[str]]:
    """Op types (with their node names) that neither fold nor have an importer."""
    folded = _constant_nodes(graph)
    bad: dict[str, list[str]] = {}
    for node in graph.node:
        if node.output[0] in folded or node.op_type in _ALIASES:
            continue
        op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        if op not in OP_IMPORTERS:
            bad.setdefault(op, []).append(node.name or node.output[0])
    return bad


def _data_shape(ictx: ImportContext, name: str) -> list[int]:
    """Full shape of a data tensor (layer or view), the batch size written as `BATCH`."""
    if name in ictx.views:
        layer, idx = ictx.views[name]
        shape = list(idx.shape)
        axis = batch_axis(layer, idx)
        if axis is not None:
            shape[axis] = BATCH
        return shape
    return [BATCH, *ictx.layers[name].output_shape]


def _evaluate(node: onnx.NodeProto, ictx: ImportContext, opsets: list) -> None:
    """Fold one node whose inputs are constants (or Shape of data) with the reference runtime."""
    data = node.input[0] if node.input else ""
    if node.op_type in _SHAPE_OPS and (data in ictx.layers or data in ictx.views):
        shape = np.array(_data_shape(ictx, data), dtype=np.int64)
        if node.op_type == "Size":
            ictx.consts[node.output[0]] = np.array(np.prod(shape), dtype=np.int64)
            return
        a = ictx.attrs(node)
        ictx.consts[node.output[0]] = shape[a.get("start", 0) : a.get("end", len(shape))]
        return
    feeds = {n: ictx.consts[n] for n in node.input if n}
    if node.op_type in ("ConstantOfShape", "Expand"):  # zeros of (.., batch, ..): batch 1 suffices
        shape_in = node.input[0] if node.op_type == "ConstantOfShape" else node.input[1]
        feeds[shape_in] = np.where(feeds[shape_in] == BATCH, 1, feeds[shape_in])
    try:
        values = run_node(node, feeds, opsets)
    except TensorLimitError as err:
        raise TensorLimitError(str(ictx.error(node, str(err)))) from None
    except Exception as err:  # the reference runtime raises many exception types
        raise ictx.error(node, f"cannot fold this constant computation: {err}") from None
    for name, value in zip([o for o in node.output if o], values):
        ictx.consts[name] = np.asarray(value)


def _is_view_op(node: onnx.NodeProto, ictx: ImportContext) -> bool:
    """Movement ops on views, and Transposes that move the batch axis, work on index arrays."""
    if node.op_type not in MOVEMENT_OPS or not node.input:
        return False
    if node.input[0] in ictx.views:
        return True
    perm = ImportContext.attrs(node).get("perm")
    return node.op_type == "Transpose" and perm is not None and perm[0] != 0


def _input_layers(
    graph: onnx.GraphProto, ictx: ImportContext, source: str, input_shape: Sequence[int] | None
) -> list[Layer]:
    inputs = _data_inputs(graph)
    if input_shape is not None and len(inputs) != 1:
        raise OnnxImportError(
            f"{source}: input_shape is given but the graph has {len(inputs)} inputs"
        )
    layers = []
    for vi in inputs:
        dims = vi.type.tensor_type.shape.dim
        if input_shape is not None:
            shape = [int(d) for d in input_shape]
        else:
            shape = [d.dim_value if d.HasField("dim_value") else -1 for d in dims[1:]]
            if not dims or any(d <= 0 for d in shape):
                raise OnnxImportError(
                    f"{source}: input '{vi.name}' has no static shape after the batch axis "
                    f"({[d.dim_param or d.dim_value for d in dims]}); pass input_shape"
                )
        try:
            layer = Input(shape, name=vi.name)
        except ShapeError as err:
            raise OnnxImportError(f"{source}: bad input_shape {list(shape)}: {err}") from None
        ictx.layers[vi.name] = layer
        ictx.claim(vi.name)
        layers.append(layer)
    return layers


def _import_node(node: onnx.NodeProto, ictx: ImportContext, fold: bool, opsets: list) -> None:
    """Fold, alias, view or import one node; unexpected failures name the node."""
    try:
        if fold:
            _evaluate(node, ictx, opsets)
        elif node.op_type in _ALIASES:
            ictx.alias(node.input[0], node.output[0])
        elif _is_view_op(node, ictx):
            ictx.view_op(node)
        else:
            OP_IMPORTERS[node.op_type](ictx, node)
    except OnnxImportError:
        raise
    except (KeyError, IndexError, ValueError, TypeError) as err:
        raise ictx.error(node, f"cannot be imported ({type(err).__name__}: {err})") from None


def _producer(graph: onnx.GraphProto, name: str) -> onnx.NodeProto:
    return next(n for n in graph.node if name in n.output)


def import_graph(
    model: onnx.ModelProto, source: str, input_shape: Sequence[int] | None = None
) -> Model:
    """A `Model` computing the foreign ONNX `model`.

    Raises:
        UnsupportedOpsError: listing every op type without an importer and its nodes.
        OnnxImportError: when a node cannot be mapped (attributes, shapes) or folded.
    """
    import deephealth.eddl.onnx.mapping  # noqa: F401 (registers the importers)

    graph = model.graph
    bad = unsupported_ops(graph)
    if bad:
        raise UnsupportedOpsError(source, bad)
    ictx = ImportContext(source, graph, list(model.opset_import))
    ictx.consts.update({t.name: tensor_array(t) for t in graph.initializer})
    inputs = _input_layers(graph, ictx, source, input_shape)
    folded = _constant_nodes(graph)
    opsets = list(model.opset_import)
    for node in graph.node:
        if node.output[0] not in ictx.fused:
            _import_node(node, ictx, node.output[0] in folded, opsets)
    outputs = []
    for out in graph.output:
        if out.name in ictx.views and out.name not in ictx.layers:
            layer, idx = ictx.views[out.name]
            ictx.layers[out.name] = ictx.materialize(layer, idx, _producer(graph, out.name))
        if out.name not in ictx.layers:
            raise OnnxImportError(f"{source}: output '{out.name}' does not depend on the input")
        outputs.append(ictx.layers[out.name])
    try:
        return Model(inputs, outputs, graph.name or "imported")
    except GraphError as err:
        raise OnnxImportError(f"{source}: {err}") from None
