"""Survival and robust-regression losses: values against direct formulas and lifelines' Cox fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl.training.losses import getLoss

lifelines = pytest.importorskip("lifelines")


def breslow_nll(risk: np.ndarray, time: np.ndarray, event: np.ndarray) -> float:
    """The textbook Breslow partial likelihood, one event at a time (independent of the loss)."""
    total = 0.0
    for i in np.flatnonzero(event):
        at_risk = time >= time[i]
        total -= risk[i] - np.log(np.exp(risk[at_risk]).sum())
    return total / max(event.sum(), 1)


@pytest.mark.parametrize("seed", range(5))
def test_cox_loss_equals_breslow_formula_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    time = rng.integers(1, 8, n).astype(np.float64)  # many tied times
    event = rng.integers(0, 2, n)
    risk = rng.normal(size=n)
    target = torch.tensor(np.stack([time, event], 1), dtype=torch.float32)
    got = getLoss("cox")(torch.tensor(risk, dtype=torch.float64).reshape(-1, 1), target)
    assert float(got) == pytest.approx(breslow_nll(risk, time, event), rel=1e-6)


def test_discrete_time_loss_equals_its_likelihood() -> None:
    hazard = torch.tensor([[0.1, 0.2, 0.3], [0.5, 0.4, 0.9]], dtype=torch.float64)
    target = torch.tensor([[1, 1], [2, 0]], dtype=torch.float32)
    # sample 0: survived interval 0, event in 1; sample 1: censored in 2 (survived 0, 1, 2)
    ll0 = np.log(0.9) + np.log(0.2)
    ll1 = np.log(0.5) + np.log(0.6) + np.log(0.1)
    got = float(getLoss("discrete_time_survival")(hazard, target))
    assert got == pytest.approx(-(ll0 + ll1) / 2, rel=1e-6)


def test_survival_losses_reject_bad_targets() -> None:
    with pytest.raises(ValueError, match=r"\(time, event\)"):
        getLoss("cox")(torch.zeros(4, 1), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="interval indices"):
        getLoss("discrete_time_survival")(torch.full((2, 3), 0.5), torch.tensor([[3.0, 1.0]] * 2))


def test_huber_loss_matches_torch() -> None:
    y, t = torch.tensor([0.0, 2.0, -3.0]), torch.tensor([0.5, 0.0, 0.0])
    want = float(torch.nn.functional.smooth_l1_loss(y, t))
    assert float(getLoss("huber")(y, t)) == pytest.approx(want)
    assert float(getLoss("smooth_l1")(y, t)) == pytest.approx(want)


def test_cox_model_trained_with_eddl_recovers_lifelines_coefficients() -> None:
    """A linear risk score fitted with the `cox` loss on the Rossi data: lifelines' coefficients
    (Efron ties) within 5 % each (Breslow's differ from Efron's by well under that here)."""
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_rossi

    data = load_rossi()
    ref = CoxPHFitter().fit(data, "week", "arrest").params_
    cols = list(ref.index)
    x = data[cols].to_numpy(np.float32)
    mean, std = x.mean(0), x.std(0)
    y = data[["week", "arrest"]].to_numpy(np.float32)
    inp = eddl.Input([len(cols)])
    net = eddl.Model([inp], [eddl.Dense(inp, 1, use_bias=False)])
    eddl.build(net, eddl.adam(0.05), ["cox"], [], eddl.CS_CPU(), init_weights=True)
    xs = eddl.Tensor.fromarray((x - mean) / std)
    eddl.fit(net, [xs], [eddl.Tensor.fromarray(y)], len(x), 300)
    dense = next(layer for layer in net.layers if layer.kind == "Dense")
    coef = dense.module.weight.detach().numpy().ravel() / std
    np.testing.assert_allclose(coef, ref.to_numpy(), rtol=0.05)
