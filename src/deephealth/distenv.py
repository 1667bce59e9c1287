"""Which launcher started this process, and where it sits in the job (shared by EDDL and ECVL).

Reads the environment that torchrun, Slurm (`srun`), Open MPI and MPICH/Intel MPI set, so that the
same script trains on one process or many without code changes. No torch import here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class DistEnv:
    """Position of this process in a (possibly single-process) job.

    Attributes:
        rank: Global rank, 0..world_size-1.
        world_size: Number of processes in the job.
        local_rank: Rank within this node (selects the GPU).
        master_addr: Address of rank 0 for the rendezvous.
        master_port: TCP port of the rendezvous.
        launcher: "torchrun", "slurm", "openmpi", "mpich" or "single".
        local_world_size: Processes on this node (to share the CPU cores among them).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = 29500
    launcher: str = "single"
    local_world_size: int = 1

    @property
    def is_distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes logs, checkpoints and reports."""
        return self.rank == 0


def _int(env: Mapping[str, str], *names: str, default: int | None = None) -> int | None:
    for name in names:
        if env.get(name, "") != "":
            try:
                return int(env[name])
            except ValueError:
                raise ValueError(
                    f"environment variable {name}={env[name]!r} is not an integer"
                ) from None
    return default


def first_host(nodelist: str) -> str:
    """First host of a Slurm node list ("gpu[01-04,07],cpu1" → "gpu01")."""
    match = re.match(r"([^\[,]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if not match:
        return "127.0.0.1"
    prefix, ranges = match.group(1), match.group(2)
    if not ranges:
        return prefix
    first = ranges.split(",")[0].split("-")[0]
    return prefix + first


def detect(env: Mapping[str, str] | None = None) -> DistEnv:
    """Detect the launcher from environment variables (torchrun first, then Slurm, then MPI).

    Args:
        env: Environment to read (defaults to `os.environ`).

    Returns:
        The process's position; `DistEnv()` (single process) when no launcher is detected.
    """
    env = os.environ if env is None else env
    addr = env.get("MASTER_ADDR", "127.0.0.1")
    port = _int(env, "MASTER_PORT", default=29500)
    if "TORCHELASTIC_RUN_ID" in env or ("RANK" in env and "WORLD_SIZE" in env):
        return DistEnv(
            rank=_int(env, "RANK", default=0),
            world_size=_int(env, "WORLD_SIZE", default=1),
            local_rank=_int(env, "LOCAL_RANK", default=0),
            master_addr=addr,
            master_port=port,
            launcher="torchrun",
            local_world_size=_int(env, "LOCAL_WORLD_SIZE", default=1),
        )
    if "SLURM_PROCID" in env and _int(env, "SLURM_NTASKS", default=1) > 1:
        return DistEnv(
            rank=_int(env, "SLURM_PROCID"),
            world_size=_int(env, "SLURM_NTASKS"),
            local_rank=_int(env, "SLURM_LOCALID", default=0),
            master_addr=env.get("MASTER_ADDR") or first_host(env.get("SLURM_JOB_NODELIST", "")),
            master_port=port,
            launcher="slurm",
            local_world_size=_int(env, "SLURM_NTASKS_PER_NODE", default=1),
        )
    if "OMPI_COMM_WORLD_RANK" in env:
        return DistEnv(
            rank=_int(env, "OMPI_COMM_WORLD_RANK"),
            world_size=_int(env, "OMPI_COMM_WORLD_SIZE", default=1),
            local_rank=_int(env, "OMPI_COMM_WORLD_LOCAL_RANK", default=0),
            master_addr=addr,
            master_port=port,
            launcher="openmpi",
            local_world_size=_int(env, "OMPI_COMM_WORLD_LOCAL_SIZE", default=1),
        )
    if "PMI_RANK" in env:
        return DistEnv(
            rank=_int(env, "PMI_RANK"),
            world_size=_int(env, "PMI_SIZE", default=1),
            local_rank=_int(env, "MPI_LOCALRANKID", "PMI_LOCAL_RANK", default=0),
            master_addr=addr,
            master_port=port,
            launcher="mpich",
            local_world_size=_int(env, "MPI_LOCALNRANKS", "PMI_LOCAL_SIZE", default=1),
        )
    return DistEnv()
