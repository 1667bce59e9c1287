"""fit / evaluate / predict on arrays, tensors, Tensors and loaders; validation; callbacks; events;
reproducibility; bad input errors."""

import csv
import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import deephealth.eddl as eddl
from deephealth.eddl.training.state import get_state


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[d.target]
    return x[:600], y[:600], x[600:900], y[600:900]


def make_net(lr=0.01, seed=0, cs_threads=1, metrics=("accuracy",), opt=None):
    eddl.set_seed(seed)
    in_ = eddl.Input([64])
    out = eddl.Softmax(eddl.Dense(eddl.ReLu(eddl.Dense(in_, 32)), 10))
    net = eddl.Model([in_], [out])
    eddl.build(net, opt or eddl.adam(lr), ["sce"], [list(metrics)], eddl.CS_CPU(cs_threads))
    return net


def weights(net):
    return [p.detach().clone() for p in net.graph.parameters()]


def test_fit_numpy_learns_and_records_events(digits):
    x, y, xv, yv = digits
    net = make_net()
    history = eddl.fit(net, [x], [y], 50, 3, validation_data=([xv], [yv]), verbose=0)
    assert [e["epoch"] for e in history] == [1, 2, 3]
    last = history[-1]
    assert set(last) >= {"loss", "losses", "metrics", "val_loss", "val_metrics", "lr", "time_s"}
    assert last["samples"] == 600 and last["samples_per_s"] > 0
    assert history[0]["loss"] > last["loss"]
    assert last["val_metrics"]["accuracy"] > 0.75
    assert get_state(net).history is history or get_state(net).history == history
    res = eddl.evaluate(net, [xv], [yv], verbose=0)
    assert res["accuracy"] == pytest.approx(last["val_metrics"]["accuracy"])
    assert res["sce"] == pytest.approx(last["val_loss"], rel=1e-5)


def test_evaluate_prints_pyeddl_line(digits, capsys):
    x, y, _, _ = digits
    net = make_net()
    eddl.evaluate(net, [x], [y])
    assert capsys.readouterr().out.startswith("Evaluate: sce(=")


def test_fit_on_torch_tensor_and_Tensor_gives_same_weights(digits):
    x, y, _, _ = digits
    runs = []
    for conv in (lambda a: a, torch.from_numpy, eddl.Tensor.fromarray):
        net = make_net()
        eddl.fit(net, [conv(x)], [conv(y)], 64, 1, seed=5, verbose=0)
        runs.append(weights(net))
    for other in runs[1:]:
        assert all(torch.equal(a, b) for a, b in zip(runs[0], other))


def test_fit_on_iterable_of_batches_equals_unshuffled_arrays(digits):
    x, y, _, _ = digits
    loader = [(x[i : i + 100], y[i : i + 100]) for i in range(0, 600, 100)]
    a = make_net()
    eddl.fit(a, loader, epochs=2, verbose=0)
    b = make_net()
    eddl.fit(b, [x], [y], 100, 2, shuffle=False, verbose=0)
    assert all(torch.equal(p, q) for p, q in zip(weights(a), weights(b)))
    dict_loader = [{"x": [xb], "y": [yb]} for xb, yb in loader]
    c = make_net()
    eddl.fit(c, dict_loader, epochs=1, validation_data=loader[:2], verbose=0)
    assert "val_loss" in get_state(c).history[-1]


def test_class_index_targets(digits):
    x, y, _, _ = digits
    net = make_net()
    labels = y.argmax(1).astype(np.int64)
    eddl.fit(net, [x], [labels], 50, 3, verbose=0)
    assert eddl.evaluate(net, [x], [labels], verbose=0)["accuracy"] > 0.9


def test_same_seed_gives_bit_identical_runs_and_other_seed_differs(digits):
    x, y, _, _ = digits
    nets = []
    for seed in (1, 1, 2):  # set_seed -> build -> fit, as a script does
        nets.append(make_net(seed=seed))
        eddl.fit(nets[-1], [x], [y], 32, 2, verbose=0)
    a, b, c = nets
    assert all(torch.equal(p, q) for p, q in zip(weights(a), weights(b)))
    assert not all(torch.equal(p, q) for p, q in zip(weights(a), weights(c)))


