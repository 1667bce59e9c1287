"""Training strategies: how `fit` shards data and combines gradients across workers.

The default `LocalStrategy` trains in one process on one device. `DataParallelStrategy` splits each
batch over several local GPUs (`CS_GPU([1, 1])`). The distributed wing supplies its own subclass
(rank, world size, index sharding, gradient all-reduce); `fit` only calls these hooks, and runs its
logging and checkpoint callbacks on the main rank only (`is_main`). When `build` is given no
strategy, it asks the hooks registered with `register_default_strategy` (the distributed package
registers one when imported), so training never imports the distributed package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from deephealth.eddl.computing import ComputingService
    from deephealth.eddl.training.state import TrainState

StrategyHook = Callable[
    ["ComputingService", torch.device, "Strategy | None"], "tuple[Strategy | None, torch.device]"
]
_DEFAULT_HOOKS: list[StrategyHook] = []


def register_default_strategy(hook: StrategyHook) -> None:
    """Let `hook(cs, device, strategy) -> (strategy, device)` choose the strategy `build` uses."""
    if hook not in _DEFAULT_HOOKS:
        _DEFAULT_HOOKS.append(hook)


def default_strategy(
    cs: ComputingService, device: torch.device, strategy: Strategy | None
) -> tuple[Strategy | None, torch.device]:
    """The strategy and device after every registered hook had its say (unchanged by default)."""
    for hook in _DEFAULT_HOOKS:
        strategy, device = hook(cs, device, strategy)
    return strategy, device


class Strategy:
    """One-process training; the base of every strategy.

    Attributes:
        rank: This worker's rank (0 for the main one).
        world_size: Number of workers.
    """

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """True on the worker that logs and writes checkpoints."""
        return self.rank == 0

    def setup(self, state: TrainState) -> None:
        """Wrap the state's graphs (e.g. DataParallel / DDP) once, at build time."""

    def shard(self, indices: torch.Tensor) -> torch.Tensor:
        """This worker's share of an epoch's sample order (all of it by default)."""
        return indices

    def batch_indices(self, order: torch.Tensor, batch: int, drop_last: bool) -> list[torch.Tensor]:
        """Sample indices of each batch this worker computes in an epoch (contiguous slices)."""
        order = self.shard(order)
        n = order.numel()
        stop = n - n % batch if drop_last else n
        return [order[lo : min(lo + batch, n)] for lo in range(0, stop, batch)]

    def before_backward(self, state: TrainState, n_local: int) -> None:
        """Called after the forward pass and the loss, before the backward pass."""

    def after_backward(self, state: TrainState, n_local: int | None = None) -> None:
        """Combine gradients across workers before the optimizer step (nothing by default).

        Args:
            state: The training state.
            n_local: Samples of this worker's share of the batch.
        """

    def after_step(self, state: TrainState, batch_index: int) -> None:
        """Called after each optimizer step of `fit` (e.g. periodic weight averaging)."""

    def end_epoch(self, state: TrainState) -> None:
        """Called at the end of each training epoch of `fit`, before validation."""

    def reduce(self, value: torch.Tensor) -> torch.Tensor:
        """Sum a metric/loss accumulator across workers (identity by default)."""
        return value

    def broadcast_seed(self, seed: int) -> int:
        """Agree on the shuffling seed across workers (the local one by default)."""
        return seed

    def broadcast_stop(self, stop: bool) -> bool:
        """Agree on early stopping across workers (the local decision by default)."""
        return stop


LocalStrategy = Strategy


class DataParallelStrategy(Strategy):
    """Split every batch over several local GPUs (`torch.nn.DataParallel`)."""

    def __init__(self, devices: list[torch.device]) -> None:
        self.devices = devices

    def setup(self, state: TrainState) -> None:
        ids = [d.index for d in self.devices]
        state.graph = nn.DataParallel(state.graph, device_ids=ids)
        state.train_graph = nn.DataParallel(state.train_graph, device_ids=ids)
