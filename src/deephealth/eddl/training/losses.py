"""Losses: the table of built-in losses by name and alias, and pyeddl's user-defined `Loss`.

A loss maps (output, target) torch tensors to a scalar to minimize. Built-ins follow EDDL:
cross-entropies are summed over classes (and positions) and averaged over the batch; mse/mae are
means over elements. A built-in that knows the activation in front of it (`fused_act`) can take the
pre-activation values instead (`from_logits`), which the trainer uses when the network ends in that
activation: same value, better numerics (log-softmax instead of log(softmax)).

User losses: subclass `Loss` and implement either `compute(output, target) -> torch scalar`
(differentiable torch code) or pyeddl's pair `value(t, y) -> float` and `delta(t, y, d)` (which
writes d(loss)/dy into the Tensor `d`); or pass any callable `f(output, target) -> torch scalar`
(`torch.nn.functional.mse_loss` works as is).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from deephealth.eddl.training.detection_losses import (
    centernet,
    centernet_offsets,
    fcos,
    giou,
    sigmoid_focal,
)
from deephealth.eddl.training.survival_losses import cox_breslow, discrete_time_nll, huber

EPS = 1e-7


class Loss:
    """A loss function (pyeddl's `Loss`); subclass it for a Python-defined loss.

    Args:
        name: Name used in logs, `get_losses` and `print_loss`.
    """

    fused_act: str | None = None

    def __init__(self, name: str = "loss") -> None:
        self.name = name

    def value(self, t: Any, y: Any) -> float:
        """pyeddl hook: the loss of outputs `y` against targets `t` (Tensors)."""
        raise NotImplementedError(
            f"loss {self.name!r}: implement compute(output, target) or value(t, y) + delta(t, y, d)"
        )

    def delta(self, t: Any, y: Any, d: Any) -> None:
        """pyeddl hook: write d(loss)/d(y) into the Tensor `d`."""
        raise NotImplementedError(f"loss {self.name!r} defines value() but not delta(t, y, d)")

    def compute(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The differentiable scalar loss (defaults to pyeddl's value/delta pair)."""
        return _ValueDelta.apply(output, target, self)

    def from_logits(self, z: torch.Tensor, target: torch.Tensor, dim: int) -> torch.Tensor:
        """The loss computed from pre-activation values `z` (only when `fused_act` is set)."""
        raise NotImplementedError

    def target_shape(self, output_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one target sample for an output sample of `output_shape` (default: equal)."""
        return output_shape

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.compute(output, target)

    def __repr__(self) -> str:
        return f"<Loss {self.name}>"


class _ValueDelta(torch.autograd.Function):
    """Runs pyeddl's `value` forward and `delta` backward on Tensor wrappers."""

    @staticmethod
    def forward(ctx: Any, output: torch.Tensor, target: torch.Tensor, loss: Loss) -> torch.Tensor:
        from deephealth.eddl.tensor import Tensor

        t, y = Tensor.wrap(target.detach().float()), Tensor.wrap(output.detach().float())
        ctx.save_for_backward(output, target)
        ctx.loss = loss
        return torch.as_tensor(float(loss.value(t, y)), dtype=output.dtype, device=output.device)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        from deephealth.eddl.tensor import Tensor

        output, target = ctx.saved_tensors
        d = Tensor.wrap(torch.zeros_like(output, dtype=torch.float32))
        ctx.loss.delta(
            Tensor.wrap(target.detach().float()), Tensor.wrap(output.detach().float()), d
        )
        return (grad * d.torch).to(output.dtype), None, None


class FunctionLoss(Loss):
    """A loss defined by a function `fn(output, target) -> scalar` (and optionally from logits)."""

    def __init__(
        self,
        name: str,
        fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        logits_fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor] | None = None,
        fused_act: str | None = None,
        target_sample: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__(name)
        self.fn = fn
        self.logits_fn = logits_fn
        self.fused_act = fused_act
        self.target_sample = target_sample

    def target_shape(self, output_shape: tuple[int, ...]) -> tuple[int, ...]:
        return output_shape if self.target_sample is None else self.target_sample

    def compute(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.fn(output, target)

    def from_logits(self, z: torch.Tensor, target: torch.Tensor, dim: int) -> torch.Tensor:
        return self.logits_fn(z, target, dim)

    def value(self, t: Any, y: Any) -> float:
        """pyeddl: the loss of outputs `y` against targets `t` summed over the batch (EDDL's scale)."""
        from deephealth.eddl.tensor import as_torch

        out = as_torch(y).float()
        return float(self.compute(out, as_torch(t).float())) * out.shape[0]

    def delta(self, t: Any, y: Any, d: Any) -> None:
        """pyeddl: write EDDL's gradient of the loss with respect to `y` into the Tensor `d`.

        mse and softmax cross-entropy use EDDL's closed forms ((y - t) / batch); the other losses
        write the gradient of the batch-mean loss.
        """
        from deephealth.eddl.tensor import as_torch

        out, target = as_torch(y).detach().float(), as_torch(t).detach().float()
        closed = _EDDL_DELTAS.get(getattr(self, "key", ""))
        if closed is not None:
            grad = closed(out, target) / out.shape[0]
        else:
            out = out.clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.compute(out, target), out)
        dest = as_torch(d)
        dest.copy_(grad.reshape(dest.shape))


def _is_index_target(y: torch.Tensor, t: torch.Tensor) -> bool:
    return not t.is_floating_point() and t.dim() == y.dim() - 1


def _cross_entropy(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    logp = torch.log(y.float().clamp_min(EPS))
    if _is_index_target(y, t):
        return F.nll_loss(logp, t.long())
    return -(t * logp).sum() / y.shape[0]


def _cross_entropy_logits(z: torch.Tensor, t: torch.Tensor, dim: int) -> torch.Tensor:
    if z.dim() == 2 and dim % 2 == 1:  # (N, C): torch's fused kernel, same value
        return F.cross_entropy(z.float(), t.long() if _is_index_target(z, t) else t.float())
    return -(t * torch.log_softmax(z.float(), dim)).sum() / z.shape[0]


def _bce(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy(y.float().clamp(EPS, 1 - EPS), t.float())


def _bce_logits(z: torch.Tensor, t: torch.Tensor, dim: int) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(z.float(), t.float())


def _dice(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    y, t = y.float().flatten(1), t.float().flatten(1)
    score = (2 * (y * t).sum(1) + EPS) / (y.sum(1) + t.sum(1) + EPS)
    return 1 - score.mean()


def _focal(y: torch.Tensor, t: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    y = y.float().clamp(EPS, 1 - EPS)
    return -(t * (1 - y) ** gamma * torch.log(y)).sum() / y.shape[0]


def _focal_logits(z: torch.Tensor, t: torch.Tensor, dim: int, gamma: float = 2.0) -> torch.Tensor:
    logp = torch.log_softmax(z.float(), dim)
    return -(t * (1 - logp.exp()) ** gamma * logp).sum() / z.shape[0]


def _regression(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    return lambda y, t: fn(y.float(), t.float())


# canonical name -> (function, from-logits function, activation it fuses with)
LOSSES: dict[
    str, tuple[Callable[..., torch.Tensor], Callable[..., torch.Tensor] | None, str | None]
]
LOSSES = {
    "softmax_cross_entropy": (_cross_entropy, _cross_entropy_logits, "softmax"),
    "categorical_cross_entropy": (_cross_entropy, _cross_entropy_logits, "softmax"),
    "binary_cross_entropy": (_bce, _bce_logits, "sigmoid"),
    "mean_squared_error": (_regression(F.mse_loss), None, None),
    "mean_absolute_error": (_regression(F.l1_loss), None, None),
    "dice": (_dice, None, None),
    "focal": (_focal, _focal_logits, "softmax"),
    "huber": (huber, None, None),
    "cox": (cox_breslow, None, None),
    "discrete_time_survival": (discrete_time_nll, None, None),
    "sigmoid_focal": (sigmoid_focal, None, None),
    "giou": (giou, None, None),
    "fcos": (fcos, None, None),
    "centernet": (centernet, None, None),
    "centernet_offsets": (centernet_offsets, None, None),
}
# losses whose target sample has a fixed shape of its own: survival's (time, event)
TARGET_SHAPES: dict[str, tuple[int, ...]] = {"cox": (2,), "discrete_time_survival": (2,)}
LOSS_ALIASES = {
    "soft_cross_entropy": "softmax_cross_entropy",
    "sce": "softmax_cross_entropy",
    "cce": "categorical_cross_entropy",
    "ce": "categorical_cross_entropy",
    "cross_entropy": "categorical_cross_entropy",
    "bce": "binary_cross_entropy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "l1": "mean_absolute_error",
    "dice_loss": "dice",
    "focal_loss": "focal",
    "smooth_l1": "huber",
    "cox_ph": "cox",
}


# EDDL's delta for these losses is a closed form that is not the gradient of its value
_EDDL_DELTAS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mean_squared_error": torch.sub,
    "softmax_cross_entropy": torch.sub,
}


def loss_names() -> list[str]:
    """Every accepted loss name and alias, sorted."""
    return sorted([*LOSSES, *LOSS_ALIASES])


def getLoss(name: str) -> Loss:
    """The built-in loss called `name` (or an alias).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    key = LOSS_ALIASES.get(str(name).lower(), str(name).lower())
    if key not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid losses: {', '.join(loss_names())}")
    fn, logits_fn, act = LOSSES[key]
    loss = FunctionLoss(str(name), fn, logits_fn, act, TARGET_SHAPES.get(key))
    loss.key = key
    return loss


def as_loss(spec: str | Loss | Callable[..., torch.Tensor]) -> Loss:
    """Turn a name, a `Loss` or a callable `f(output, target)` into a `Loss`."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str):
        return getLoss(spec)
    if callable(spec):
        return FunctionLoss(getattr(spec, "__name__", "loss"), spec)
    raise TypeError(f"a loss must be a name, a Loss or a callable, got {type(spec).__name__}")