def test_shuffle_changes_the_order(digits):
    x, y, _, _ = digits
    a, b = make_net(), make_net()
    eddl.fit(a, [x], [y], 32, 1, shuffle=True, seed=3, verbose=0)
    eddl.fit(b, [x], [y], 32, 1, shuffle=False, verbose=0)
    assert not all(torch.equal(p, q) for p, q in zip(weights(a), weights(b)))


def test_predict_matches_forward_and_batches(digits):
    _, _, xv, _ = digits
    net = make_net()
    full = eddl.predict(net, [xv])[0]
    parts = eddl.predict(net, [xv], bs=7)[0]
    assert full.shape == [300, 10]
    np.testing.assert_allclose(np.array(full), np.array(parts), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(full).sum(1), 1, rtol=1e-5)


def test_bad_data_errors(digits):
    x, y, _, _ = digits
    net = make_net()
    with pytest.raises(
        eddl.DataError, match=r"input 'input\d+' expects samples of shape \[64\].*got .*\[600, 63\]"
    ):
        eddl.fit(net, [x[:, :63]], [y], 10, 1, verbose=0)
    with pytest.raises(
        eddl.DataError,
        match=r"output 'softmax\d+' produces samples of shape \[10\], but the targets have shape \[600, 9\]",
    ):
        eddl.fit(net, [x], [y[:, :9]], 10, 1, verbose=0)
    with pytest.raises(
        eddl.DataError, match=r"same number of samples; got x\[0\]: 600, y\[0\]: 599"
    ):
        eddl.fit(net, [x], [y[:599]], 10, 1, verbose=0)
    with pytest.raises(eddl.DataError, match=r"1 input\(s\) .* but 2 input array"):
        eddl.fit(net, [x, x], [y], 10, 1, verbose=0)
    with pytest.raises(eddl.DataError, match="batch size must be a positive"):
        eddl.fit(net, [x], [y], 0, 1, verbose=0)
    with pytest.raises(eddl.DataError, match="expected a numpy array"):
        eddl.fit(net, [x.tolist()], [y], 10, 1, verbose=0)
    with pytest.raises(eddl.DataError, match="re-iterable"):
        eddl.fit(net, iter([(x, y)]), epochs=1, verbose=0)
    with pytest.raises(eddl.DataError, match=r"each batch must be \(x, y\)"):
        eddl.fit(net, [(x[:5], y[:5], y[:5])], epochs=1, verbose=0)
    with pytest.raises(eddl.DataError, match="arrays needs targets"):
        eddl.fit(net, [x], epochs=1, verbose=0)
    with pytest.raises(eddl.DataError, match="targets were given"):
        eddl.fit(net, {"x": x}, [y], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        eddl.fit(net, [x], [y], 10, -1, verbose=0)
    with pytest.raises(eddl.DataError, match="no batch"):
        eddl.fit(net, [], epochs=1, verbose=0)


def test_nan_loss_stops_naming_epoch_and_batch(digits):
    x, y, _, _ = digits
    net = make_net()
    bad = x.copy()
    bad[130] = np.nan
    with pytest.raises(eddl.NonFiniteLossError, match=r"nan at epoch 1, batch 3"):
        eddl.fit(net, [bad], [y], 50, 2, shuffle=False, verbose=0)


def test_csv_json_text_logs_hold_the_events(digits, tmp_path):
    x, y, xv, yv = digits
    net = make_net()
    eddl.setlogfile(net, tmp_path / "run.log")
    cbs = [eddl.CSVLogger(tmp_path / "log.csv"), eddl.JSONLogger(tmp_path / "log.jsonl")]
    history = eddl.fit(
        net, [x], [y], 100, 2, validation_data=([xv], [yv]), callbacks=cbs, verbose=0
    )
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["val_accuracy"]) == pytest.approx(history[1]["val_metrics"]["accuracy"])
    events = [json.loads(line) for line in open(tmp_path / "log.jsonl")]
    assert events == json.loads(json.dumps(history))
    text = (tmp_path / "run.log").read_text().splitlines()
    assert len(text) == 2 and text[0].startswith("Epoch 1/2 ") and "accuracy(=" in text[0]


