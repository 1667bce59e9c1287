"""How `fit` trains on several processes: data sharding, gradient or weight averaging, metrics.

`DataParallel` is the object the training loop consults at four points: which part of each global
batch this rank computes (`local_slice`), how much its loss weighs (`loss_weight`), what to do after
the backward pass (average gradients: one flattened all-reduce per step, weighted by each rank's
share so a last, uneven batch still gives the exact global-batch gradient) or after the update
(average the weights every `lsb` batches, as EDDL's MPI branch), and how to sum metric counters over
ranks (`all_sum`). Because each global batch is split across ranks, every sample is seen once per
epoch and N processes follow the same trajectory as one process with the same global batch.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from deephealth.eddl.distributed import process_group as pg

if TYPE_CHECKING:
    from deephealth.eddl.model import Model

MODES = ("gradients", "weights")


class DataParallel:
    """Data-parallel training over the processes `init_distributed` joined.

    Args:
        mode: "gradients" (all-reduce gradients every step, DDP semantics) or "weights" (average
            the weights every `lsb` batches).
        lsb: Batches between weight averages in "weights" mode.
        sync_batchnorm: Compute batch-norm statistics over the global batch (all ranks).
    """

    def __init__(self, mode: str = "gradients", lsb: int = 1, sync_batchnorm: bool = False):
        if mode not in MODES:
            raise ValueError(f"unknown data-parallel mode {mode!r}; valid: {list(MODES)}")
        if lsb < 1:
            raise ValueError(f"lsb (batches between weight averages) must be >= 1, got {lsb}")
        self.mode = mode
        self.lsb = lsb
        self.sync_batchnorm = sync_batchnorm

    @property
    def rank(self) -> int:
        """This process's rank."""
        return pg.get_id_distributed()

    @property
    def world_size(self) -> int:
        """Number of processes."""
        return pg.get_n_procs_distributed()

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes logs, checkpoints and reports."""
        return self.rank == 0

    def setup(self, net: Model) -> None:
        """Give every rank rank 0's weights; switch batch norm to global statistics if asked."""
        pg.bcast_weights_distributed(net)
        if self.sync_batchnorm and self.world_size > 1:
            for module in net.graph.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.forward = types.MethodType(_sync_bn_forward, module)

    def local_slice(self, indices: np.ndarray) -> np.ndarray:
        """This rank's contiguous share of one global batch of sample indices."""
        return np.array_split(np.asarray(indices), self.world_size)[self.rank]

    def loss_weight(self, n_local: int, n_global: int) -> float:
        """Factor on the local mean loss so that averaged gradients equal the global-batch mean."""
        if self.mode != "gradients" or n_global == 0:
            return 1.0
        return n_local * self.world_size / n_global

    def after_backward(self, net: Model) -> None:
        """Average gradients over ranks ("gradients" mode)."""
        if self.mode != "gradients" or self.world_size == 1:
            return
        params = [p for p in net.graph.parameters() if p.requires_grad]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for p, g in zip(params, grads):
            n = g.numel()
            if p.grad is None:
                p.grad = torch.empty_like(p)
            p.grad.copy_(flat[offset : offset + n].view_as(p))
            offset += n

    def after_update(self, net: Model, batch_index: int) -> None:
        """Average weights every `lsb` batches ("weights" mode)."""
        if self.mode == "weights":
            pg.avg_weights_distributed(net, batch_index, self.lsb)

    def end_epoch(self, net: Model) -> None:
        """Make ranks agree exactly at the end of an epoch (weights mode may have drifted)."""
        if self.mode == "weights" and self.world_size > 1:
            pg.avg_weights_distributed(net, 0, 1)

    def all_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum a tensor of counters over all ranks (a copy; the input is left alone)."""
        out = values.detach().clone()
        if self.world_size > 1:
            dist.all_reduce(out)
        return out


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose gradient is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        out = grad.clone()
        dist.all_reduce(out)
        return out


def _sync_bn_forward(self: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Batch norm whose training statistics cover the global batch (CPU and GPU)."""
    if not self.training:
        return nn.modules.batchnorm._BatchNorm.forward(self, x)
    dims = [0, *range(2, x.dim())]
    count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
    stats = torch.cat([x.sum(dims), (x * x).sum(dims), count])
    stats = _AllReduceSum.apply(stats)
    c = x.shape[1]
    n = stats[-1]
    mean = stats[:c] / n
    var = stats[c : 2 * c] / n - mean * mean
    with torch.no_grad():
        if self.track_running_stats and self.running_mean is not None:
            m = self.momentum if self.momentum is not None else 0.1
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            unbiased = var.detach() * n / max(float(n) - 1, 1.0)
            self.running_var.mul_(1 - m).add_(unbiased, alpha=m)
            self.num_batches_tracked += 1
    shape = [1, c] + [1] * (x.dim() - 2)
    y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
    if self.affine:
        y = y * self.weight.view(shape) + self.bias.view(shape)
    return y
