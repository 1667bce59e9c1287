"""Activation layers: one layer kind, `Activation`, whose `act` parameter picks the function.

pyeddl's ReLu, Sigmoid, Softmax, ... are thin constructors over `Activation(parent, act, params)`;
the table `ACTIVATIONS` maps each name to its torch function and the names of its parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deephealth.eddl.layers.base import (
    Layer,
    LayerSpec,
    Shape,
    ShapeError,
    register,
    single,
)


def _softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    return torch.softmax(x, dim=axis if axis < 0 else axis + 1)


def _hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


def _linear(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return x * alpha


def _thresholded_relu(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return x * (x > alpha).to(x.dtype)


# name -> (function(x, *params), parameter names with defaults); named functions only, so that
# the modules pickle (checkpoints of whole modules, multiprocessing)
ACTIVATIONS: dict[str, tuple[Callable[..., torch.Tensor], dict[str, float]]] = {
    "relu": (F.relu, {}),
    "leaky_relu": (F.leaky_relu, {"alpha": 0.01}),
    "elu": (F.elu, {"alpha": 1.0}),
    "selu": (F.selu, {}),
    "sigmoid": (torch.sigmoid, {}),
    "hard_sigmoid": (_hard_sigmoid, {}),
    "softmax": (_softmax, {"axis": -1}),
    "softplus": (F.softplus, {}),
    "softsign": (F.softsign, {}),
    "tanh": (torch.tanh, {}),
    "linear": (_linear, {"alpha": 1.0}),
    "exp": (torch.exp, {}),
    "thresholded_relu": (_thresholded_relu, {"alpha": 1.0}),
}


class ActivationModule(nn.Module):
    """Applies one entry of `ACTIVATIONS` with fixed parameters."""

    def __init__(self, act: str, values: Sequence[float]) -> None:
        super().__init__()
        self.act = act
        self.fn = ACTIVATIONS[act][0]
        self.values = tuple(values)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, *self.values)

    def extra_repr(self) -> str:
        return f"{self.act}{self.values or ''}"


@register
class ActivationSpec(LayerSpec):
    """Element-wise activation (softmax along an axis)."""

    kind = "Activation"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        if params["act"] == "softmax":
            axis = params["params"][0]
            if not -len(shape) <= axis < len(shape):
                raise ShapeError(f"softmax axis {axis} is outside a {len(shape)}-D input {shape}")
        return shape

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return ActivationModule(params["act"], params["params"])


def Activation(
    parent: Layer, activation: str, params: Sequence[float] = (), name: str = ""
) -> Layer:
    """Apply the activation named `activation` (see `ACTIVATIONS`) with optional parameters.

    As EDDL, parameters beyond those the activation takes are ignored (e.g. `"relu", [0.02]`).
    """
    if activation not in ACTIVATIONS:
        valid = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {activation!r}; valid: {valid}")
    defaults = ACTIVATIONS[activation][1]
    values = list(params)[: len(defaults)] + list(defaults.values())[len(params) :]
    values = [int(v) if activation == "softmax" else float(v) for v in values]
    params = {"act": activation, "params": values}
    return Layer("Activation", [parent], params, name or None, stem=activation.replace("_", ""))


def ReLu(parent: Layer, name: str = "") -> Layer:
    """Rectified linear unit."""
    return Activation(parent, "relu", (), name)


def LeakyReLu(parent: Layer, alpha: float = 0.01, name: str = "") -> Layer:
    """Leaky ReLU with negative slope `alpha`."""
    return Activation(parent, "leaky_relu", (alpha,), name)


def Elu(parent: Layer, alpha: float = 1.0, name: str = "") -> Layer:
    """Exponential linear unit."""
    return Activation(parent, "elu", (alpha,), name)


def Selu(parent: Layer, name: str = "") -> Layer:
    """Scaled ELU."""
    return Activation(parent, "selu", (), name)


def Sigmoid(parent: Layer, name: str = "") -> Layer:
    """Logistic sigmoid."""
    return Activation(parent, "sigmoid", (), name)


def HardSigmoid(parent: Layer, name: str = "") -> Layer:
    """Piecewise-linear sigmoid, clamp(0.2 x + 0.5, 0, 1)."""
    return Activation(parent, "hard_sigmoid", (), name)


def Softmax(parent: Layer, axis: int = -1, name: str = "") -> Layer:
    """Softmax along `axis` (batch excluded; -1 is the last axis)."""
    return Activation(parent, "softmax", (axis,), name)


def Softplus(parent: Layer, name: str = "") -> Layer:
    """log(1 + exp(x))."""
    return Activation(parent, "softplus", (), name)


def Softsign(parent: Layer, name: str = "") -> Layer:
    """x / (1 + |x|)."""
    return Activation(parent, "softsign", (), name)


def Tanh(parent: Layer, name: str = "") -> Layer:
    """Hyperbolic tangent."""
    return Activation(parent, "tanh", (), name)


def Linear(parent: Layer, alpha: float = 1.0, name: str = "") -> Layer:
    """alpha * x."""
    return Activation(parent, "linear", (alpha,), name)


def Exponential(parent: Layer, name: str = "") -> Layer:
    """exp(x)."""
    return Activation(parent, "exp", (), name)


def ThresholdedReLu(parent: Layer, alpha: float = 1.0, name: str = "") -> Layer:
    """x where x > alpha, else 0."""
    return Activation(parent, "thresholded_relu", (alpha,), name)
