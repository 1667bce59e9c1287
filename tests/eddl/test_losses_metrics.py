"""Losses, metrics and optimizers by name: values against numpy references, aliases, errors,
user-defined Loss/Metric subclasses and callables."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import deephealth.eddl as eddl
from deephealth.eddl.training.losses import LOSS_ALIASES, LOSSES, as_loss, getLoss
from deephealth.eddl.training.metrics import METRIC_ALIASES, METRICS, as_metric, getMetric
from deephealth.eddl.training.optimizers import OPTIMIZERS, make_spec

RNG = np.random.default_rng(0)
LOGITS = torch.tensor(RNG.normal(size=(6, 4)), dtype=torch.float32)
PROBS = torch.softmax(LOGITS, 1)
LABELS = torch.tensor([0, 3, 1, 1, 2, 0])
ONEHOT = F.one_hot(LABELS, 4).float()
P, T = PROBS.numpy().astype(np.float64), ONEHOT.numpy().astype(np.float64)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("soft_cross_entropy", -(T * np.log(P)).sum() / 6),
        ("categorical_cross_entropy", -(T * np.log(P)).sum() / 6),
        ("mse", ((P - T) ** 2).mean()),
        ("mae", np.abs(P - T).mean()),
        ("bce", -(T * np.log(P) + (1 - T) * np.log(1 - P)).mean()),
        ("dice", 1 - np.mean((2 * (P * T).sum(1) + 1e-7) / (P.sum(1) + T.sum(1) + 1e-7))),
        ("focal", -(T * (1 - P) ** 2 * np.log(P)).sum() / 6),
    ],
)
def test_builtin_loss_values(name, expected):
    assert getLoss(name)(PROBS, ONEHOT).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ["sce", "cce", "focal"])
def test_from_logits_equals_loss_of_softmax(name):
    loss = getLoss(name)
    assert loss.fused_act == "softmax"
    a = loss.from_logits(LOGITS, ONEHOT, 1)
    assert a.item() == pytest.approx(loss(PROBS, ONEHOT).item(), rel=1e-5)


def test_bce_from_logits_and_class_index_targets():
    z = torch.tensor(RNG.normal(size=(5, 3)), dtype=torch.float32)
    t = (torch.rand(5, 3) > 0.5).float()
    bce = getLoss("binary_cross_entropy")
    assert bce.from_logits(z, t, -1).item() == pytest.approx(bce(torch.sigmoid(z), t).item(), 1e-5)
    sce = getLoss("sce")
    assert sce(PROBS, LABELS).item() == pytest.approx(sce(PROBS, ONEHOT).item(), rel=1e-6)
    assert sce.from_logits(LOGITS, LABELS, 1).item() == pytest.approx(
        F.cross_entropy(LOGITS, LABELS).item(), rel=1e-6
    )


def test_every_alias_resolves_and_unknown_names_list_valid_ones():
    for alias, target in LOSS_ALIASES.items():
        assert target in LOSSES and getLoss(alias).name == alias
    for alias, target in METRIC_ALIASES.items():
        assert target in METRICS and getMetric(alias).name == alias
    with pytest.raises(ValueError, match="unknown loss 'nope'; valid losses: .*bce.*mse"):
        getLoss("nope")
    with pytest.raises(ValueError, match="unknown metric 'nope'; valid metrics: .*accuracy.*iou"):
        getMetric("nope")
    with pytest.raises(TypeError, match="a loss must be"):
        as_loss(3)
    with pytest.raises(TypeError, match="a metric must be"):
        as_metric(3)


def test_metric_values_are_batch_sums():
    pred = PROBS.argmax(1)
    assert getMetric("accuracy")(PROBS, ONEHOT).item() == (pred == LABELS).sum().item()
    assert getMetric("accuracy")(PROBS, LABELS).item() == (pred == LABELS).sum().item()
    assert getMetric("mse")(PROBS, ONEHOT).item() == pytest.approx(
        ((P - T) ** 2).mean(1).sum(), 1e-5
    )
    assert getMetric("mae")(PROBS, ONEHOT).item() == pytest.approx(
        np.abs(P - T).mean(1).sum(), 1e-5
    )
    mre = (np.abs(P - T) / (np.abs(T) + 1e-7)).mean(1).sum()
    assert getMetric("mre")(PROBS, ONEHOT).item() == pytest.approx(mre, rel=1e-4)
    assert getMetric("binary_accuracy")(PROBS, ONEHOT).item() == pytest.approx(
        ((P > 0.5) == (T > 0.5)).mean(1).sum(), 1e-6
    )
    y = torch.tensor([[1.0, 1, 0, 0], [0, 0, 0, 0.9]])
    t = torch.tensor([[1.0, 0, 0, 0], [0, 0, 1, 1]])
    assert getMetric("iou")(y, t).item() == pytest.approx(0.5 + 0.5, rel=1e-5)
    dice = (2 * 1 + 1e-7) / (2 + 1 + 1e-7) + (2 * 0.9 + 1e-7) / (0.9 + 2 + 1e-7)
    assert getMetric("dice")(y, t).item() == pytest.approx(dice, rel=1e-5)


class PyMSE(eddl.Loss):
    """pyeddl-style loss: value + delta written with the Tensor API."""

    def __init__(self):
        super().__init__("py_mse")

    def value(self, t, y):
        d = y - t
        return (d * d).sum() / t.shape[0]

    def delta(self, t, y, d):
        eddl.Tensor.copy(y - t, d)
        d.mult_(2.0 / t.shape[0])


def test_pyeddl_loss_subclass_value_and_gradient():
    y = PROBS.clone().requires_grad_(True)
    value = PyMSE()(y, ONEHOT)
    value.backward()
    assert value.item() == pytest.approx(((P - T) ** 2).sum() / 6, rel=1e-5)
    np.testing.assert_allclose(y.grad.numpy(), 2 * (P - T) / 6, rtol=1e-5)


def test_loss_subclass_without_hooks_explains():
    with pytest.raises(NotImplementedError, match="implement compute"):
        eddl.Loss("empty")(PROBS, ONEHOT)


class CountCorrect(eddl.Metric):
    def __init__(self):
        super().__init__("py_acc")

    def value(self, t, y):
        return float((np.argmax(t.getdata(), 1) == np.argmax(y.getdata(), 1)).sum())


def test_pyeddl_metric_subclass_and_callables():
    assert CountCorrect()(PROBS, ONEHOT).item() == (PROBS.argmax(1) == LABELS).sum().item()
    mean_metric = as_metric(lambda y, t: ((y - t) ** 2).mean())
    assert mean_metric(PROBS, ONEHOT).item() == pytest.approx(((P - T) ** 2).mean() * 6, 1e-5)
    assert as_loss(F.mse_loss)(PROBS, ONEHOT).item() == pytest.approx(((P - T) ** 2).mean(), 1e-5)
    with pytest.raises(NotImplementedError, match="implement value"):
        eddl.Metric("m")(PROBS, ONEHOT)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_matches_torch(name):
    """One step of each optimizer equals the torch optimizer with mapped hyperparameters."""
    w0 = torch.tensor([1.0, -2.0, 3.0])
    grad = torch.tensor([0.5, 0.1, -0.3])
    spec = getattr(eddl, name)()
    a = torch.nn.Parameter(w0.clone())
    opt = spec.make([a])
    cls, _, to_torch = OPTIMIZERS[name]
    b = torch.nn.Parameter(w0.clone())
    ref = cls([b], **to_torch(spec.params))
    for _ in range(3):
        a.grad, b.grad = grad.clone(), grad.clone()
        opt.step()
        ref.step()
    assert torch.equal(a, b) and not torch.equal(a.detach(), w0)


def test_optimizer_arguments_and_errors():
    s = eddl.sgd(0.1, 0.9, nesterov=True)
    assert s.params == {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0, "nesterov": True}
    a = eddl.adam(0.001, amsgrad=True)
    opt = a.make([torch.nn.Parameter(torch.zeros(1))])
    assert opt.defaults["amsgrad"] is True and opt.defaults["eps"] == 1e-6
    assert make_spec("RMS_PROP").name == "rmsprop"
    with pytest.raises(ValueError, match="unknown optimizer 'adamz'; valid optimizers: .*adam"):
        make_spec("adamz")
    with pytest.raises(TypeError, match="no hyperparameter 'beta'"):
        make_spec("adam", beta=0.9)
    with pytest.raises(TypeError, match="at most 4"):
        make_spec("sgd", 1, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="learning rate must be >= 0"):
        eddl.sgd(-1)
    with pytest.raises(ValueError, match="setlr for sgd takes 1 to 4 values"):
        s.set([1, 2, 3, 4, 5])
