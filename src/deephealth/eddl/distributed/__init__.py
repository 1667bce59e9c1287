"""Distributed training on torch.distributed: launcher detection, pyeddl's distributed names,
the data-parallel strategy `fit` uses, `deephealth launch` (torchrun with restarts) and Slurm.

Importing the package registers `default.launcher_strategy` with training: `build` then joins the
process group and takes `DataParallel` when a launcher started several processes.
"""

from deephealth.distenv import DistEnv, detect
from deephealth.eddl.distributed.default import launcher_strategy
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
from deephealth.eddl.training.strategy import register_default_strategy

register_default_strategy(launcher_strategy)

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
