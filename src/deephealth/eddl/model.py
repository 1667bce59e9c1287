"""`Model`: a network made of `Layer` nodes, from its inputs to its outputs.

The model sorts the graph, checks that every path starts at one of its inputs, and compiles the
graph into a `GraphModule` (see `runtime.py`). Training state (optimizer, losses, metrics, computing
service) is attached by `build` in the training wing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deephealth.eddl.layers.base import Layer


class GraphError(ValueError):
    """The layers given to `Model` do not form a valid network."""


def topological_order(inputs: Sequence[Layer], outputs: Sequence[Layer]) -> list[Layer]:
    """Layers needed to compute `outputs` from `inputs`, parents before children.

    Raises:
        GraphError: when an output depends on an Input that is not among `inputs`.
    """
    order: list[Layer] = []
    state: dict[int, int] = {}  # id -> 1 visiting, 2 done
    input_ids = {id(layer) for layer in inputs}
    stack: list[tuple[Layer, bool]] = [(out, False) for out in reversed(outputs)]
    while stack:
        layer, expanded = stack.pop()
        if expanded:
            state[id(layer)] = 2
            order.append(layer)
            continue
        if state.get(id(layer)) is not None:
            continue
        state[id(layer)] = 1
        stack.append((layer, True))
        if id(layer) in input_ids:
            continue
        if not layer.parents:
            raise GraphError(
                f"layer '{layer.name}' ({layer.kind}) feeds the outputs but is not one of the "
                f"model's inputs {[i.name for i in inputs]}"
            )
        for parent in reversed(layer.parents):
            if state.get(id(parent)) is None:
                stack.append((parent, False))
    return order


class Model:
    """A network: the graph between `inputs` and `outputs` (pyeddl's `Model([in], [out])`).

    Attributes:
        inputs: Input layers, in the order data is given to `fit`/`forward`.
        outputs: Output layers, in the order targets are given.
        layers: Every layer of the graph, parents before children.
        name: Model name.
    """

    def __init__(self, inputs: Sequence[Layer], outputs: Sequence[Layer], name: str = "model"):
        inputs, outputs = _as_list(inputs), _as_list(outputs)
        if not inputs or not outputs:
            raise GraphError("a Model needs at least one input and one output layer")
        for layer in inputs:
            if layer.kind != "Input":
                raise GraphError(
                    f"model input '{layer.name}' is a {layer.kind}, not an Input layer"
                )
        self.inputs = inputs
        self.outputs = outputs
        self.name = name
        self.decoder_inputs = decoder_inputs(inputs, outputs)
        self.layers = topological_order([*inputs, *self.decoder_inputs], outputs)
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise GraphError(f"layer names must be unique within a model; repeated: {duplicates}")
        self.state: dict[str, Any] = {}  # set by build(): optimizer, losses, metrics, cs, ...
        self.graph = self.compile()

    def compile(self):  # noqa: ANN201 (avoid importing torch types at module level)
        """(Re)build the executable `GraphModule` from the current layers."""
        from deephealth.eddl.runtime import GraphModule

        self.graph = GraphModule(self)
        return self.graph

    def layer(self, name: str) -> Layer:
        """The layer called `name`.

        Raises:
            KeyError: naming the layer and listing the model's layer names.
        """
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(
            f"model '{self.name}' has no layer '{name}'; layers: {[l.name for l in self.layers]}"
        )

    def build(self, o=None, lo=None, me=None, cs=None, init_weights=True):  # noqa: ANN001,ANN201
        """pyeddl's `net.build(optimizer, losses, metrics, cs)`: see `training.build.build`."""
        from deephealth.eddl.training.build import build

        build(self, o, lo, me, cs, init_weights)

    def __repr__(self) -> str:
        return f"<Model '{self.name}': {len(self.layers)} layers>"


def decoder_inputs(inputs: Sequence[Layer], outputs: Sequence[Layer]) -> list[Layer]:
    """The Input layers marked by `setDecoder` that `outputs` depend on (not among `inputs`)."""
    found: list[Layer] = []
    seen: set[int] = {id(layer) for layer in inputs}
    stack = list(outputs)
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if layer.kind == "Input" and getattr(layer, "isdecoder", False):
            found.append(layer)
        stack.extend(layer.parents)
    return found


def _as_list(layers: Layer | Sequence[Layer]) -> list[Layer]:
    return [layers] if isinstance(layers, Layer) else list(layers)
