"""Metrics: the table of built-in metrics by name and alias, and pyeddl's user-defined `Metric`.

A metric maps (output, target) of one batch to the SUM of its per-sample values as a torch scalar
(EDDL's convention); the trainer accumulates these sums on the device without synchronizing and
divides by the number of samples when asked (`get_metrics`, epoch events). The class axis is 1.
Targets for the accuracy metrics may be one-hot (as pyeddl) or integer class indices.

User metrics: subclass `Metric` and implement `value(t, y) -> float` (pyeddl: the batch sum, with
Tensors) or `compute(output, target) -> torch scalar` (the batch sum), or pass a callable
`f(output, target) -> torch scalar` returning the batch MEAN (it is weighted by the batch size).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

EPS = 1e-7


class Metric:
    """A metric (pyeddl's `Metric`); subclass it for a Python-defined metric.

    Args:
        name: Name used in logs and `get_metrics`.
    """

    argmax_only: bool = False  # True: gives the same value on logits as on softmax outputs

    def __init__(self, name: str = "metric") -> None:
        self.name = name

    def value(self, t: Any, y: Any) -> float:
        """pyeddl hook: the metric summed over the batch, from targets `t` and outputs `y`."""
        raise NotImplementedError(f"metric {self.name!r}: implement value(t, y) or compute()")

    def compute(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The batch sum as a torch scalar (defaults to pyeddl's `value`)."""
        from deephealth.eddl.tensor import Tensor

        t, y = Tensor.wrap(target.detach().float()), Tensor.wrap(output.detach().float())
        return torch.as_tensor(float(self.value(t, y)), device=output.device)

    def __call__(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.compute(output, target)

    def __repr__(self) -> str:
        return f"<Metric {self.name}>"


class FunctionMetric(Metric):
    """A metric from a function; `mean=True` means the function returns a batch mean."""

    def __init__(self, name: str, fn: Callable[..., torch.Tensor], mean: bool = False) -> None:
        super().__init__(name)
        self.fn = fn
        self.mean = mean

    def compute(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        value = torch.as_tensor(self.fn(output, target), device=output.device)
        return value * output.shape[0] if self.mean else value

    def value(self, t: Any, y: Any) -> float:
        """pyeddl: the metric of outputs `y` against targets `t` summed over the batch."""
        from deephealth.eddl.tensor import as_torch

        return float(self.compute(as_torch(y).float(), as_torch(t).float()))


def _per_sample(values: torch.Tensor) -> torch.Tensor:
    """Sum over the batch of each sample's mean."""
    return values.float().flatten(1).mean(1).sum() if values.dim() > 1 else values.float().sum()


def _labels(y: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pred = y.argmax(1)
    if not t.is_floating_point() and t.dim() == y.dim() - 1:
        return pred, t.long()
    return pred, t.argmax(1)


def _categorical_accuracy(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    pred, true = _labels(y, t)
    hits = pred == true
    return hits.sum() if hits.dim() == 1 else _per_sample(hits)


def _binary_accuracy(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return _per_sample((y > 0.5) == (t > 0.5))


def _dice(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    y, t = y.float().flatten(1), t.float().flatten(1)
    return ((2 * (y * t).sum(1) + EPS) / (y.sum(1) + t.sum(1) + EPS)).sum()


def _iou(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    y, t = (y > 0.5).flatten(1), (t > 0.5).flatten(1)
    inter, union = (y & t).sum(1).float(), (y | t).sum(1).float()
    return ((inter + EPS) / (union + EPS)).sum()


def _concordance(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Harrell's C of risk scores `y` against (time, event) targets within the batch, times the
    batch size (0.5 when the batch has no comparable pair)."""
    risk, time, event = y.float().reshape(len(y), -1)[:, 0], t[:, 0].float(), t[:, 1] > 0
    pair = (time[:, None] < time[None, :]) & event[:, None]
    diff = risk[:, None] - risk[None, :]
    hits = ((diff > 0).float() + 0.5 * (diff == 0).float())[pair].sum()
    count = pair.sum()
    c = hits / count if count > 0 else torch.tensor(0.5, device=y.device)
    return c * len(y)


METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "categorical_accuracy": _categorical_accuracy,
    "binary_accuracy": _binary_accuracy,
    "mean_squared_error": lambda y, t: _per_sample((y.float() - t.float()) ** 2),
    "mean_absolute_error": lambda y, t: _per_sample((y.float() - t.float()).abs()),
    "mean_relative_error": lambda y, t: _per_sample(
        (y.float() - t.float()).abs() / (t.float().abs() + EPS)
    ),
    "dice": _dice,
    "iou": _iou,
    "concordance": _concordance,
}
METRIC_ALIASES = {
    "accuracy": "categorical_accuracy",
    "acc": "categorical_accuracy",
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mre": "mean_relative_error",
    "jaccard": "iou",
}


def metric_names() -> list[str]:
    """Every accepted metric name and alias, sorted."""
    return sorted([*METRICS, *METRIC_ALIASES])


def getMetric(name: str) -> Metric:
    """The built-in metric called `name` (or an alias).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    key = METRIC_ALIASES.get(str(name).lower(), str(name).lower())
    if key not in METRICS:
        raise ValueError(f"unknown metric {name!r}; valid metrics: {', '.join(metric_names())}")
    metric = FunctionMetric(str(name), METRICS[key])
    metric.argmax_only = key == "categorical_accuracy"  # same result on logits and softmax
    return metric


def as_metric(spec: str | Metric | Callable[..., torch.Tensor]) -> Metric:
    """Turn a name, a `Metric` or a callable `f(output, target) -> batch mean` into a `Metric`."""
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, str):
        return getMetric(spec)
    if callable(spec):
        return FunctionMetric(getattr(spec, "__name__", "metric"), spec, mean=True)
    raise TypeError(f"a metric must be a name, a Metric or a callable, got {type(spec).__name__}")
