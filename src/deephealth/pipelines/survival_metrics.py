"""Metrics for time-to-event outcomes with censoring, on plain numpy arrays.

Risk scores follow the Cox convention: a higher score means an earlier event. Times are any
positive unit (days, months); `event` is 1 when the event was observed and 0 when censored.

- `concordance_index`: Harrell's C. A pair (i, j) is comparable when i's event was observed and
  happened before j's time, or at the same time as j's censoring (j is then known to have outlived
  i); it is concordant when i's risk is higher, and a tie in risk counts one half. Equal to
  lifelines' `concordance_index(time, -risk, event)` (checked in the tests).
- `kaplan_meier`: the product-limit survival curve (lifelines' `KaplanMeierFitter`).
- `cumulative_dynamic_auc`: time-dependent AUC at given times (Uno et al. 2007): cases are the
  samples with an event by time t, controls those still at risk after t; cases are weighted by the
  inverse probability of censoring (Kaplan–Meier of the censoring times), as scikit-survival does.
- `risk_groups`: samples split into groups of predicted risk (quantiles of the training scores),
  each with its Kaplan–Meier curve, for the KPI report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deephealth.pipelines.metrics import MetricError

_CHUNK = 2048  # rows of the pairwise comparison computed at once (bounded memory)


def _survival_arrays(
    time: Any, event: Any, risk: Any | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    t = np.asarray(time, dtype=np.float64).reshape(-1)
    e = np.asarray(event).reshape(-1)
    if t.shape != e.shape:
        raise MetricError(f"time has {t.size} values but event has {e.size}")
    if not np.all(np.isfinite(t)) or (t.size and t.min() < 0):
        raise MetricError("times must be finite and non-negative")
    if not np.all(np.isin(e, (0, 1))):
        raise MetricError("event must hold 0 (censored) or 1 (event observed)")
    r = None
    if risk is not None:
        r = np.asarray(risk, dtype=np.float64).reshape(-1)
        if r.shape != t.shape:
            raise MetricError(f"risk has {r.size} values but time has {t.size}")
        if not np.all(np.isfinite(r)):
            raise MetricError("risk scores must be finite")
    return t, e.astype(bool), r


def concordance_index(time: Any, risk: Any, event: Any) -> float:
    """Harrell's concordance index of risk scores (higher risk = earlier event).

    Args:
        time: Times to the event or to censoring, (N,).
        risk: Predicted risk scores, (N,).
        event: 1 when the event was observed, 0 when censored, (N,).

    Returns:
        C in [0, 1] (0.5 = random ordering).

    Raises:
        MetricError: on mismatched lengths, bad values, or no comparable pair.
    """
    t, e, r = _survival_arrays(time, event, risk)
    assert r is not None
    num = 0.0
    den = 0.0
    cases = np.flatnonzero(e)
    for start in range(0, cases.size, _CHUNK):
        i = cases[start : start + _CHUNK]
        ti, ri = t[i, None], r[i, None]
        comparable = (ti < t[None, :]) | ((ti == t[None, :]) & ~e[None, :])
        num += float(np.sum(comparable & (ri > r[None, :])))
        num += 0.5 * float(np.sum(comparable & (ri == r[None, :])))
        den += float(np.sum(comparable))
    if den == 0:
        raise MetricError("no comparable pair: the C-index needs at least one observed event")
    return num / den


def kaplan_meier(time: Any, event: Any) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier survival estimate.

    Returns:
        (times, survival): the distinct times (0 first) and S(t) just after each.
    """
    t, e, _ = _survival_arrays(time, event)
    times, inverse = np.unique(t, return_inverse=True)
    deaths = np.bincount(inverse, weights=e.astype(np.float64), minlength=times.size)
    removed = np.bincount(inverse, minlength=times.size)
    at_risk = t.size - np.concatenate([[0], np.cumsum(removed)[:-1]])
    surv = np.cumprod(1.0 - deaths / np.maximum(at_risk, 1))
    return np.concatenate([[0.0], times]), np.concatenate([[1.0], surv])


def _step_at(times: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Right-continuous step function (times, values) evaluated at `at`."""
    return values[np.searchsorted(times, at, side="right") - 1]


def cumulative_dynamic_auc(
    time_train: Any,
    event_train: Any,
    time: Any,
    event: Any,
    risk: Any,
    times: Sequence[float],
) -> tuple[np.ndarray, float]:
    """Time-dependent (cumulative/dynamic) AUC with inverse-probability-of-censoring weights.

    Args:
        time_train, event_train: The training split's outcomes (for the censoring distribution).
        time, event, risk: The evaluated split's outcomes and risk scores.
        times: Time points, each inside the follow-up of the evaluated split.

    Returns:
        (AUC at each time, their mean weighted by the change in Kaplan–Meier survival).
    """
    tt, et, _ = _survival_arrays(time_train, event_train)
    t, e, r = _survival_arrays(time, event, risk)
    assert r is not None
    # censoring survival G(t): Kaplan–Meier with the roles of events and censoring swapped
    g_times, g_surv = kaplan_meier(tt, ~et)
    g = _step_at(g_times, g_surv, np.minimum(t, tt.max()))
    w_case = np.where(e & (g > 0), 1.0 / np.where(g > 0, g, 1.0), 0.0)
    aucs = []
    for tau in np.asarray(times, dtype=np.float64):
        case = (t <= tau) & e
        control = t > tau
        if not case.any() or not control.any():
            raise MetricError(f"no case or no control at time {tau}: pick a time inside follow-up")
        rc, wc = r[case], w_case[case]
        ro = r[control]
        greater = (rc[:, None] > ro[None, :]).sum(1) + 0.5 * (rc[:, None] == ro[None, :]).sum(1)
        aucs.append(float(np.sum(wc * greater) / (np.sum(wc) * ro.size)))
    auc = np.asarray(aucs)
    km_t, km_s = kaplan_meier(t, e)
    s = _step_at(km_t, km_s, np.asarray(times, dtype=np.float64))
    weights = -np.diff(np.concatenate([[1.0], s]))
    mean = float(np.sum(auc * weights) / weights.sum()) if weights.sum() > 0 else float(auc.mean())
    return auc, mean


def risk_groups(
    risk: Any, time: Any, event: Any, cuts: Sequence[float]
) -> list[dict[str, np.ndarray | int]]:
    """Kaplan–Meier curves of the groups that `cuts` (ascending risk thresholds) define.

    Returns:
        One dict per group (lowest risk first): ``n``, ``times``, ``survival``.
    """
    t, e, r = _survival_arrays(time, event, risk)
    assert r is not None
    group = np.searchsorted(np.asarray(cuts, dtype=np.float64), r, side="right")
    out: list[dict[str, np.ndarray | int]] = []
    for g in range(len(cuts) + 1):
        m = group == g
        km_t, km_s = kaplan_meier(t[m], e[m]) if m.any() else (np.zeros(1), np.ones(1))
        out.append({"n": int(m.sum()), "times": km_t, "survival": km_s})
    return out
