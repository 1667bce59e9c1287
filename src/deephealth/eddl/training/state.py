"""`TrainState`: what `build` attaches to a `Model` (optimizer, losses, metrics, devices, counters).

It lives in `net.train_state` (typed; None until `build`). Loss and metric sums accumulate on the device as tensors (no
synchronization per step); `losses()`/`metrics()` divide them by the samples seen since the last
`reset()`. `get_state(net)` fetches it with a clear error when `build` has not been called.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from deephealth.eddl.computing import ComputingService
from deephealth.eddl.training.losses import Loss
from deephealth.eddl.training.metrics import Metric
from deephealth.eddl.training.optimizers import OptimizerSpec
from deephealth.eddl.training.strategy import Strategy
from deephealth.errors import EddlError

if TYPE_CHECKING:
    from deephealth.eddl.layers.base import Layer
    from deephealth.eddl.model import Model


class NotBuiltError(EddlError, RuntimeError):
    """A training function was called on a network that `build` has not prepared."""


@dataclass
class TrainState:
    """Everything a built network needs to train and evaluate.

    Attributes:
        net: The model.
        spec: Optimizer spec (None: the network can only be evaluated).
        optimizer: The torch optimizer over the network's weights.
        losses: One loss per output (may be empty: `newloss` workflows).
        metrics: (output index, metric) pairs.
        cs: The computing service.
        device: Main device.
        graph: Module computing the outputs (predict/evaluate).
        train_graph: Module computing the training outputs (logits where an activation is fused
            into its loss).
        fused: Per output, the activation ("softmax"/"sigmoid", torch dim) folded into the loss.
        strategy: Data sharding / gradient combination hooks.
        reg_layers: Layers with a weight regularizer (their penalty is added to the loss).
    """

    net: Model
    spec: OptimizerSpec | None
    optimizer: torch.optim.Optimizer | None
    losses: list[Loss]
    metrics: list[tuple[int, Metric]]
    cs: ComputingService
    device: torch.device
    graph: nn.Module
    train_graph: nn.Module
    fused: list[tuple[str, int] | None]
    strategy: Strategy
    reg_layers: list[Layer] = field(default_factory=list)
    scaler: Any = None
    loss_sum: torch.Tensor | None = None
    metric_sum: torch.Tensor | None = None
    seen: int = 0
    batches: int = 0
    mode: int = 1
    last_inputs: list[torch.Tensor] | None = None
    last_outputs: list[torch.Tensor] | None = None
    last_feed: list[torch.Tensor] | None = None  # the last batch's inputs (+ decoder feed)
    last_total: torch.Tensor | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    log_callbacks: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.on_cpu = self.device.type == "cpu"
        # argmax metrics read logits as well as probabilities: skip the activation for them
        self.metrics_need_activation = any(
            self.fused[i] is not None and not getattr(m, "argmax_only", False)
            for i, m in self.metrics
        )
        self.reset()

    # -- counters -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Zero the loss and metric sums (pyeddl's reset_loss)."""
        self.loss_sum = torch.zeros(len(self.losses), device=self.device)
        self.metric_sum = torch.zeros(len(self.metrics), device=self.device)
        self.seen = 0
        self.batches = 0

    def loss_names(self) -> list[str]:
        """Names of the losses, in output order."""
        return [loss.name for loss in self.losses]

    def metric_names(self) -> list[str]:
        """Names of the metrics, in build order."""
        return [metric.name for _, metric in self.metrics]

    def _means(self, sums: torch.Tensor, all_workers: bool) -> list[float]:
        """Per-sample means of `sums`: this worker's, or every worker's (a collective call)."""
        seen = torch.tensor([float(self.seen)], device=sums.device, dtype=sums.dtype)
        total = torch.cat([sums, seen])
        if all_workers:
            total = self.strategy.reduce(total)
        values = total.tolist()
        n = max(values[-1], 1.0)
        return [float(v) / n for v in values[:-1]]

    def losses_now(self, all_workers: bool = False) -> list[float]:
        """Mean loss per sample since the last reset (synchronizes with the device).

        Args:
            all_workers: Sum over every worker of a distributed run. Every worker must then make
                the same call at the same point (epoch ends do); progress reads stay local.
        """
        assert self.loss_sum is not None  # set by reset() in __post_init__
        return self._means(self.loss_sum, all_workers)

    def metrics_now(self, all_workers: bool = False) -> list[float]:
        """Mean metric per sample since the last reset (see `losses_now`)."""
        assert self.metric_sum is not None
        return self._means(self.metric_sum, all_workers)

    def summary(self) -> dict[str, float]:
        """{name: value} of every loss and metric since the last reset."""
        out = dict(zip(self.loss_names(), self.losses_now()))
        out.update(zip(self.metric_names(), self.metrics_now()))
        return out

    # -- execution helpers ----------------------------------------------------------------------
    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed-precision context when the computing service asks for it."""
        dtype = self.cs.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def set_mode(self, mode: int) -> None:
        """1: training (dropout, batch statistics, augmentation on); 0: inference."""
        self.mode = int(bool(mode))
        self.graph.train(bool(mode))
        self.train_graph.train(bool(mode))


def get_state(net: Model) -> TrainState:
    """The `TrainState` of a built network.

    Raises:
        NotBuiltError: naming the model, when `build` has not been called.
    """
    state = getattr(net, "train_state", None)
    if state is None:
        raise NotBuiltError(
            f"model '{getattr(net, 'name', net)}' is not built; call "
            "eddl.build(net, optimizer, losses, metrics, cs) first"
        )
    return state
