"""Trains a small pyeddl-style net with eddl.fit; used by the distributed tests.

Usage: train_fit.py OUT.pt MODE SYNC_BN [KILL_RANK KILL_EPOCH]
MODE is "gradients", "weights" or "gradients+bf16" (16-bit gradient compression). Started plainly
it trains in one process; started by torchrun / `deephealth launch` the same script trains
data-parallel: `build` joins the process group itself when given the `DataParallel` strategy.
With `DEEPHEALTH_RESUME=1` it continues from OUT.run/checkpoint.pt.
"""

import os
import signal
import sys

import numpy as np
import torch

import deephealth.eddl as eddl
from deephealth.eddl.distributed import DataParallel, detect, get_id_distributed
from deephealth.eddl.training.callbacks import Callback

out, mode, sync_bn = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
kill_rank = int(sys.argv[4]) if len(sys.argv) > 4 else -1
kill_epoch = int(sys.argv[5]) if len(sys.argv) > 5 else -1

torch.manual_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(90, 8)).astype(np.float32)
y = (x[:, :1] * 2 - x[:, 1:2]).astype(np.float32)

inp = eddl.Input([8], name="in")
hidden = eddl.Dense(inp, 16, name="hidden")
if sync_bn:
    hidden = eddl.BatchNormalization(hidden, True, name="bn")
net = eddl.Model([inp], [eddl.Dense(eddl.ReLu(hidden, name="relu"), 1, name="out")])
mode, _, compression = mode.partition("+")
strategy = (
    DataParallel(mode=mode, lsb=2, sync_batchnorm=sync_bn, compression=compression or None)
    if detect().is_distributed
    else None
)
eddl.build(net, eddl.sgd(0.05), ["mse"], ["mae"], eddl.CS_CPU(th=1), strategy=strategy)


class KillOnce(Callback):
    """Kill this rank with SIGKILL in the middle of `kill_epoch` on the first attempt."""

    main_only = False

    def on_batch_end(self, run, batch):
        if (
            run.epoch == kill_epoch
            and batch == 1
            and get_id_distributed() == kill_rank
            and os.environ.get("DEEPHEALTH_ATTEMPT") == "0"
        ):
            os.kill(os.getpid(), signal.SIGKILL)


resume = out + ".run" if os.environ.get("DEEPHEALTH_RESUME") or kill_rank >= 0 else None
history = eddl.fit(net, [x], [y], 32, 6, seed=7, verbose=0, resume=resume, callbacks=[KillOnce()])
assert get_id_distributed() == int(os.environ.get("RANK", "0"))  # build joined the group
if get_id_distributed() == 0:
    torch.save({k: v.clone() for k, v in net.graph.state_dict().items()}, out)
    torch.save(history, out + ".history")
