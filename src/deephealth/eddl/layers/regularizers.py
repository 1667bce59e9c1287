"""Weight regularizers (pyeddl's L1, L2, L1L2) and the penalty they add to the training loss.

A regularizer wraps a layer, records `layer.regularizer = (name, args)` and returns the layer:
`l = L2(Dense(l, 10), 1e-4)`. `regularization_penalty(layers)` sums, over the given layers, the
penalty on their weight tensors (parameters named `weight*`; biases are not regularized), as Keras:
L1: l1 * sum|w|, L2: l2 * sum(w^2), L1L2: both. The training loop adds it to the loss.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from deephealth.eddl.layers.base import Layer

REGULARIZERS = ("L1", "L2", "L1L2")


def _set(layer: Layer, name: str, *args: float) -> Layer:
    if not isinstance(layer, Layer):
        raise TypeError(f"{name} wraps a layer, got {type(layer).__name__}")
    if any(a < 0 for a in args):
        raise ValueError(f"{name} factors must be >= 0, got {list(args)}")
    layer.regularizer = (name, tuple(float(a) for a in args))
    return layer


def L1(l: Layer, l1: float = 0.01) -> Layer:
    """Add l1 * sum(|w|) over the layer's weights to the loss."""
    return _set(l, "L1", l1)


def L2(l: Layer, l2: float = 0.01) -> Layer:
    """Add l2 * sum(w^2) over the layer's weights to the loss."""
    return _set(l, "L2", l2)


def L1L2(l: Layer, l1: float = 0.01, l2: float = 0.01) -> Layer:
    """Add l1 * sum(|w|) + l2 * sum(w^2) over the layer's weights to the loss."""
    return _set(l, "L1L2", l1, l2)


def _weights(layer: Layer) -> list[torch.Tensor]:
    if layer.module is None:
        return []
    return [
        p
        for name, p in layer.module.named_parameters()
        if name.rsplit(".", 1)[-1].startswith("weight")
    ]


def regularization_penalty(layers: Iterable[Layer]) -> torch.Tensor:
    """The summed penalty of every regularized layer among `layers` (a 0-d tensor, 0 if none)."""
    total: torch.Tensor | None = None
    for layer in layers:
        if layer.regularizer is None:
            continue
        name, args = layer.regularizer
        if name == "L1":
            l1, l2 = args[0], 0.0
        elif name == "L2":
            l1, l2 = 0.0, args[0]
        elif name == "L1L2":
            l1, l2 = args
        else:
            raise ValueError(f"layer '{layer.name}' has unknown regularizer {name!r}")
        for w in _weights(layer):
            term = 0.0
            if l1:
                term = term + l1 * w.abs().sum()
            if l2:
                term = term + l2 * (w * w).sum()
            if isinstance(term, torch.Tensor):
                total = term if total is None else total + term
    if total is None:
        return torch.zeros(())
    return total
