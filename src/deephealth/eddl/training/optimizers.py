"""Optimizers: pyeddl's constructors (`sgd`, `adam`, ...) over one table of torch optimizers.

`sgd(0.01, 0.9)` returns an `OptimizerSpec` (a name and pyeddl-named hyperparameters); `build`
materializes it as a `torch.optim.Optimizer` over the network's trainable weights. A spec can also be
named by a string in `build` (`"adam"`, `"rms_prop"`, ...). `setlr(net, [lr, ...])` changes the
learning rate and, positionally, the other hyperparameters in the constructor's order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch


def _betas(p: dict[str, Any]) -> tuple[float, float]:
    return (p["beta_1"], p["beta_2"])


# name -> (torch class, pyeddl defaults in order, mapping pyeddl params -> torch kwargs)
OPTIMIZERS: dict[str, tuple[type, dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "sgd": (
        torch.optim.SGD,
        {"lr": 0.01, "momentum": 0.0, "weight_decay": 0.0, "nesterov": False},
        lambda p: {
            "lr": p["lr"],
            "momentum": p["momentum"],
            "weight_decay": p["weight_decay"],
            "nesterov": bool(p["nesterov"]),
        },
    ),
    "adam": (
        torch.optim.Adam,
        {
            "lr": 0.01,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-6,
            "weight_decay": 0.0,
            "amsgrad": False,
        },
        lambda p: {
            "lr": p["lr"],
            "betas": _betas(p),
            "eps": p["epsilon"],
            "weight_decay": p["weight_decay"],
            "amsgrad": bool(p["amsgrad"]),
        },
    ),
    "adamw": (
        torch.optim.AdamW,
        {
            "lr": 0.001,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-8,
            "weight_decay": 0.01,
            "amsgrad": False,
        },
        lambda p: {
            "lr": p["lr"],
            "betas": _betas(p),
            "eps": p["epsilon"],
            "weight_decay": p["weight_decay"],
            "amsgrad": bool(p["amsgrad"]),
        },
    ),
    "rmsprop": (
        torch.optim.RMSprop,
        {"lr": 0.01, "rho": 0.9, "epsilon": 1e-5, "weight_decay": 0.0},
        lambda p: {
            "lr": p["lr"],
            "alpha": p["rho"],
            "eps": p["epsilon"],
            "weight_decay": p["weight_decay"],
        },
    ),
    "adagrad": (
        torch.optim.Adagrad,
        {"lr": 0.01, "epsilon": 1e-10, "weight_decay": 0.0},
        lambda p: {"lr": p["lr"], "eps": p["epsilon"], "weight_decay": p["weight_decay"]},
    ),
    "adadelta": (
        torch.optim.Adadelta,
        {"lr": 1.0, "rho": 0.9, "epsilon": 1e-6, "weight_decay": 0.0},
        lambda p: {
            "lr": p["lr"],
            "rho": p["rho"],
            "eps": p["epsilon"],
            "weight_decay": p["weight_decay"],
        },
    ),
    "adamax": (
        torch.optim.Adamax,
        {"lr": 0.002, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8, "weight_decay": 0.0},
        lambda p: {
            "lr": p["lr"],
            "betas": _betas(p),
            "eps": p["epsilon"],
            "weight_decay": p["weight_decay"],
        },
    ),
    "nadam": (
        torch.optim.NAdam,
        {"lr": 0.002, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8, "schedule_decay": 0.004},
        lambda p: {
            "lr": p["lr"],
            "betas": _betas(p),
            "eps": p["epsilon"],
            "momentum_decay": p["schedule_decay"],
        },
    ),
}
OPTIMIZER_ALIASES = {"rms_prop": "rmsprop", "adam_w": "adamw", "n_adam": "nadam"}


def optimizer_names() -> list[str]:
    """Every accepted optimizer name and alias, sorted."""
    return sorted([*OPTIMIZERS, *OPTIMIZER_ALIASES])


def _canonical(name: str) -> str:
    key = str(name).lower()
    key = OPTIMIZER_ALIASES.get(key, key)
    if key not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {name!r}; valid optimizers: {', '.join(optimizer_names())}"
        )
    return key


@dataclass
class OptimizerSpec:
    """An optimizer's name and hyperparameters, materialized by `build`.

    Attributes:
        name: Canonical name (a key of `OPTIMIZERS`).
        params: pyeddl-named hyperparameters, in the constructor's order.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def make(self, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        """A torch optimizer over `parameters`."""
        cls, _, to_torch = OPTIMIZERS[self.name]
        return cls(list(parameters), **to_torch(self.params))

    def set(self, values: Sequence[float], optimizer: torch.optim.Optimizer | None = None) -> None:
        """pyeddl's setlr: overwrite hyperparameters positionally (lr first) and apply them."""
        names = list(self.params)
        if not values or len(values) > len(names):
            raise ValueError(
                f"setlr for {self.name} takes 1 to {len(names)} values in the order {names}, "
                f"got {list(values)}"
            )
        for key, value in zip(names, values):
            self.params[key] = type(self.params[key])(value)
        if optimizer is not None:
            torch_kwargs = OPTIMIZERS[self.name][2](self.params)
            for group in optimizer.param_groups:
                group.update(torch_kwargs)

    @property
    def lr(self) -> float:
        """The learning rate."""
        return float(self.params["lr"])


