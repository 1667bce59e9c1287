"""Survival metrics against lifelines on real (Rossi, lung) and random tied data."""

from __future__ import annotations

import numpy as np
import pytest

from deephealth.pipelines.metrics import MetricError
from deephealth.pipelines.survival_metrics import (
    concordance_index,
    cumulative_dynamic_auc,
    kaplan_meier,
    risk_groups,
)

lifelines = pytest.importorskip("lifelines")


@pytest.mark.parametrize("seed", range(30))
def test_c_index_equals_lifelines_with_ties_and_censoring(seed: int) -> None:
    from lifelines.utils import concordance_index as lifelines_c

    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    time = rng.integers(1, 15, n).astype(float)
    event = rng.integers(0, 2, n)
    event[0] = 1
    risk = rng.integers(0, 6, n).astype(float) if seed % 2 else rng.normal(size=n)
    assert concordance_index(time, risk, event) == pytest.approx(
        lifelines_c(time, -risk, event), abs=1e-9
    )


def test_c_index_of_a_real_cox_model_equals_lifelines() -> None:
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_rossi
    from lifelines.utils import concordance_index as lifelines_c

    data = load_rossi()
    cph = CoxPHFitter().fit(data, "week", "arrest")
    risk = cph.predict_partial_hazard(data).to_numpy()
    ours = concordance_index(data.week, risk, data.arrest)
    assert ours == pytest.approx(lifelines_c(data.week, -risk, data.arrest), abs=1e-9)
    assert ours == pytest.approx(cph.concordance_index_, abs=1e-9)


def test_kaplan_meier_equals_lifelines_on_the_lung_data() -> None:
    from lifelines import KaplanMeierFitter
    from lifelines.datasets import load_lung

    data = load_lung().dropna(subset=["time", "status"])
    event = (data.status.to_numpy() == 2) if data.status.max() == 2 else data.status.to_numpy()
    ref = KaplanMeierFitter().fit(data.time, event).survival_function_.iloc[:, 0]
    times, surv = kaplan_meier(data.time, event.astype(int))
    np.testing.assert_array_equal(times, ref.index.to_numpy())
    np.testing.assert_allclose(surv, ref.to_numpy(), atol=1e-12)


def test_time_dependent_auc_perfect_random_and_reversed() -> None:
    rng = np.random.default_rng(0)
    n = 300
    time = rng.exponential(10, n)
    event = (rng.random(n) < 0.7).astype(int)
    times = np.quantile(time[event == 1], [0.25, 0.5, 0.75])
    auc, mean = cumulative_dynamic_auc(time, event, time, event, -time, times)
    np.testing.assert_allclose(auc, 1.0)
    assert mean == pytest.approx(1.0)
    auc_rev, _ = cumulative_dynamic_auc(time, event, time, event, time, times)
    np.testing.assert_allclose(auc_rev, 0.0)
    auc_rand, _ = cumulative_dynamic_auc(time, event, time, event, rng.normal(size=n), times)
    assert np.all(np.abs(auc_rand - 0.5) < 0.12)


def test_risk_groups_separate_a_real_model() -> None:
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_rossi

    data = load_rossi()
    risk = CoxPHFitter().fit(data, "week", "arrest").predict_log_partial_hazard(data).to_numpy()
    low, high = risk_groups(risk, data.week, data.arrest, [float(np.median(risk))])
    assert low["n"] + high["n"] == len(data)
    assert low["survival"][-1] > high["survival"][-1] + 0.05


def test_bad_survival_inputs_are_named() -> None:
    with pytest.raises(MetricError, match="event must hold"):
        concordance_index([1, 2], [0.1, 0.2], [1, 2])
    with pytest.raises(MetricError, match="no comparable pair"):
        concordance_index([1, 2], [0.1, 0.2], [0, 0])
    with pytest.raises(MetricError, match="risk has 1 values"):
        concordance_index([1, 2], [0.1], [1, 0])
