"""pyeddl's distributed names (from EDDL's MPI branch) on torch.distributed.

`init_distributed()` detects the launcher (torchrun, Slurm, Open MPI, MPICH), picks the back-end
(NCCL on CUDA, gloo on CPU), sets the thread count per process so that the processes of one node
share its cores instead of oversubscribing them, and starts the rank's heartbeat when
`deephealth launch` asked for one. In a single process every function is a cheap no-op, so the same
script runs unchanged on one process or many.
"""

from __future__ import annotations

import atexit
import gc
import os
from datetime import timedelta
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

from deephealth.distenv import DistEnv, detect
from deephealth.eddl.distributed import heartbeat

if TYPE_CHECKING:
    from deephealth.eddl.model import Model

_env: DistEnv = DistEnv()


def threads_per_process(env: DistEnv, cores: int | None = None) -> int:
    """Cores of this node divided among its processes (at least one)."""
    if cores is None:
        affinity = getattr(os, "sched_getaffinity", None)
        cores = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    return max(1, cores // max(1, env.local_world_size))


def init_distributed(
    backend: str | None = None, threads: int | None = None, timeout_s: float = 120.0
) -> int:
    """Join the job the launcher started (no-op in a single process).

    Args:
        backend: "gloo" or "nccl"; default NCCL when CUDA is available, else gloo.
        threads: Torch threads for this process; default cores / processes on this node.
        timeout_s: How long collective operations wait before failing (a dead peer never hangs).

    Returns:
        This process's rank.
    """
    global _env
    _env = detect()
    torch.set_num_threads(threads or threads_per_process(_env))
    heartbeat.start_from_env(_env.rank)
    if not _env.is_distributed or dist.is_initialized():
        return _env.rank
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(_env.local_rank % max(1, torch.cuda.device_count()))
    dist.init_process_group(
        backend,
        init_method=f"tcp://{_env.master_addr}:{_env.master_port}",
        rank=_env.rank,
        world_size=_env.world_size,
        timeout=timedelta(seconds=timeout_s),
    )
    atexit.register(end_distributed)  # a process group left open can abort the interpreter's exit
    return _env.rank


def is_initialized() -> bool:
    """True once `init_distributed` joined a multi-process job."""
    return dist.is_available() and dist.is_initialized()


_end_callbacks: list = []


def on_end(callback) -> None:
    """Run `callback()` in `end_distributed`, before the process group is destroyed."""
    _end_callbacks.append(callback)


def end_distributed() -> None:
    """Leave the job: wait for the other ranks (at most 30 s), then destroy the process group.

    Tearing down together matters: a rank that closes its connections while a peer is still
    using them makes gloo abort the peer's process at exit.
    """
    if not is_initialized():
        return
    while _end_callbacks:
        _end_callbacks.pop()()
    gc.collect()  # objects holding the group (DDP reducers) go before the group itself
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=30))
        else:
            dist.barrier()
    except RuntimeError:
        pass  # a peer is gone; nothing left to wait for
    dist.destroy_process_group()


def get_id_distributed() -> int:
    """This process's rank (0 in a single process)."""
    return dist.get_rank() if is_initialized() else _env.rank


def get_n_procs_distributed() -> int:
    """Number of processes in the job (1 in a single process)."""
    return dist.get_world_size() if is_initialized() else 1


def is_main_process() -> bool:
    """True on rank 0."""
    return get_id_distributed() == 0


def barrier_distributed() -> None:
    """Wait until every rank reaches this point."""
    if is_initialized():
        dist.barrier()


def _tensors(net: Model) -> list[torch.Tensor]:
    return [t for t in net.graph.state_dict().values() if t.is_floating_point()]


def bcast_weights_distributed(net: Model, root: int = 0) -> None:
    """Copy rank `root`'s weights (and buffers) to every rank."""
    if not is_initialized():
        return
    for tensor in net.graph.state_dict().values():
        dist.broadcast(tensor, root)


def avg_weights_distributed(net: Model, curr_batch_id: int = 0, batches_avg: int = 1) -> None:
    """Average the weights over all ranks every `batches_avg` batches (EDDL's MPI scheme)."""
    if not is_initialized() or (curr_batch_id + 1) % max(1, batches_avg) != 0:
        return
    tensors = _tensors(net)
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t))
        offset += n
