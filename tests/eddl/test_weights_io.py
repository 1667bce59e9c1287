"""Weight files and checkpoints: BatchNorm in EDDL's .bin format, resuming with other layer names."""

import numpy as np
import torch

import deephealth.eddl as eddl


def _bn_net() -> eddl.Model:
    inp = eddl.Input([3, 8, 8])
    x = eddl.BatchNormalization(eddl.Conv2D(inp, 4, [3, 3]), True)
    net = eddl.Model([inp], [eddl.Softmax(eddl.Dense(eddl.Flatten(x), 2))])
    eddl.build(net, eddl.sgd(0.05), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU())
    return net


def _data(n: int = 32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3, 8, 8)).astype(np.float32)
    return x, np.eye(2, dtype=np.float32)[(x.mean((1, 2, 3)) > 0).astype(int)]


def test_bin_round_trip_keeps_batchnorm_statistics(tmp_path):
    net = _bn_net()
    x, y = _data()
    eddl.fit(net, [x], [y], 8, 2, verbose=0)
    eddl.save(net, tmp_path / "w.bin")
    other = _bn_net()
    eddl.load(other, tmp_path / "w.bin")
    counters = []
    for (key, a), b in zip(net.graph.state_dict().items(), other.graph.state_dict().values()):
        assert torch.equal(a.float(), b.float()), key
        if key.endswith("num_batches_tracked"):
            counters.append((b.shape, int(b)))
    assert counters == [(torch.Size([]), 8)]  # 2 epochs x 4 batches, a 0-d tensor again


def test_resume_in_a_process_that_built_other_networks_first(tmp_path):
    x, y = _data()
    eddl.set_seed(1)
    first = _bn_net()
    eddl.fit(first, [x], [y], 8, 2, verbose=0, seed=3, resume=tmp_path / "a")
    eddl.set_seed(1)
    again = _bn_net()  # default names count per model: the same names as `first`
    assert [l.name for l in again.layers] == [l.name for l in first.layers]
    history = eddl.fit(again, [x], [y], 8, 3, verbose=0, seed=3, resume=tmp_path / "a")
    assert [e["epoch"] for e in history] == [1, 2, 3]  # epochs 1-2 restored, epoch 3 trained
    eddl.set_seed(1)
    reference = _bn_net()
    eddl.fit(reference, [x], [y], 8, 3, verbose=0, seed=3, resume=tmp_path / "b")
    for a, b in zip(again.graph.state_dict().values(), reference.graph.state_dict().values()):
        assert torch.equal(a, b)  # resumed = uninterrupted, bit for bit
