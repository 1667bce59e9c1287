"""Metrics for scalar and multi-output regression, on plain numpy arrays.

MAE, RMSE and R² per output and averaged (scikit-learn's definitions: R² is 1 - SS_res / SS_tot,
averaged uniformly over outputs; checked in the tests), and a calibration table (mean prediction
against mean truth in bins of the prediction) for the KPI report's calibration plot.
`permutation_importance` measures how much a score drops when one feature's columns are shuffled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from deephealth.pipelines.metrics import MetricError


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    t = t.reshape(len(t), -1) if t.ndim else t.reshape(1, 1)
    p = p.reshape(len(p), -1) if p.ndim else p.reshape(1, 1)
    if t.shape != p.shape:
        raise MetricError(f"y_true has shape {t.shape} but y_pred has {p.shape}")
    if t.shape[0] == 0:
        raise MetricError("no samples to score")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise MetricError("regression values must be finite")
    return t, p


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """MAE, RMSE and R² (averaged over outputs) and their per-output values.

    Raises:
        MetricError: on mismatched shapes, no samples or non-finite values.
    """
    t, p = _pair(y_true, y_pred)
    err = p - t
    mae = np.abs(err).mean(0)
    rmse = np.sqrt((err**2).mean(0))
    ss_tot = ((t - t.mean(0)) ** 2).sum(0)
    ss_res = (err**2).sum(0)
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), 0.0)
    r2 = np.where((ss_tot == 0) & (ss_res == 0), 1.0, r2)
    return {
        "mae": float(mae.mean()),
        "rmse": float(rmse.mean()),
        "r2": float(r2.mean()),
        "per_output": {"mae": mae.tolist(), "rmse": rmse.tolist(), "r2": r2.tolist()},
    }


def calibration_table(y_true: Any, y_pred: Any, bins: int = 10) -> dict[str, list[float]]:
    """Mean prediction and mean truth in equal-count bins of the (first output's) prediction."""
    t, p = _pair(y_true, y_pred)
    order = np.argsort(p[:, 0], kind="stable")
    parts = [part for part in np.array_split(order, min(bins, len(order))) if part.size]
    return {
        "predicted": [float(p[part, 0].mean()) for part in parts],
        "observed": [float(t[part, 0].mean()) for part in parts],
        "count": [float(part.size) for part in parts],
    }


def permutation_importance(
    score: Callable[[Sequence[np.ndarray]], float],
    inputs: Sequence[np.ndarray],
    blocks: Mapping[str, Sequence[int]],
    input_index: int = -1,
    repeats: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """Drop of `score` when the columns of each feature are shuffled together across samples.

    Args:
        score: Higher-is-better score of the model on `inputs` (e.g. R² or the C-index).
        inputs: The model's inputs (the clinical-values matrix is `inputs[input_index]`).
        blocks: Feature name -> its columns in that matrix (`TabularEncoder.blocks()`).
        input_index: Which input holds the clinical values.
        repeats: Shuffles per feature (the drops are averaged).
        seed: Seed of the shuffles.

    Returns:
        Feature name -> mean drop of the score (larger = more important).
    """
    rng = np.random.default_rng(seed)
    base = score(inputs)
    out: dict[str, float] = {}
    for name, cols in blocks.items():
        drops = []
        for _ in range(repeats):
            shuffled = [np.array(x, copy=True) for x in inputs]
            matrix = shuffled[input_index]
            perm = rng.permutation(len(matrix))
            matrix[:, list(cols)] = matrix[perm][:, list(cols)]
            drops.append(base - score(shuffled))
        out[name] = float(np.mean(drops))
    return out
