"""Distributed training on torch.distributed: launcher detection, pyeddl's distributed names,
the data-parallel strategy `fit` uses, `deephealth launch` (torchrun with restarts) and Slurm."""

from deephealth.distenv import DistEnv, detect
from deephealth.eddl.distributed.process_group import (
    avg_weights_distributed,
    barrier_distributed,
    bcast_weights_distributed,
    end_distributed,
    get_id_distributed,
    get_n_procs_distributed,
    init_distributed,
    is_main_process,
)
from deephealth.eddl.distributed.strategy import DataParallel

__all__ = [
    "DataParallel",
    "DistEnv",
    "avg_weights_distributed",
    "barrier_distributed",
    "bcast_weights_distributed",
    "detect",
    "end_distributed",
    "get_id_distributed",
    "get_n_procs_distributed",
    "init_distributed",
    "is_main_process",
]
