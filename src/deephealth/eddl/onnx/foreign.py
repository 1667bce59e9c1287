"""`ImportContext`: the state of turning a foreign ONNX graph into layers, node by node.

Op importers (`OP_IMPORTERS`, see `mapping/`) receive the context and one node. They read constant
inputs (weights, shapes) with `const`, parent layers with `layer`, and create layers with `add`,
which names the layer after the node, loads its weights and binds the node's output to it. Tensors
are layers (data that depends on the network input), views (a rearrangement of a layer's output
that moves the batch axis, see `views.py`) or folded numpy constants.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import torch
from onnx import helper
from onnx.reference import ReferenceEvaluator

from deephealth.eddl.layers.base import Layer, ShapeError
from deephealth.eddl.onnx.errors import OnnxImportError
from deephealth.eddl.onnx.limits import TensorLimitError, check_node, check_result
from deephealth.eddl.onnx.views import VIEW_BATCH, batch_axis, decompose, identity_view

# Stands for the (unknown) batch size inside folded shape computations.
BATCH = 1_000_003

_NAME = re.compile(r"[^0-9A-Za-z_\-/.]")


def run_node(node: onnx.NodeProto, feeds: dict[str, np.ndarray], opsets: list) -> list:
    """Run one node with ONNX's reference runtime, within the size bound of `limits`.

    Raises:
        TensorLimitError: an output would exceed the bound (checked before running when shape
            inference can size it).
    """
    check_node(node, feeds, opsets)
    vi = [helper.make_empty_tensor_value_info(n) for n in feeds]
    out = [helper.make_empty_tensor_value_info(n) for n in node.output if n]
    graph = helper.make_graph([node], "fold", vi, out)
    values = ReferenceEvaluator(helper.make_model(graph, opset_imports=opsets)).run(None, feeds)
    check_result(node, feeds, values)
    return values


class ImportContext:
    """Tensors of a foreign graph being imported: layers and constants.

    Attributes:
        source: File name (or "<string>") for error messages.
        consts: Folded constant tensors by name.
        layers: The layer computing each data tensor.
        views: (layer, index array) of each data tensor whose batch axis is not first (yet).
        consumers: The nodes reading each tensor.
        fused: First outputs of the nodes an importer of an earlier node already handled.
    """

    def __init__(self, source: str, graph: onnx.GraphProto, opsets: list | None = None) -> None:
        self.source = source
        self.opsets = opsets or [helper.make_opsetid("", 17)]
        self.consts: dict[str, np.ndarray] = {}
        self.layers: dict[str, Layer] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in graph.node:
            for name in node.input:
                self.consumers[name].append(node)
        self.graph_outputs = {o.name for o in graph.output}
        self.fused: set[str] = set()
        self.views: dict[str, tuple[Layer, np.ndarray]] = {}
        self._used_names: set[str] = set()

    def error(self, node: onnx.NodeProto, reason: str) -> OnnxImportError:
        """An import error naming the file, the node and its op type."""
        name = node.name or (f"output {node.output[0]}" if node.output else "")
        return OnnxImportError(f"{self.source}: node '{name}' ({node.op_type}): {reason}")

    @staticmethod
    def attrs(node: onnx.NodeProto) -> dict[str, Any]:
        """The node's attributes as Python values."""
        out = {}
        for attr in node.attribute:
            value = helper.get_attribute_value(attr)
            if isinstance(value, bytes):
                value = value.decode()
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                value = [v.decode() for v in value]
            out[attr.name] = value
        return out

    def is_const(self, name: str) -> bool:
        """Whether tensor `name` is a folded constant (an empty name counts as absent)."""
        return name in self.consts

    def const(self, node: onnx.NodeProto, index: int, what: str) -> np.ndarray | None:
        """Constant input `index` of `node` (None when absent)."""
        if index >= len(node.input) or not node.input[index]:
            return None
        name = node.input[index]
        if name not in self.consts:
            raise self.error(node, f"{what} ('{name}') must be a constant, not computed from data")
        return self.consts[name]

    def layer(self, node: onnx.NodeProto, index: int = 0) -> Layer:
        """The layer computing input `index` of `node` (a view is turned into layers first)."""
        name = node.input[index]
        if name in self.views and name not in self.layers:
            layer, idx = self.views[name]
            self.layers[name] = self.materialize(layer, idx, node)
        if name not in self.layers:
            raise self.error(node, f"input '{name}' is a constant where data is expected")
        return self.layers[name]

    def view(self, name: str) -> tuple[Layer, np.ndarray]:
        """Tensor `name` as a view (a layer's own output is the identity view)."""
        if name in self.views:
            return self.views[name]
        layer = self.layers[name]
        return layer, identity_view(layer)

    def materialize(self, layer: Layer, idx: np.ndarray, node: onnx.NodeProto) -> Layer:
        """Layers computing the batch-first view `idx` of `layer`: Select, Permute, Reshape.

        Raises:
            OnnxImportError: when the view moves the batch axis or is no box/permutation.
        """
        while layer.kind in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
            layer = layer.parents[0]  # same elements in the same order: read the parent's
        axis = batch_axis(layer, idx)
        found = decompose(layer.output_shape, np.take(idx, 0, axis=0)) if axis == 0 else None
        if found is None:
            raise self.error(
                node, "its input rearranges the batch axis in a way no layer can express"
            )
        select, perm = found
        shape = idx.shape[1:]
        cur = layer
        if select != [f"0:{d}" for d in layer.output_shape]:
            cur = self.add("Select", [cur], {"indices": select}, node, output=f"{node.name}/select")
        if perm is not None:
            cur = self.add("Permute", [cur], {"dims": perm}, node, output=f"{node.name}/permute")
        if tuple(cur.output_shape) != tuple(shape):
            kind, params = (
                ("Flatten", {}) if len(shape) == 1 else ("Reshape", {"shape": list(shape)})
            )
            cur = self.add(kind, [cur], params, node, output=f"{node.name}/reshape")
        return cur

    def sole_consumer(self, name: str) -> onnx.NodeProto | None:
        """The only node reading tensor `name`, if it is read once and is not a graph output."""
        readers = self.consumers.get(name, [])
        if len(readers) == 1 and name not in self.graph_outputs:
            return readers[0]
        return None

    def claim(self, name: str) -> None:
        """Reserve a layer name (graph inputs keep theirs)."""
        self._used_names.add(name)

    def _fresh_name(self, base: str) -> str:
        name = _NAME.sub("_", base) or "layer"
        if name in self._used_names:
            k = 2
            while f"{name}_{k}" in self._used_names:
                k += 1
            name = f"{name}_{k}"
        self._used_names.add(name)
        return name

    def add(
        self,
        kind: str,
        parents: Sequence[Layer],
        params: dict[str, Any],
        node: onnx.NodeProto,
        weights: dict[str, np.ndarray] | None = None,
        output: str | None = None,
    ) -> Layer:
        """Create a layer for `node`, load `weights` into it and bind `output` (node.output[0]).

        Raises:
            OnnxImportError: when the layer does not fit its inputs or the weights' shapes.
        """
        output = output or node.output[0]
        try:
            layer = Layer(kind, parents, params, self._fresh_name(node.name or output))
        except (ShapeError, ValueError) as err:
            raise self.error(node, str(err)) from None
        if weights:
            self.load(layer, weights, node)
        self.layers[output] = layer
        return layer

    def load(self, layer: Layer, weights: dict[str, np.ndarray], node: onnx.NodeProto) -> None:
        """Copy arrays into the layer's state_dict entries, checking shapes."""
        assert layer.module is not None
        state = layer.module.state_dict()
        for key, value in weights.items():
            target = state[key]
            array = np.asarray(value)
            if tuple(array.shape) != tuple(target.shape):
                raise self.error(
                    node,
                    f"weight {key} has shape {array.shape}, layer expects {tuple(target.shape)}",
                )
            with torch.no_grad():
                target.copy_(torch.from_numpy(np.ascontiguousarray(array).astype(np.float32)))

    def view_op(self, node: onnx.NodeProto) -> None:
        """Apply a movement op to the index array of its data input (a view, or a layer's own);
        constants' batch sizes are set to the view's."""
        layer, idx = self.view(node.input[0])
        feeds = {node.input[0]: idx}
        for i, name in enumerate(node.input[1:], start=1):
            if name:
                value = self.const(node, i, "a shape or index input")
                if value.dtype.kind == "i":
                    value = np.where(value == BATCH, VIEW_BATCH, value)
                feeds[name] = value
        try:
            values = run_node(node, feeds, self.opsets)
        except TensorLimitError as err:
            raise TensorLimitError(str(self.error(node, str(err)))) from None
        except Exception as err:  # the reference runtime raises many exception types
            raise self.error(node, f"cannot apply it to this tensor: {err}") from None
        for name, value in zip([o for o in node.output if o], values):
            self.views[name] = (layer, np.asarray(value))

    def alias(self, src: str, dst: str) -> None:
        """Tensor `dst` is `src` (Identity, Dropout at inference)."""
        for table in (self.layers, self.views, self.consts):
            if src in table:
                table[dst] = table[src]  # type: ignore[index]
