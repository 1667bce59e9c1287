"""Trains a small eddl net with a hand-written loop and DataParallel; used by the distributed tests.

Usage: manual_loop.py OUT.pt MODE SYNC_BN [KILL_RANK KILL_EPOCH]
Checkpoints every epoch into OUT.ckpt (rank 0) and resumes from it when DEEPHEALTH_RESUME=1.
"""

import os
import signal
import sys

import numpy as np
import torch

from deephealth.eddl.distributed import DataParallel, init_distributed
from deephealth.eddl.layers.activations import ReLu
from deephealth.eddl.layers.core import Dense, Input
from deephealth.eddl.model import Model

out, mode, sync_bn = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
kill_rank = int(sys.argv[4]) if len(sys.argv) > 4 else -1
kill_epoch = int(sys.argv[5]) if len(sys.argv) > 5 else -1

rank = init_distributed(threads=1)
torch.manual_seed(0)
x = torch.from_numpy(np.random.default_rng(0).normal(size=(90, 8)).astype(np.float32))
y = (x[:, :1] * 2 - x[:, 1:2]).clone()
inp = Input([8])
hidden = Dense(inp, 16)
if sync_bn:
    from deephealth.eddl.layers.normalization import BatchNormalization

    hidden = BatchNormalization(hidden, True)
net = Model([inp], [Dense(ReLu(hidden), 1)])
strategy = DataParallel(mode=mode, lsb=2, sync_batchnorm=sync_bn)
strategy.setup(net)
opt = torch.optim.SGD(net.graph.parameters(), lr=0.05)
ckpt = out + ".ckpt"
start_epoch = 0
if os.environ.get("DEEPHEALTH_RESUME") == "1" and os.path.exists(ckpt):
    state = torch.load(ckpt)
    net.graph.load_state_dict(state["weights"])
    opt.load_state_dict(state["opt"])
    start_epoch = state["epoch"] + 1
order_rng = np.random.default_rng(1)
orders = [order_rng.permutation(len(x)) for _ in range(6)]
for epoch in range(start_epoch, 6):
    if rank == kill_rank and epoch == kill_epoch and os.environ.get("DEEPHEALTH_ATTEMPT") == "0":
        os.kill(os.getpid(), signal.SIGKILL)
    net.graph.train()
    for b, start in enumerate(range(0, len(x), 32)):
        batch = orders[epoch][start : start + 32]
        local = strategy.local_slice(batch)
        opt.zero_grad()
        pred = net.graph(x[local])[0]
        loss = torch.nn.functional.mse_loss(pred, y[local])
        (loss * strategy.loss_weight(len(local), len(batch))).backward()
        strategy.after_backward(net)
        opt.step()
        strategy.after_update(net, b)
    strategy.end_epoch(net)
    if strategy.is_main:
        state = {"weights": net.graph.state_dict(), "opt": opt.state_dict(), "epoch": epoch}
        torch.save(state, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)
if strategy.is_main:
    torch.save(net.graph.state_dict(), out)