def test_progress_bar_writes_to_stderr(digits, capsys):
    x, y, _, _ = digits
    net = make_net()
    eddl.fit(net, [x], [y], 100, 1, verbose=1)
    err = capsys.readouterr().err
    assert "Epoch 1/1" in err and "6/6" in err and "accuracy=" in err


def test_early_stopping_stops_and_lr_schedules_apply(digits):
    x, y, xv, yv = digits
    net = make_net(lr=0.0)  # nothing improves with lr 0
    stopper = eddl.EarlyStopping("val_loss", patience=2)
    hist = eddl.fit(
        net, [x], [y], 100, 10, validation_data=([xv], [yv]), callbacks=[stopper], verbose=0
    )
    assert len(hist) == 3 and stopper.stopped_epoch == 3
    net = make_net(lr=0.1)
    hist = eddl.fit(net, [x], [y], 100, 4, callbacks=[eddl.StepLR(2, 0.5)], verbose=0)
    assert [e["lr"] for e in hist] == [0.1, 0.1, 0.05, 0.05]
    net = make_net(lr=0.1)
    hist = eddl.fit(net, [x], [y], 100, 3, callbacks=[eddl.CosineLR(2)], verbose=0)
    assert [round(e["lr"], 6) for e in hist] == [0.1, 0.05, 0.0]
    with pytest.raises(KeyError, match="monitors 'val_dice'"):
        eddl.fit(
            make_net(), [x], [y], 100, 1, callbacks=[eddl.EarlyStopping("val_dice")], verbose=0
        )
    with pytest.raises(ValueError, match="StepLR needs step >= 1"):
        eddl.StepLR(0)
    with pytest.raises(ValueError, match="CosineLR needs epochs >= 1"):
        eddl.CosineLR(0)
    with pytest.raises(ValueError, match="LR schedule gave -1"):
        eddl.fit(
            make_net(), [x], [y], 100, 1, callbacks=[eddl.LRSchedule(lambda e, lr: -1)], verbose=0
        )


def test_early_stopping_on_accuracy_is_maximized(digits):
    x, y, _, _ = digits
    stopper = eddl.EarlyStopping("accuracy", patience=1)
    assert stopper.mode == "max"
    assert eddl.EarlyStopping("val_loss").mode == "min"
    with pytest.raises(ValueError, match="mode must be"):
        eddl.EarlyStopping(mode="up")


class Recorder(eddl.Callback):
    def __init__(self):
        self.calls = []

    def on_fit_begin(self, run):
        self.calls.append("begin")

    def on_epoch_begin(self, run):
        self.calls.append(f"e{run.epoch}")

    def on_batch_end(self, run, batch):
        self.calls.append(batch)

    def on_fit_end(self, run):
        self.calls.append("end")


def test_callback_hook_order(digits):
    x, y, _, _ = digits
    rec = Recorder()
    eddl.fit(make_net(), [x[:200]], [y[:200]], 100, 2, callbacks=[rec], verbose=0)
    assert rec.calls == ["begin", "e0", 0, 1, "e1", 0, 1, "end"]


def test_user_strategy_hooks_are_called(digits):
    x, y, _, _ = digits

    class HalfShard(eddl.Strategy):
        def __init__(self):
            self.after = 0

        def shard(self, indices):
            return indices[::2]

        def after_backward(self, state, n_local=None):
            self.after += 1

    strat = HalfShard()
    eddl.set_seed(0)
    in_ = eddl.Input([64])
    net = eddl.Model([in_], [eddl.Softmax(eddl.Dense(in_, 10))])
    eddl.build(net, eddl.sgd(), ["sce"], ["acc"], eddl.CS_CPU(1), strategy=strat)
    hist = eddl.fit(net, [x], [y], 100, 1, verbose=0)
    assert hist[0]["samples"] == 300 and strat.after == 3
