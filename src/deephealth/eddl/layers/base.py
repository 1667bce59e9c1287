"""The network IR: `Layer` nodes and the layer table.

A network is a graph of `Layer` nodes built by the functional API (`Dense(parent, 10)`). Each node
holds its kind, its parents, its constructor parameters and its inferred output shape (batch
excluded, channels first), and owns the `torch.nn.Module` that computes it, so weights live on the
layer and survive when the layer is reused in another `Model` (graph surgery, transfer learning).

What each kind of layer does is one entry of the layer table, `LAYER_TYPES`: a `LayerSpec` that
infers the output shape and builds the torch module. The ONNX wing keeps each kind's export and
import in its own tables keyed by the same kind (`deephealth.eddl.onnx.registry`), checked for
completeness when loaded; `docs/architecture.md` lists the files a new layer kind touches.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, ClassVar

from torch import nn

from deephealth.eddl.layers._pyeddl_attrs import PyeddlLayerAttrs
from deephealth.errors import EddlError

Shape = tuple[int, ...]


class ShapeError(EddlError, ValueError):
    """A layer cannot take the shape(s) its parents produce."""


class LayerSpec:
    """How one kind of layer behaves: shape inference and torch module construction.

    Subclasses set `kind` and the parent-count bounds and implement `infer_shape` and `build`.
    Their ONNX export and import are in `deephealth.eddl.onnx.registry`'s tables, keyed by `kind`.
    A `source` kind has no parents but is not an Input (a constant or a random generator): its
    module is called with the model's first input, from which it takes the batch size and device.
    """

    kind: ClassVar[str] = ""
    min_parents: ClassVar[int] = 1
    max_parents: ClassVar[int | None] = 1
    source: ClassVar[bool] = False

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        """Return the output shape for the given input shapes, or raise `ShapeError`."""
        raise NotImplementedError

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        """Return the module that computes the layer from its parents' tensors (positional)."""
        raise NotImplementedError


LAYER_TYPES: dict[str, LayerSpec] = {}


def register(cls: type[LayerSpec]) -> type[LayerSpec]:
    """Class decorator: add a `LayerSpec` subclass to the layer table under its `kind`."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    if cls.kind in LAYER_TYPES:
        raise ValueError(f"layer kind {cls.kind!r} registered twice")
    LAYER_TYPES[cls.kind] = cls()
    return cls


_name_counters: defaultdict[str, itertools.count] = defaultdict(lambda: itertools.count(1))


def auto_name(stem: str) -> str:
    """A provisional default name for a layer of default stem `stem` ("dense1", "LSTM3", ...).

    It counts across the process, as C++ EDDL names layers, and names the layer until it joins its
    first `Model`, which gives it its final name counted within the model (`Model` renames
    default-named layers). The layer keeps it as `process_name`: `Model.layer` finds a layer by
    it too, for scripts that use EDDL's process-wide names.
    """
    return f"{stem}{next(_name_counters[stem])}"


_MODULE_KEY = re.compile(r"[^0-9A-Za-z_]")


def module_key(name: str) -> str:
    """Turn a layer name into a valid `nn.ModuleDict` key (no dots)."""
    return _MODULE_KEY.sub("_", name) or "_"


class Layer(PyeddlLayerAttrs):
    """One node of the network graph.

    Attributes:
        kind: Layer type, a key of `LAYER_TYPES` ("Dense", "Conv2D", ...).
        name: Unique, human-readable name. When not given, the first `Model` the layer joins names
            it `<stem><n>` counting within that model ("dense1", "batchnormalization1").
        default_stem: The stem of the default name (the kind in lower case, or the activation),
            or None once the layer has its final name.
        process_name: The default name counted across the process, as C++ EDDL would name the
            layer ("dense2" for the process's second unnamed Dense); None for a named layer.
        parents: Input layers, in order.
        params: Constructor parameters (plain Python values).
        output_shape: Inferred output shape without the batch dimension.
        module: The torch module computing this layer (None for Input).
        trainable: False freezes the layer's parameters (`setTrainable`).
        initializer: Weight initializer (name, args) or None for the default (GlorotUniform).
        regularizer: Weight regularizer (name, args) or None.
    """

    def __init__(
        self,
        kind: str,
        parents: Sequence[Layer],
        params: dict[str, Any] | None = None,
        name: str | None = None,
        *,
        stem: str | None = None,
    ) -> None:
        if kind not in LAYER_TYPES:
            raise KeyError(f"unknown layer kind {kind!r}")
        spec = LAYER_TYPES[kind]
        parents = list(parents)
        for p in parents:
            if not isinstance(p, Layer):
                raise TypeError(
                    f"{kind} {name or ''}: a parent must be a Layer, got {type(p).__name__}"
                )
        self.kind = kind
        self.default_stem: str | None = None if name else (stem or kind.lower())
        self.name = name or auto_name(self.default_stem or kind.lower())
        self.process_name: str | None = None if name else self.name
        self.parents = parents
        self.params = dict(params or {})
        n = len(parents)
        if n < spec.min_parents or (spec.max_parents is not None and n > spec.max_parents):
            most = "any number" if spec.max_parents is None else spec.max_parents
            raise ShapeError(
                f"{kind} layer '{self.name}' takes {spec.min_parents} to {most} parent(s), got {n}"
            )
        in_shapes = [p.output_shape for p in parents]
        try:
            self.output_shape: Shape = tuple(
                int(d) for d in spec.infer_shape(self.params, in_shapes)
            )
        except ShapeError as err:
            got = ", ".join(f"'{p.name}' ({p.kind}) gives {p.output_shape}" for p in parents)
            raise ShapeError(
                f"{kind} layer '{self.name}' does not fit its parent: {got}; {err}"
            ) from None
        self.module: nn.Module | None = spec.build(self.params, in_shapes, self.output_shape)
        self.trainable = True
        self.initializer: tuple[str, tuple[Any, ...]] | None = None
        self.regularizer: tuple[str, tuple[Any, ...]] | None = None
        self._link_children()

    @property
    def spec(self) -> LayerSpec:
        """The layer-table entry of this layer's kind."""
        return LAYER_TYPES[self.kind]

    @property
    def input_shapes(self) -> list[Shape]:
        """The output shapes of the parents, in order."""
        return [p.output_shape for p in self.parents]

    def rebuild(self) -> None:
        """Re-create the torch module (new, uninitialized weights) for the current parents."""
        self.module = self.spec.build(self.params, self.input_shapes, self.output_shape)

    def num_parameters(self) -> int:
        """Number of trainable scalar weights held by this layer."""
        if self.module is None:
            return 0
        return sum(p.numel() for p in self.module.parameters())

    def __repr__(self) -> str:
        return f"<Layer {self.kind} '{self.name}' -> {self.output_shape}>"


def single(shapes: list[Shape]) -> Shape:
    """The one input shape of a single-parent layer."""
    return shapes[0]


def expect_rank(shape: Shape, ranks: Sequence[int], what: str) -> None:
    """Raise `ShapeError` unless `len(shape)` is one of `ranks`."""
    if len(shape) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(f"expected a {want}-D input ({what}), got {len(shape)}-D {shape}")