def make_spec(name: str, *args: Any, **kwargs: Any) -> OptimizerSpec:
    """An `OptimizerSpec` for `name` with positional/keyword hyperparameters over the defaults."""
    key = _canonical(name)
    defaults = dict(OPTIMIZERS[key][1])
    names = list(defaults)
    if len(args) > len(names):
        raise TypeError(f"{key} takes at most {len(names)} hyperparameters {names}, got {args}")
    for k, v in zip(names, args):
        defaults[k] = v
    for k, v in kwargs.items():
        if k not in defaults:
            raise TypeError(f"{key} has no hyperparameter {k!r}; it has {names}")
        defaults[k] = v
    for k, v in defaults.items():
        defaults[k] = bool(v) if isinstance(OPTIMIZERS[key][1][k], bool) else float(v)
    if defaults["lr"] < 0:
        raise ValueError(f"{key}: the learning rate must be >= 0, got {defaults['lr']}")
    return OptimizerSpec(key, defaults)


def as_optimizer(spec: OptimizerSpec | str | None) -> OptimizerSpec | None:
    """Accept a spec, a name (default hyperparameters) or None."""
    if spec is None or isinstance(spec, OptimizerSpec):
        return spec
    if isinstance(spec, str):
        return make_spec(spec)
    raise TypeError(f"an optimizer must be sgd(...), adam(...), ... or a name; got {spec!r}")


def sgd(
    lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False
) -> OptimizerSpec:
    """Stochastic gradient descent with optional (Nesterov) momentum."""
    return make_spec("sgd", lr, momentum, weight_decay, nesterov)


def adam(
    lr: float = 0.01,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-6,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
) -> OptimizerSpec:
    """Adam (pyeddl defaults: lr 0.01, epsilon 1e-6)."""
    return make_spec("adam", lr, beta_1, beta_2, epsilon, weight_decay, amsgrad)


def adamw(
    lr: float = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    weight_decay: float = 0.01,
    amsgrad: bool = False,
) -> OptimizerSpec:
    """AdamW (decoupled weight decay)."""
    return make_spec("adamw", lr, beta_1, beta_2, epsilon, weight_decay, amsgrad)


def rmsprop(
    lr: float = 0.01, rho: float = 0.9, epsilon: float = 1e-5, weight_decay: float = 0.0
) -> OptimizerSpec:
    """RMSProp."""
    return make_spec("rmsprop", lr, rho, epsilon, weight_decay)


def adagrad(lr: float = 0.01, epsilon: float = 1e-10, weight_decay: float = 0.0) -> OptimizerSpec:
    """Adagrad."""
    return make_spec("adagrad", lr, epsilon, weight_decay)


def adadelta(
    lr: float = 1.0, rho: float = 0.9, epsilon: float = 1e-6, weight_decay: float = 0.0
) -> OptimizerSpec:
    """Adadelta."""
    return make_spec("adadelta", lr, rho, epsilon, weight_decay)


def adamax(
    lr: float = 0.002,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    weight_decay: float = 0.0,
) -> OptimizerSpec:
    """Adamax (Adam with the infinity norm)."""
    return make_spec("adamax", lr, beta_1, beta_2, epsilon, weight_decay)


def nadam(
    lr: float = 0.002,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    schedule_decay: float = 0.004,
) -> OptimizerSpec:
    """Nadam (Adam with Nesterov momentum)."""
    return make_spec("nadam", lr, beta_1, beta_2, epsilon, schedule_decay)
