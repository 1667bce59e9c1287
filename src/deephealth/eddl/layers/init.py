"""Weight initializers (pyeddl's GlorotNormal, GlorotUniform, HeNormal, HeUniform, RandomNormal,
RandomUniform, Constant) and `initialize_layer`, which (re)initializes a layer's module.

An initializer wraps a layer, records itself as `layer.initializer = (name, args)` (plain values) and
returns the layer, as in pyeddl: `l = GlorotNormal(Dense(l, 10))`. `initialize_layer` then sets
every weight tensor of the layer's module (Linear/Conv/RNN/Embedding weights) with that initializer,
GlorotUniform when none was chosen, biases to zero, normalization layers to gamma = 1, beta = 0
with their running statistics reset. Fans follow torch's convention (fan_in = input channels x
receptive field). `seed=None` (the default here; pyeddl's 1234 is accepted) draws from torch's global
generator; an integer seed gives the same weights on every call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from deephealth.eddl.layers.base import Layer

_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def _fans(w: torch.Tensor) -> tuple[int, int]:
    if w.dim() < 2:
        return w.numel(), w.numel()
    return nn.init._calculate_fan_in_and_fan_out(w)


def _glorot_uniform(w: torch.Tensor, g: torch.Generator | None) -> None:
    fi, fo = _fans(w)
    bound = math.sqrt(6.0 / (fi + fo))
    w.uniform_(-bound, bound, generator=g)


def _glorot_normal(w: torch.Tensor, g: torch.Generator | None) -> None:
    fi, fo = _fans(w)
    w.normal_(0.0, math.sqrt(2.0 / (fi + fo)), generator=g)


def _he_uniform(w: torch.Tensor, g: torch.Generator | None) -> None:
    bound = math.sqrt(6.0 / _fans(w)[0])
    w.uniform_(-bound, bound, generator=g)


def _he_normal(w: torch.Tensor, g: torch.Generator | None) -> None:
    w.normal_(0.0, math.sqrt(2.0 / _fans(w)[0]), generator=g)


def _normal(w: torch.Tensor, g: torch.Generator | None, m: float, s: float) -> None:
    w.normal_(m, s, generator=g)


def _uniform(w: torch.Tensor, g: torch.Generator | None, lo: float, hi: float) -> None:
    w.uniform_(lo, hi, generator=g)


def _constant(w: torch.Tensor, g: torch.Generator | None, v: float) -> None:
    w.fill_(v)


# name -> fill(weight, generator, *args)
INITIALIZERS: dict[str, Callable[..., None]] = {
    "GlorotUniform": _glorot_uniform,
    "GlorotNormal": _glorot_normal,
    "HeUniform": _he_uniform,
    "HeNormal": _he_normal,
    "RandomNormal": _normal,
    "RandomUniform": _uniform,
    "Constant": _constant,
}


def _set(layer: Layer, name: str, args: tuple[Any, ...], seed: int | None) -> Layer:
    if not isinstance(layer, Layer):
        raise TypeError(f"{name} wraps a layer, got {type(layer).__name__}")
    layer.initializer = (name, (*args, seed))
    return layer


def _seed(seed: int | None) -> int | None:
    return None if seed is None or seed == 1234 else int(seed)


def GlorotUniform(l: Layer, seed: int | None = None) -> Layer:
    """Uniform in [-b, b], b = sqrt(6 / (fan_in + fan_out)) (the default initializer)."""
    return _set(l, "GlorotUniform", (), _seed(seed))


def GlorotNormal(l: Layer, seed: int | None = None) -> Layer:
    """Normal with std sqrt(2 / (fan_in + fan_out))."""
    return _set(l, "GlorotNormal", (), _seed(seed))


def HeUniform(l: Layer, seed: int | None = None) -> Layer:
    """Uniform in [-b, b], b = sqrt(6 / fan_in)."""
    return _set(l, "HeUniform", (), _seed(seed))


def HeNormal(l: Layer, seed: int | None = None) -> Layer:
    """Normal with std sqrt(2 / fan_in)."""
    return _set(l, "HeNormal", (), _seed(seed))


def RandomNormal(l: Layer, m: float = 0.0, s: float = 0.1, seed: int | None = None) -> Layer:
    """Normal with mean `m` and standard deviation `s`."""
    if s < 0:
        raise ValueError(f"RandomNormal needs s >= 0, got {s}")
    return _set(l, "RandomNormal", (float(m), float(s)), _seed(seed))


def RandomUniform(
    l: Layer,
    min: float = 0.0,  # noqa: A002 (pyeddl/pyecvl signature)
    max: float = 0.1,  # noqa: A002 (pyeddl/pyecvl signature)
    seed: int | None = None,
) -> Layer:
    """Uniform in [min, max]."""
    if min > max:
        raise ValueError(f"RandomUniform needs min <= max, got {min} > {max}")
    return _set(l, "RandomUniform", (float(min), float(max)), _seed(seed))


def Constant(l: Layer, v: float = 0.1) -> Layer:
    """Every weight equal to `v`."""
    return _set(l, "Constant", (float(v),), None)


def initialize_layer(layer: Layer) -> None:
    """(Re)initialize the weights of `layer`'s module in place (see the module doc)."""
    module = layer.module
    if module is None:
        return
    name, args = layer.initializer or ("GlorotUniform", (None,))
    if name not in INITIALIZERS:
        raise ValueError(f"layer '{layer.name}' has unknown initializer {name!r}")
    *values, seed = args
    gen = None
    if seed is not None:
        gen = torch.Generator().manual_seed(int(seed))
    fill = INITIALIZERS[name]
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, _NORMS):
                if getattr(sub, "weight", None) is not None:
                    nn.init.ones_(sub.weight)
                if getattr(sub, "bias", None) is not None:
                    nn.init.zeros_(sub.bias)
                if hasattr(sub, "reset_running_stats") and getattr(sub, "track_running_stats", 0):
                    sub.reset_running_stats()
                continue
            for pname, p in sub.named_parameters(recurse=False):
                if pname.startswith("bias"):
                    p.zero_()
                else:
                    _fill(fill, p, gen, values)
            if isinstance(sub, nn.Embedding) and sub.padding_idx is not None:
                sub.weight[sub.padding_idx].zero_()


def _fill(
    fill: Callable[..., None], p: torch.Tensor, gen: torch.Generator | None, values: list
) -> None:
    """Fill `p`, drawing on the CPU when a seeded generator is given (device independent)."""
    if gen is None or p.device.type == "cpu":
        fill(p, gen, *values)
        return
    tmp = torch.empty(p.shape, dtype=p.dtype)
    fill(tmp, gen, *values)
    p.copy_(tmp)
