"""`Model`: a network made of `Layer` nodes, from its inputs to its outputs.

The model sorts the graph, checks that every path starts at one of its inputs, and compiles the
graph into a `GraphModule` (see `runtime.py`). Training state (optimizer, losses, metrics, computing
service) is attached by `build` in the training wing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from deephealth.eddl.layers.base import Layer
from deephealth.errors import EddlError

if TYPE_CHECKING:
    from deephealth.eddl.computing import ComputingService
    from deephealth.eddl.training.state import TrainState

_BUILDER: Callable[..., None] | None = None


def set_builder(build: Callable[..., None]) -> None:
    """Register the function behind `Model.build` (done by `deephealth.eddl.training.build`)."""
    global _BUILDER
    _BUILDER = build


class GraphError(EddlError, ValueError):
    """The layers given to `Model` do not form a valid network."""


def reachable_sinks(inputs: Sequence[Layer]) -> list[Layer]:
    """The layers reachable from `inputs` that feed no other reachable layer, in creation order.

    pyeddl's `Model([in_], [])` takes these as its outputs (e.g. a data-augmentation network whose
    values are read with `getOutput`, or a network trained only through `newloss`).
    """
    seen: dict[int, Layer] = {}
    queue = list(inputs)
    while queue:
        layer = queue.pop(0)
        if id(layer) in seen:
            continue
        seen[id(layer)] = layer
        queue.extend(layer.child)
    return [layer for layer in seen.values() if not any(id(c) in seen for c in layer.child)]


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
        if id(layer) in input_ids or layer.spec.source:
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


def name_defaults(layers: Sequence[Layer]) -> None:
    """Give default-named layers their final names, `<stem><n>` counted within `layers`.

    Layers are visited in graph order (parents first); names already taken in `layers` are
    skipped. A layer keeps the name its first model gave it, so the names (and the ONNX
    initializers named after them) depend only on the model, not on what the process built before.
    """
    taken = {layer.name for layer in layers if layer.default_stem is None}
    counts: dict[str, int] = {}
    for layer in layers:
        stem = layer.default_stem
        if stem is None:
            continue
        n = counts.get(stem, 0) + 1
        while f"{stem}{n}" in taken:
            n += 1
        counts[stem] = n
        layer.name, layer.default_stem = f"{stem}{n}", None
        taken.add(layer.name)


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
        if inputs and not outputs:  # pyeddl's Model([in_], []): every end of the graph
            outputs = [layer for layer in reachable_sinks(inputs) if layer.kind != "Input"]
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
        used = {id(layer) for layer in self.layers}  # an input no output needs still takes data
        unused = [l for l in [*inputs, *self.decoder_inputs] if id(l) not in used]
        self.layers = [*unused, *self.layers]
        name_defaults(self.layers)
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise GraphError(f"layer names must be unique within a model; repeated: {duplicates}")
        self.train_state: TrainState | None = None  # set by build(): optimizer, losses, ...
        self.cs: ComputingService | None = None  # the service of the last build/toCPU/toGPU
        self.checkpoint: dict[str, Any] | None = None  # the ONNX side checkpoint read at import
        self.decoder_steps: int | None = None  # target length of the last fit (setDecoder nets)
        self.graph = self.compile()

    def compile(self):
        """(Re)build the executable `GraphModule` from the current layers."""
        from deephealth.eddl.runtime import GraphModule

        self.graph = GraphModule(self)
        return self.graph

    def layer(self, name: str) -> Layer:
        """The layer called `name`, or else the one C++ EDDL would have named so.

        Default names count within the model (`name_defaults`); a pyeddl script may use the name
        EDDL counts across the process instead (`getLayer(decoder, "LSTM2")` for the process's
        second unnamed LSTM), which finds the layer when no layer of the model has that name.

        Raises:
            KeyError: naming the layer and listing the model's layer names.
        """
        for layer in self.layers:
            if layer.name == name:
                return layer
        for layer in self.layers:  # EDDL's process-wide default name ("LSTM2" for a 2nd model)
            if getattr(layer, "process_name", None) == name:
                return layer
        raise KeyError(
            f"model '{self.name}' has no layer '{name}'; layers: {[l.name for l in self.layers]}"
        )

    @property
    def state(self) -> Mapping[str, Any]:
        """Read-only view of the typed state under the names of earlier versions ("train", "cs",
        "checkpoint"); use `train_state`, `cs` and `checkpoint`."""
        items = {"train": self.train_state, "cs": self.cs, "checkpoint": self.checkpoint}
        return MappingProxyType({k: v for k, v in items.items() if v is not None})

    def build(self, o=None, lo=None, me=None, cs=None, init_weights=True):
        """pyeddl's `net.build(optimizer, losses, metrics, cs)`: see `training.build.build`.

        The training package registers the function (`set_builder`): the graph does not import
        the training code built on it.
        """
        if _BUILDER is None:
            raise NotImplementedError("import deephealth.eddl to build a model")
        _BUILDER(self, o, lo, me, cs, init_weights)

    # -- pyeddl's Net fields ---------------------------------------------------------------------
    @property
    def lin(self) -> list[Layer]:
        """The input layers (pyeddl's `net.lin`)."""
        return list(self.inputs)

    @property
    def lout(self) -> list[Layer]:
        """The output layers (pyeddl's `net.lout`)."""
        return list(self.outputs)

    @property
    def isbuild(self) -> bool:
        """True once `build` has run."""
        return bool(self.state)

    def resize(self, batch_size: int) -> None:
        """pyeddl's `net.resize(b)`: accepted and checked; batches of any size run here."""
        if int(batch_size) < 1:
            raise ValueError(f"resize: a batch size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)

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
