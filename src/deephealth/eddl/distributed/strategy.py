"""The data-parallel strategy `fit` uses when a launcher started several processes.

`DataParallel` implements the training wing's `Strategy` hooks on torch.distributed. Each global
batch of `batch` samples is split into contiguous shares, one per rank, so every sample is seen
once per epoch (a last batch with fewer samples than ranks waits for the next epoch) and N processes
follow the same trajectory as one process with the same global batch. Gradients are averaged by
torch's DistributedDataParallel (bucketed all-reduces overlapping the backward pass), weighted by
each rank's share so an uneven batch still gives the exact global-batch gradient ("gradients"
mode); or, as EDDL's MPI branch, the weights are averaged every `lsb` batches and at the end of
each epoch ("weights" mode). Loss and metric counters are summed over ranks; early stopping is
agreed by all ranks.

`compression="bf16"` (or "fp16") sends the gradients as 16-bit floats, halving the bytes each
step moves: worth it where the all-reduce is the bottleneck (CPU nodes, Ethernet), at the cost of
gradients rounded to 16 bits (the run no longer equals the one-process run to 1e-5).
"""

from __future__ import annotations

import inspect
import types
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from deephealth.eddl.distributed import process_group as pg
from deephealth.eddl.training.strategy import Strategy

if TYPE_CHECKING:
    from deephealth.eddl.training.state import TrainState

