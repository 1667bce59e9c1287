"""Training strategies: how `fit` shards data and combines gradients across workers.

The default `LocalStrategy` trains in one process on one device. `DataParallelStrategy` splits each
batch over several local GPUs (`CS_GPU([1, 1])`). The distributed wing supplies its own subclass
(rank, world size, index sharding, gradient all-reduce); `fit` only calls these hooks, and runs its
logging and checkpoint callbacks on the main rank only (`is_main`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from deephealth.eddl.training.state import TrainState


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

    def after_backward(self, state: TrainState) -> None:
        """Combine gradients across workers before the optimizer step (nothing by default)."""

    def reduce(self, value: torch.Tensor) -> torch.Tensor:
        """Sum a metric/loss accumulator across workers (identity by default)."""
        return value

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
