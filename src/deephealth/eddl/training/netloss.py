"""pyeddl's `newloss`: a loss written as a graph of layers over the network's layers.

`newloss(f, [out, target], "name")` calls `f` on the given layers to build a loss layer; its value is
computed from the inputs of the last `forward`, sharing the network's weights. `compute_loss(L)`
returns the sum over every element of the loss layer's output for the batch (EDDL's convention;
divide by the batch size for a per-sample value), and `optimize(L)` back-propagates that value
divided by the batch size, so the step size does not depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from deephealth.eddl.layers.base import Layer


def _input_layers(layer: Layer) -> list[Layer]:
    found: dict[int, Layer] = {}
    stack, seen = [layer], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.kind == "Input":
            found[id(node)] = node
        stack.extend(node.parents)
    return list(found.values())


class NetLoss:
    """A loss defined by layers; create it with `newloss`.

    Attributes:
        name: Loss name.
        layer: The layer whose output is the loss.
    """

    def __init__(self, f: Callable[..., Layer], in_: Layer | Sequence[Layer], name: str) -> None:
        from deephealth.eddl.model import Model

        self.name = name
        self.layer = f(list(in_)) if isinstance(in_, (list, tuple)) else f(in_)
        self.inputs = _input_layers(self.layer)
        self.model = Model(self.inputs, [self.layer], name=f"newloss_{name}")
        self._pending: torch.Tensor | None = None
        # pyeddl's NetLoss fields
        self.input = list(in_) if isinstance(in_, (list, tuple)) else [in_]
        self.ginput, self.fout, self.graph = self.inputs, self.layer, self.model
        self.value = 0.0

    def _evaluate(self) -> torch.Tensor:
        values = []
        for layer in self.inputs:
            x = getattr(layer, "_last_value", None)
            if x is None:
                raise ValueError(
                    f"newloss '{self.name}': input '{layer.name}' has no value; "
                    "call forward(net, [x]) first"
                )
            values.append(x)
        graph = self.model.graph.to(values[0].device)
        return graph(*values)[0]

    def compute(self) -> float:
        """The loss of the last forward batch (sum over all elements), keeping it for `optimize`."""
        out = self._evaluate()
        total = out.sum()
        self._pending = total / out.shape[0]
        self.value = float(total.detach())
        return self.value

    def optimize(self) -> None:
        """Back-propagate the loss (per sample) into the network's gradients."""
        if self._pending is None:
            self.compute()
        pending, self._pending = self._pending, None
        pending.backward()

    def __repr__(self) -> str:
        return f"<NetLoss {self.name}>"


def newloss(f: Callable[..., Layer], in_: Layer | Sequence[Layer], name: str) -> NetLoss:
    """A loss built by `f` from layers (`f(list_of_layers)` or `f(layer)`)."""
    return NetLoss(f, in_, name)


def compute_loss(L: Any) -> float:
    """The value of a `newloss` loss on the last forward batch."""
    if not isinstance(L, NetLoss):
        raise TypeError(f"compute_loss takes a loss made by newloss, got {type(L).__name__}")
    return L.compute()


compute_metric = compute_loss


def optimize(L: Any) -> None:
    """Back-propagate a `newloss` loss (then call `update(net)`)."""
    if not isinstance(L, NetLoss):
        raise TypeError(f"optimize takes a loss made by newloss, got {type(L).__name__}")
    L.optimize()