MODES = ("gradients", "weights")
COMPRESSIONS = {None: None, "none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class DataParallel(Strategy):
    """Data-parallel training over the processes `init_distributed` joined.

    Args:
        mode: "gradients" (all-reduce gradients every step) or "weights" (average the weights
            every `lsb` batches).
        lsb: Batches between weight averages in "weights" mode.
        sync_batchnorm: Compute batch-norm statistics over the global batch (all ranks).
        compression: None, "bf16" or "fp16": the dtype gradients travel in ("gradients" mode).
    """

    def __init__(
        self,
        mode: str = "gradients",
        lsb: int = 1,
        sync_batchnorm: bool = False,
        compression: str | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"unknown data-parallel mode {mode!r}; valid: {list(MODES)}")
        if lsb < 1:
            raise ValueError(f"lsb (batches between weight averages) must be >= 1, got {lsb}")
        if compression not in COMPRESSIONS:
            valid = [c for c in COMPRESSIONS if c]
            raise ValueError(f"unknown gradient compression {compression!r}; valid: {valid}")
        self.mode = mode
        self.lsb = lsb
        self.sync_batchnorm = sync_batchnorm
        self.wire_dtype = COMPRESSIONS[compression]
        self.share_weight = 1.0  # this rank's share of the current batch x world size

    @property
    def rank(self) -> int:  # type: ignore[override]
        """This process's rank."""
        return pg.get_id_distributed()

    @property
    def world_size(self) -> int:  # type: ignore[override]
        """Number of processes."""
        return pg.get_n_procs_distributed()

    def setup(self, state: TrainState) -> None:
        """Give every rank rank 0's weights; switch batch norm to global statistics if asked."""
        pg.bcast_weights_distributed(state.net)
        if self.world_size == 1:
            return
        if self.sync_batchnorm:
            for module in state.net.graph.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.forward = types.MethodType(_sync_bn_forward, module)
        if self.mode == "gradients":
            # torch's DDP reducer: bucketed all-reduces that overlap the backward pass
            from torch.nn.parallel import DistributedDataParallel

            device_ids = [state.device.index] if state.device.type == "cuda" else None
            ddp = DistributedDataParallel(
                state.train_graph, device_ids=device_ids, gradient_as_bucket_view=True,
                **_rank_local_buffers(),
            )  # fmt: skip
            ddp.register_comm_hook(self, _weighted_average_hook)
            state.train_graph = ddp
            pg.on_end(lambda: _unwrap(state, ddp))

    def batch_indices(self, order: torch.Tensor, batch: int, drop_last: bool) -> list[torch.Tensor]:
        """This rank's contiguous share of each global batch (never empty)."""
        n = order.numel()
        stop = n - n % batch if drop_last else n
        if 0 < stop % batch < self.world_size:
            stop -= stop % batch  # every rank takes part in every step with at least one sample
        shares = []
        for lo in range(0, stop, batch):
            bounds = np.linspace(0, min(batch, n - lo), self.world_size + 1).round().astype(int)
            shares.append(order[lo + bounds[self.rank] : lo + bounds[self.rank + 1]])
        return shares

    def before_backward(self, state: TrainState, n_local: int) -> None:
        """Learn this rank's share of the batch, so gradients average weighted by samples."""
        if self.mode != "gradients" or self.world_size == 1:
            return
        counts = torch.tensor([float(n_local)])
        dist.all_reduce(counts)
        self.share_weight = n_local * self.world_size / float(counts.item())

    def after_step(self, state: TrainState, batch_index: int) -> None:
        """Average weights every `lsb` batches ("weights" mode)."""
        if self.mode == "weights":
            pg.avg_weights_distributed(state.net, batch_index, self.lsb)

    def end_epoch(self, state: TrainState) -> None:
        """Make ranks agree exactly at the end of an epoch ("weights" mode may have drifted)."""
        if self.mode == "weights" and self.world_size > 1:
            pg.avg_weights_distributed(state.net, 0, 1)

    def reduce(self, value: torch.Tensor) -> torch.Tensor:
        """Sum a tensor of counters over all ranks (a copy; the input is left alone)."""
        out = value.detach().clone()
        if self.world_size > 1:
            dist.all_reduce(out)
        return out

    def broadcast_seed(self, seed: int) -> int:
        """Rank 0's shuffling seed, so every rank splits the same global batches."""
        if self.world_size == 1:
            return seed
        value = torch.tensor([seed], dtype=torch.int64)
        dist.broadcast(value, 0)
        return int(value.item())

    def broadcast_stop(self, stop: bool) -> bool:
        """Stop when any rank asks to (all ranks take the same decision)."""
        if self.world_size == 1:
            return stop
        flag = torch.tensor([1.0 if stop else 0.0])
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


def _rank_local_buffers() -> dict[str, bool]:
    """DDP's switch for not re-sending rank 0's buffers (batch-norm statistics) every forward.

    torch 2.13 renamed `broadcast_buffers` to `forward_sync_buffers` (the old name warns); the
    buffers are equal at the start either way, since `setup` broadcasts rank 0's state first.
    """
    from torch.nn.parallel import DistributedDataParallel

    names = inspect.signature(DistributedDataParallel.__init__).parameters
    key = "forward_sync_buffers" if "forward_sync_buffers" in names else "broadcast_buffers"
    return {key: False}


def _unwrap(state: TrainState, ddp: nn.Module) -> None:
    """Give the state its plain graph back so the DDP reducer is freed before the process group."""
    if state.train_graph is ddp:
        state.train_graph = ddp.module


def _weighted_average_hook(strategy, bucket):
    """DDP communication hook: the sample-weighted mean of the ranks' gradients.

    Args: `strategy` (the DataParallel), `bucket` (a dist.GradBucket); returns a Future.

    Each rank's gradient is the mean over its share of the batch; weighting by the share keeps an
    uneven batch exact (equal shares give DDP's plain average). With compression the weighted
    gradients are summed in the 16-bit wire dtype and copied back into the float32 bucket.
    """
    buffer = bucket.buffer()
    buffer.mul_(strategy.share_weight / strategy.world_size)
    if strategy.wire_dtype is None:
        future = dist.all_reduce(buffer, async_op=True).get_future()
        return future.then(lambda done: done.value()[0])
    wire = buffer.to(strategy.wire_dtype)
    future = dist.all_reduce(wire, async_op=True).get_future()
    return future.then(lambda done: buffer.copy_(done.value()[0]))


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose gradient is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone()
        dist.all_reduce(out)
        return out


def _sync_bn_forward(self: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """Batch norm whose training statistics cover the global batch (CPU and GPU)."""
    if not self.training:
        return nn.modules.batchnorm._BatchNorm.forward(self, x)
    dims = [0, *range(2, x.dim())]
    count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
    stats = _AllReduceSum.apply(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
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
