"""`ExportContext`: what a layer's `to_onnx` writes into — nodes, initializers, names.

Every exporter has the signature `to_onnx(ctx, layer, inputs) -> None`: it reads the layer's
params and weights, and adds ONNX nodes whose last output is `ctx.out(layer)` (the layer's name), so
layer names are kept as tensor and node names. Weights become initializers named
`<layer>.<state_dict key>` holding the exact float32 bits of the torch parameter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from deephealth.eddl.layers.base import Layer


class ExportContext:
    """Collects the nodes and initializers of one exported graph.

    Attributes:
        nodes: ONNX nodes, in topological order.
        initializers: Weight and constant tensors.
        opset: The default-domain opset written.
    """

    def __init__(self, opset: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.opset = opset
        self._names: set[str] = set()
        self.seq_len = 0  # pyeddl's recurrent form: the time steps of sequence values
        self.sequence: dict[str, bool] = {}  # layer name -> its value has a time axis
        self.states: dict[str, list[str]] = {}  # recurrent layer name -> final state tensors

    @staticmethod
    def out(layer: Layer) -> str:
        """The tensor name of a layer's output (its name)."""
        return layer.name

    def tmp(self, layer: Layer, suffix: str) -> str:
        """A fresh intermediate tensor name inside `layer` ("conv1/pad")."""
        name, k = f"{layer.name}/{suffix}", 1
        while name in self._names:
            k += 1
            name = f"{layer.name}/{suffix}{k}"
        self._names.add(name)
        return name

    def weights(self, layer: Layer) -> dict[str, np.ndarray]:
        """The layer's state_dict as numpy arrays (shared memory, no copy)."""
        if layer.module is None:
            return {}
        return {k: v.detach().cpu().numpy() for k, v in layer.module.state_dict().items()}

    def weight(self, layer: Layer, key: str) -> str:
        """Add state_dict entry `key` of `layer` as an initializer; returns its name."""
        return self.const(f"{layer.name}.{key}", self.weights(layer)[key])

    def const(self, name: str, value: Any, dtype: Any = None) -> str:
        """Add a constant initializer `name` (made unique); returns its name."""
        array = np.asarray(value, dtype=dtype)
        if name in self._names:
            name = self.tmp_name(name)
        self._names.add(name)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def tmp_name(self, base: str) -> str:
        """A fresh name derived from `base`."""
        k = 2
        while f"{base}{k}" in self._names:
            k += 1
        return f"{base}{k}"

    def node(
        self,
        op: str,
        inputs: list[str],
        output: str,
        layer: Layer,
        **attrs: Any,
    ) -> str:
        """Add node `op(inputs) -> output`, named after the layer; returns `output`."""
        name = layer.name if output == layer.name else output
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        self._names.add(output)
        return output

    def ints(self, layer: Layer, suffix: str, values: Any) -> str:
        """An int64 constant (axes, shapes, pads) owned by `layer`."""
        return self.const(f"{layer.name}/{suffix}", np.asarray(values, dtype=np.int64))
