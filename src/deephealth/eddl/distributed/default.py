"""The default strategy when a launcher started several processes: the distributed package's hook.

`build` asks the hooks registered with `deephealth.eddl.training.strategy.register_default_strategy`
for the strategy and device of this process; importing `deephealth.eddl.distributed` registers
`launcher_strategy`, so training never reads the launcher's environment itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from deephealth.distenv import detect
from deephealth.eddl.distributed.process_group import init_distributed
from deephealth.eddl.distributed.strategy import DataParallel

if TYPE_CHECKING:
    from deephealth.eddl.computing import ComputingService
    from deephealth.eddl.training.strategy import Strategy


def launcher_strategy(
    cs: ComputingService, device: torch.device, strategy: Strategy | None
) -> tuple[Strategy | None, torch.device]:
    """The strategy and device of this process when a launcher started several processes.

    A given strategy (e.g. `DataParallel(mode="weights")`) is kept; the process group is joined
    and each process takes its local GPU either way. `CS_CPU(th)` keeps its explicit thread
    count; the automatic one becomes this node's cores shared between its processes.
    """
    env = detect()
    if not env.is_distributed:
        return strategy, device
    if strategy is not None and not isinstance(strategy, DataParallel):
        return strategy, device
    init_distributed(threads=cs.threads if cs.kind == "cpu" and cs.threads > 0 else None)
    if device.type == "cuda":
        device = torch.device("cuda", env.local_rank % max(1, torch.cuda.device_count()))
    return strategy or DataParallel(), device
