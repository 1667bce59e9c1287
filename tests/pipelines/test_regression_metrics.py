"""Regression metrics against scikit-learn; calibration table; permutation importance."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from deephealth.pipelines.metrics import MetricError
from deephealth.pipelines.regression_metrics import (
    calibration_table,
    permutation_importance,
    regression_metrics,
)


def test_metrics_equal_scikit_learn_on_the_real_diabetes_data() -> None:
    x, y = load_diabetes(return_X_y=True)
    pred = LinearRegression().fit(x[:300], y[:300]).predict(x[300:])
    got = regression_metrics(y[300:], pred)
    assert got["mae"] == pytest.approx(mean_absolute_error(y[300:], pred), rel=1e-12)
    assert got["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y[300:], pred)), rel=1e-12)
    assert got["r2"] == pytest.approx(r2_score(y[300:], pred), rel=1e-12)


def test_multi_output_r2_is_the_uniform_average_as_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    t = rng.normal(size=(50, 3))
    p = t + rng.normal(scale=[0.1, 0.5, 1.0], size=(50, 3))
    got = regression_metrics(t, p)
    assert got["r2"] == pytest.approx(r2_score(t, p), rel=1e-12)
    np.testing.assert_allclose(got["per_output"]["r2"], r2_score(t, p, multioutput="raw_values"))


def test_calibration_table_of_a_calibrated_model_lies_on_the_diagonal() -> None:
    rng = np.random.default_rng(1)
    pred = rng.uniform(0, 10, 4000)
    truth = pred + rng.normal(0, 1, 4000)
    table = calibration_table(truth, pred, bins=8)
    assert sum(table["count"]) == 4000
    np.testing.assert_allclose(table["observed"], table["predicted"], atol=0.15)


def test_permutation_importance_ranks_the_feature_that_matters() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 4)).astype(np.float32)
    y = 3 * x[:, 0] + 0.2 * x[:, 2]

    def score(inputs):
        return r2_score(y, 3 * inputs[0][:, 0] + 0.2 * inputs[0][:, 2])

    imp = permutation_importance(score, [x], {"a": [0], "b": [1], "c": [2, 3]})
    assert imp["a"] > 1.0 and imp["b"] == 0.0 and 0 < imp["c"] < 0.2


def test_bad_inputs_are_named() -> None:
    with pytest.raises(MetricError, match="shape"):
        regression_metrics([1, 2, 3], [1, 2])
    with pytest.raises(MetricError, match="finite"):
        regression_metrics([1, 2], [1, np.nan])
