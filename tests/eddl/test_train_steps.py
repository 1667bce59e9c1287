"""pyeddl's finer/finest training API, graph surgery, weight files and newloss."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deephealth.eddl as eddl
from deephealth.eddl import Tensor
from deephealth.eddl.layers.regularizers import regularization_penalty
from deephealth.eddl.training.state import get_state

X = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
Y = np.eye(3, dtype=np.float32)[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)]


def make(opt=None, seed=0, loss="sce", dropout=False):
    eddl.set_seed(seed)
    in_ = eddl.Input([6])
    h = eddl.ReLu(eddl.Dense(in_, 16, name="h1"))
    if dropout:
        h = eddl.Dropout(h, 0.5, name="drop")
    out = eddl.Softmax(eddl.Dense(h, 3, name="head"), name="probs")
    net = eddl.Model([in_], [out])
    eddl.build(net, opt or eddl.sgd(0.1), [loss], ["accuracy"], eddl.CS_CPU(1))
    return net


def params(net):
    return [p.detach().clone() for p in net.graph.parameters()]


def test_train_batch_equals_a_hand_written_torch_step():
    net = make()
    w1, b1, w2, b2 = params(net)
    idx = [3, 1, 4, 1, 5, 9, 2, 6]
    eddl.train_batch(net, [X], [Y], idx)
    x, y = torch.from_numpy(X[idx]), torch.from_numpy(Y[idx])
    w1, b1, w2, b2 = (t.requires_grad_(True) for t in (w1, b1, w2, b2))
    z = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)
    loss = -(y * torch.log_softmax(z, 1)).sum() / len(idx)
    loss.backward()
    with torch.no_grad():
        expected = [p - 0.1 * p.grad for p in (w1, b1, w2, b2)]
    for got, want in zip(params(net), expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert eddl.get_losses(net)[0] == pytest.approx(loss.item(), rel=1e-5)


def test_train_batch_loop_with_random_indices_learns(capsys):
    net = make(eddl.adam(0.01))
    for _ in range(3):
        eddl.reset_loss(net)
        for _ in range(10):
            eddl.train_batch(net, [X], [Y], eddl.random_indices(8, 40))
        eddl.print_loss(net, 9)
    assert "Batch 9 sce(=" in capsys.readouterr().out
    eddl.reset_loss(net)
    assert eddl.get_losses(net) == [0.0] and eddl.get_metrics(net) == [0.0]
    for j in range(4):
        eddl.eval_batch(net, [X], [Y], list(range(j * 10, j * 10 + 10)))
    acc = eddl.get_metrics(net)[0]
    assert acc == pytest.approx(eddl.evaluate(net, [X], [Y], verbose=0)["accuracy"])
    assert acc > 0.7


def test_train_batch_errors():
    net = make()
    with pytest.raises(eddl.DataError, match=r"indices must be in \[0, 40\).*\[0, 40\]"):
        eddl.train_batch(net, [X], [Y], [0, 40])
    with pytest.raises(eddl.DataError, match="indices is empty"):
        eddl.train_batch(net, [X], [Y], [])
    with pytest.raises(eddl.DataError, match="expects samples of shape"):
        eddl.train_batch(net, [X[:, :5]], [Y])
    with pytest.raises(ValueError, match="positive sizes"):
        eddl.random_indices(0, 10)
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(eddl.NonFiniteLossError, match="train_batch"):
        eddl.train_batch(net, [bad], [Y], [0, 1])


def test_next_batch_fills_batch_tensors_with_matching_samples():
    xs, ys = Tensor.fromarray(X), Tensor.fromarray(Y)
    xb, yb = Tensor([8, 6]), Tensor([8, 3])
    eddl.next_batch([xs, ys], [xb, yb])
    bx, by = xb.getdata(), yb.getdata()
    for row, label in zip(bx, by):
        i = int(np.where((X == row).all(1))[0][0])
        assert np.array_equal(Y[i], label)
    with pytest.raises(eddl.DataError, match="do not fit the batch tensor"):
        eddl.next_batch([xs], [Tensor([8, 5])])
    with pytest.raises(ValueError, match="1 source tensor"):
        eddl.next_batch([xs], [xb, yb])


def test_forward_backward_update_zero_grads_and_get_output():
    net = make()
    before = params(net)
    outs = eddl.forward(net, [Tensor.fromarray(X[:8])])
    assert outs == eddl.getOut(net)
    probs = eddl.getOutput(outs[0])
    np.testing.assert_allclose(np.array(probs).sum(1), 1, rtol=1e-5)
    eddl.zeroGrads(net)
    eddl.backward(net, [Tensor.fromarray(Y[:8])])
    assert all(p.grad is not None for p in net.graph.parameters())
    eddl.update(net)
    assert not all(torch.equal(a, b) for a, b in zip(before, params(net)))
    eddl.zeroGrads(net)
    assert all(p.grad is None for p in net.graph.parameters())
    with pytest.raises(ValueError, match="needs the targets"):
        eddl.backward(net)
    other = make()
    with pytest.raises(ValueError, match="call forward"):
        eddl.backward(other, [Y[:8]])
    # as in EDDL, an inner layer holds its value for the last batch (recomputed here)
    assert eddl.getOutput(net.layer("h1")).shape == [8, *net.layer("h1").output_shape]
    with pytest.raises(ValueError, match="has no value yet"):
        eddl.getOutput(other.layer("h1"))


def test_set_mode_switches_dropout():
    net = make(dropout=True)
    x = torch.from_numpy(X)
    eddl.set_mode(net, eddl.TSMODE)
    a, b = get_state(net).graph(x)[0], get_state(net).graph(x)[0]
    assert torch.equal(a, b)
    eddl.set_mode(net, eddl.TRMODE)
    a, b = get_state(net).graph(x)[0], get_state(net).graph(x)[0]
    assert not torch.equal(a, b)
    p1, p2 = eddl.predict(net, [X])[0], eddl.predict(net, [X])[0]
    assert np.array_equal(np.array(p1), np.array(p2))  # predict runs in inference mode


def test_set_trainable_freezes_a_layer_during_fit():
    net = make()
    head_before = net.layer("head").module.weight.detach().clone()
    h1_before = net.layer("h1").module.weight.detach().clone()
    eddl.setTrainable(net, "head", False)
    eddl.fit(net, [X], [Y], 8, 1, verbose=0)
    assert torch.equal(net.layer("head").module.weight, head_before)
    assert not torch.equal(net.layer("h1").module.weight, h1_before)
    eddl.setTrainable(net, "head", True)
    eddl.fit(net, [X], [Y], 8, 1, verbose=0)
    assert not torch.equal(net.layer("head").module.weight, head_before)


def test_get_set_parameters_copy_param_initialize_layer():
    net = make()
    ps = eddl.get_parameters(net)
    assert [len(p) for p in ps] == [0, 2, 0, 2, 0]
    assert ps[1][0].shape == [16, 6]
    live = eddl.get_parameters(net)[1][0]
    live.fill_(0.5)  # views: writes go into the network
    assert torch.all(net.layer("h1").module.weight == 0.5)
    copy = eddl.get_parameters(net, deepcopy=True)
    copy[1][0].fill_(0.0)
    assert torch.all(net.layer("h1").module.weight == 0.5)
    other = make(seed=3)
    eddl.set_parameters(other, eddl.get_parameters(net, deepcopy=True))
    np.testing.assert_array_equal(
        np.array(eddl.predict(other, [X])[0]), np.array(eddl.predict(net, [X])[0])
    )
    with pytest.raises(ValueError, match="has 5 layers, got 4"):
        eddl.set_parameters(other, ps[:4])
    bad = [list(p) for p in eddl.get_parameters(net)]
    bad[1][0] = np.zeros((6, 16), np.float32)
    with pytest.raises(ValueError, match=r"layer 'h1' expects shape \[16, 6\], got \[6, 16\]"):
        eddl.set_parameters(other, bad)
    third = make(seed=4)
    eddl.copyParam(eddl.getLayer(net, "h1"), eddl.getLayer(third, "h1"))
    assert torch.equal(third.layer("h1").module.weight, net.layer("h1").module.weight)
    with pytest.raises(ValueError, match="copyParam: 'h1' has weights"):
        eddl.copyParam(net.layer("h1"), net.layer("head"))
    eddl.initializeLayer(net, "h1")
    w = net.layer("h1").module.weight
    assert not torch.all(w == 0.5) and w.abs().max() <= (6 / (6 + 16)) ** 0.5
    with pytest.raises(KeyError, match="has no layer 'nope'"):
        eddl.getLayer(net, "nope")


def test_remove_layer_makes_parent_the_output_and_needs_rebuild():
    net = make()
    eddl.removeLayer(net, "probs")
    assert [l.name for l in eddl.getOut(net)] == ["head"]
    assert net.train_state is None
    eddl.build(net, eddl.sgd(), ["mse"], ["mse"], eddl.CS_CPU(1), init_weights=False)
    assert eddl.predict(net, [X])[0].shape == [40, 3]
    with pytest.raises(eddl.NotBuiltError):
        eddl.removeLayer(net, "head") or eddl.fit(net, [X], [Y], 8, 1, verbose=0)
    with pytest.raises(ValueError, match="'h1' feeds"):
        eddl.removeLayer(make(), "h1")


def test_save_load_bin_and_pt_round_trip(tmp_path):
    net = make()
    eddl.fit(net, [X], [Y], 8, 1, verbose=0)
    for fmt in ("bin", "pt"):
        path = tmp_path / f"w.{fmt}"
        eddl.save(net, path, fmt)
        other = make(seed=9)
        eddl.load(other, path, fmt)
        assert all(torch.equal(a, b) for a, b in zip(params(net), params(other)))
    raw = (tmp_path / "w.bin").read_bytes()
    assert np.frombuffer(raw[:12], "<i4").tolist() == [2, 16, 6]  # EDDL layout, first weight
    with pytest.raises(FileNotFoundError, match="no weight file"):
        eddl.load(net, tmp_path / "missing.bin")
    with pytest.raises(ValueError, match="unknown format 'h5'"):
        eddl.save(net, tmp_path / "w.h5", "h5")
    (tmp_path / "short.bin").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(eddl.WeightFileError, match="needs .* data bytes"):
        eddl.load(net, tmp_path / "short.bin")
    in_ = eddl.Input([6])
    small = eddl.Model([in_], [eddl.Dense(in_, 2)])
    with pytest.raises(eddl.WeightFileError, match="holds 4 weight tensors, model .* has 2"):
        eddl.load(small, tmp_path / "w.bin")
    in_ = eddl.Input([6])
    wide = eddl.Model([in_], [eddl.Dense(eddl.Dense(in_, 17), 3)])
    with pytest.raises(eddl.WeightFileError, match=r"has shape \[16, 6\] in the file, \[17, 6\]"):
        eddl.load(wide, tmp_path / "w.bin")


def test_regularizer_penalty_is_added_to_the_loss():
    eddl.set_seed(0)
    in_ = eddl.Input([6])
    dense = eddl.L2(eddl.Dense(in_, 3), 0.5)
    net = eddl.Model([in_], [dense])
    eddl.build(net, eddl.sgd(0.0), ["mse"], ["mse"], eddl.CS_CPU(1))
    eddl.forward(net, [X])
    eddl.zeroGrads(net)
    eddl.backward(net, [Y])
    w = dense.module.weight
    data_grad = torch.autograd.grad(
        F.mse_loss(dense.module(torch.from_numpy(X)), torch.from_numpy(Y)), w
    )[0]
    penalty_grad = torch.autograd.grad(regularization_penalty([dense]), w)[0]
    assert penalty_grad.abs().sum() > 0
    torch.testing.assert_close(w.grad, data_grad + penalty_grad)


def test_newloss_compute_and_optimize():
    eddl.set_seed(0)
    in_ = eddl.Input([6])
    out = eddl.Sigmoid(eddl.Dense(in_, 6))
    net = eddl.Model([in_], [out])
    eddl.build(net, eddl.adam(0.05), [], [], eddl.CS_CPU(1))

    def mse_loss(inputs):
        diff = eddl.Diff(inputs[0], inputs[1])
        return eddl.Mult(diff, diff)

    mse = eddl.newloss(mse_loss, [out, in_], "mse_loss")
    x01 = 1 / (1 + np.exp(-X))
    first = None
    for _ in range(60):
        eddl.zeroGrads(net)
        eddl.forward(net, [x01])
        value = eddl.compute_loss(mse)
        first = value if first is None else first
        eddl.optimize(mse)
        eddl.update(net)
    ref = ((np.array(eddl.predict(net, [x01])[0]) - x01) ** 2).sum()
    assert value < first / 3
    assert ref == pytest.approx(eddl.compute_loss(mse), rel=0.2)
    with pytest.raises(TypeError, match="made by newloss"):
        eddl.compute_loss("mse")
    with pytest.raises(ValueError, match="built without losses"):
        eddl.fit(net, [x01], [x01], 8, 1, verbose=0)


def test_next_batch_copies_samples_of_another_shape_in_memory_order_as_eddl():
    images = np.arange(4 * 2 * 3 * 2, dtype=np.float32).reshape(4, 2, 3, 2)  # N, H, W, C
    batch = Tensor([5, 2, 2, 3])  # N, C, H, W: as many values per sample
    eddl.next_batch([Tensor.fromarray(images)], [batch])
    flat = batch.getdata().reshape(5, -1)
    rows = {tuple(r) for r in images.reshape(4, -1)}
    assert all(tuple(r) in rows for r in flat)


def test_get_output_of_an_inner_layer_after_evaluate():
    net = make()
    eddl.evaluate(net, [X], [Y], bs=8, verbose=0)
    h1 = net.layer("h1")
    got = eddl.getOutput(h1).getdata()
    want = h1.module(torch.from_numpy(X[32:40])).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
