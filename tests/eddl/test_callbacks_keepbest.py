"""KeepBest: the weights of the best epoch come back at the end of fit, also after a resume."""

import numpy as np
import torch

import deephealth.eddl as eddl
from deephealth.eddl.training.callbacks import Callback


def _net():
    eddl.set_seed(0)
    inp = eddl.Input([4])
    net = eddl.Model([inp], [eddl.Dense(eddl.ReLu(eddl.Dense(inp, 8)), 1)])
    eddl.build(net, eddl.sgd(0.05), ["mse"], ["mae"], eddl.CS_CPU(1))
    return net


class _Snapshots(Callback):
    def __init__(self):
        self.weights = []

    def on_epoch_end(self, run, event):
        self.weights.append({k: v.clone() for k, v in run.net.graph.state_dict().items()})


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    return x, (x[:, :1] - x[:, 1:2]).astype(np.float32)


def test_keep_best_restores_the_best_epochs_weights(tmp_path):
    x, y = _data()
    net = _net()
    snaps = _Snapshots()
    # "loss" in max mode: the first epoch is the best, since the loss falls every epoch
    keep = eddl.KeepBest(tmp_path / "best.pt", monitor="loss", mode="max")
    history = eddl.fit(net, [x], [y], 16, 4, verbose=0, callbacks=[snaps, keep])
    assert history[0]["loss"] > history[-1]["loss"] and keep.best_epoch == 1
    final = net.graph.state_dict()
    for key, value in snaps.weights[0].items():
        assert torch.equal(final[key], value)
    assert not all(torch.equal(final[k], v) for k, v in snaps.weights[-1].items())


def test_keep_best_follows_validation_loss_and_survives_a_resume(tmp_path):
    x, y = _data()
    run = tmp_path / "ckpt"
    net = _net()
    keep = eddl.KeepBest(tmp_path / "best.pt")
    eddl.fit(net, [x], [y], 16, 2, verbose=0, validation_data=([x[:16]], [y[:16]]),
             callbacks=[keep], resume=run)  # fmt: skip
    best_before = keep.best
    again = eddl.KeepBest(tmp_path / "best.pt")
    history = eddl.fit(_net(), [x], [y], 16, 3, verbose=0,
                       validation_data=([x[:16]], [y[:16]]), callbacks=[again],
                       resume=run)  # fmt: skip
    assert len(history) == 3
    val = [h["val_loss"] for h in history]
    assert again.best == min(val) <= best_before
    assert again.best_epoch == 1 + val.index(min(val))
