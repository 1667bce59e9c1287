"""Graph surgery and weight access: getLayer, removeLayer, setTrainable, initializeLayer,
get_parameters/set_parameters, copyParam, getOut, setName.

Weights live on each `Layer`'s torch module, so a layer taken from one model (`getLayer`) keeps its
weights when it is used to build another one (transfer learning). Parameters cross the API as
`Tensor`s in each layer's own order (weight, then bias, ...); `get_parameters(net)` returns views
of the live weights unless `deepcopy=True`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from deephealth.eddl.model import GraphError, topological_order
from deephealth.eddl.tensor import Tensor, as_torch
from deephealth.eddl.training.build import _apply_trainable, initialize

if TYPE_CHECKING:
    from deephealth.eddl.layers.base import Layer
    from deephealth.eddl.model import Model


def getLayer(net: Model, name: str) -> Layer:
    """The layer called `name` (KeyError listing the model's layers otherwise)."""
    return net.layer(name)


def getOut(net: Model) -> list[Layer]:
    """The output layers of the model."""
    return list(net.outputs)


def setName(net: Model, name: str) -> None:
    """Rename the model."""
    net.name = str(name)


def removeLayer(net: Model, name: str) -> None:
    """Remove an output layer in place; its parents become outputs (e.g. drop a classifier head).

    The model must be built again afterwards (its training state is dropped).

    Raises:
        KeyError: no such layer. GraphError: the layer feeds other layers, or is an input.
    """
    layer = net.layer(name)
    if layer.kind == "Input":
        raise GraphError(f"removeLayer: '{name}' is an input of model '{net.name}'")
    children = [l.name for l in net.layers if layer in l.parents]
    if children:
        raise GraphError(
            f"removeLayer: '{name}' feeds {children}; only layers that feed nothing can be removed"
        )
    outputs: list[Layer] = []
    for out in net.outputs:
        for new in [out] if out is not layer else layer.parents:
            if all(new is not o for o in outputs):
                outputs.append(new)
    net.outputs = outputs
    net.layers = topological_order(net.inputs, outputs)
    net.compile()
    net.train_state = None


def setTrainable(net: Model, name: str, val: bool) -> None:
    """Freeze (`val=False`) or unfreeze a layer's weights.

    As EDDL, a name the network does not have (e.g. a layer removed since) changes nothing; it
    is reported with a warning.
    """
    try:
        layer = net.layer(name)
    except KeyError as err:
        warnings.warn(f"setTrainable: {err.args[0]}; nothing changed", stacklevel=2)
        return
    layer.trainable = bool(val)
    _apply_trainable(net)


def initializeLayer(net: Model, name: str) -> None:
    """Re-initialize one layer's weights with its initializer."""
    initialize(net.layer(name))


def _params(layer: Layer) -> list[torch.Tensor]:
    return [] if layer.module is None else list(layer.module.state_dict(keep_vars=True).values())


def get_parameters(net: Model, deepcopy: bool = False) -> list[list[Tensor]]:
    """Per layer (graph order), its weight tensors (views of the live weights unless `deepcopy`)."""
    out = []
    for layer in net.layers:
        ps = [p.detach() for p in _params(layer)]
        out.append([Tensor.wrap(p.clone() if deepcopy else p) for p in ps])
    return out


def set_parameters(net: Model, params: Sequence[Sequence[Any]]) -> None:
    """Overwrite the weights from `get_parameters`-shaped nested lists (Tensors or arrays).

    Raises:
        ValueError: a layer count, tensor count or shape that does not match, naming the layer.
    """
    if len(params) != len(net.layers):
        raise ValueError(
            f"set_parameters: model '{net.name}' has {len(net.layers)} layers, got {len(params)} "
            "entries (one list per layer, [] for layers without weights)"
        )
    with torch.no_grad():
        for layer, values in zip(net.layers, params):
            current = _params(layer)
            if len(values) != len(current):
                raise ValueError(
                    f"set_parameters: layer '{layer.name}' has {len(current)} weight tensors, "
                    f"got {len(values)}"
                )
            for dst, src in zip(current, values):
                src_t = as_torch(src)
                if tuple(src_t.shape) != tuple(dst.shape):
                    raise ValueError(
                        f"set_parameters: layer '{layer.name}' expects shape {list(dst.shape)}, "
                        f"got {list(src_t.shape)}"
                    )
                dst.copy_(src_t.to(dst.dtype))


def copyParam(src: Layer, dst: Layer, dev: Any = None) -> None:
    """Copy the weights of layer `src` into layer `dst` (same kind and shapes)."""
    a, b = _params(src), _params(dst)
    shapes_a, shapes_b = [list(t.shape) for t in a], [list(t.shape) for t in b]
    if shapes_a != shapes_b:
        raise ValueError(
            f"copyParam: '{src.name}' has weights {shapes_a}, '{dst.name}' has {shapes_b}"
        )
    with torch.no_grad():
        for s, d in zip(a, b):
            d.copy_(s)
