"""Losses for outcomes over time (survival) and robust regression, registered in `losses.LOSSES`.

Survival targets are `(N, 2)` float tensors: column 0 the time (to the event or to censoring),
column 1 the event indicator (1 = the event happened, 0 = censored).

- ``cox`` (alias ``cox_ph``): the negative Cox partial log-likelihood of a risk score `(N,)` or
  `(N, 1)` (higher = earlier event), with Breslow's handling of tied times: every sample whose time
  is at least an event's time is in that event's risk set. Averaged over the events of the batch, so
  the risk sets are those of the batch (the whole training set when the batch holds it).
- ``discrete_time_survival``: the negative log-likelihood of per-interval hazards `(N, K)` in
  (0, 1) (a sigmoid output), the time column holding the interval index. A sample with its event
  in interval k survived intervals 0..k-1 and had the event in k; a sample censored in interval k
  survived intervals 0..k (censoring is taken to happen at the end of its interval).
- ``huber`` (alias ``smooth_l1``): the Huber loss with delta 1, a mean over elements.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-7


def _survival_target(t: torch.Tensor, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if t.dim() != 2 or t.shape[1] != 2:
        raise ValueError(
            f"{name}: the target must be (batch, 2) = (time, event), got shape {tuple(t.shape)}"
        )
    return t[:, 0].float(), t[:, 1].float()


def cox_breslow(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Negative Cox partial log-likelihood (Breslow ties), averaged over the batch's events."""
    time, event = _survival_target(t, "cox")
    risk = y.reshape(y.shape[0], -1)
    if risk.shape[1] != 1:
        raise ValueError(f"cox: the output must be one risk score per sample, got {tuple(y.shape)}")
    risk = risk[:, 0].float()
    order = torch.argsort(time, descending=True, stable=True)
    time, event, risk = time[order], event[order], risk[order]
    # log of the sum of exp(risk) over {j: time_j >= time_i}: a running logsumexp in descending
    # time order, taken at the last position of each group of tied times (Breslow).
    running = torch.logcumsumexp(risk, dim=0)
    last_of_tie = torch.searchsorted(-time, -time, right=True) - 1
    log_risk_set = running[last_of_tie]
    n_events = event.sum().clamp_min(1.0)
    return -((risk - log_risk_set) * event).sum() / n_events


def discrete_time_nll(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of per-interval hazards, averaged over the batch."""
    interval, event = _survival_target(t, "discrete_time_survival")
    hazard = y.reshape(y.shape[0], -1).float().clamp(EPS, 1 - EPS)
    k = hazard.shape[1]
    idx = interval.long()
    if idx.numel() and (idx.min() < 0 or idx.max() >= k):
        raise ValueError(
            f"discrete_time_survival: interval indices must lie in [0, {k - 1}] for {k} outputs"
        )
    steps = torch.arange(k, device=y.device).unsqueeze(0)
    before = (steps < idx.unsqueeze(1)).float()
    at = (steps == idx.unsqueeze(1)).float()
    log_surv = torch.log1p(-hazard)
    ll = (before * log_surv).sum(1) + (at * torch.log(hazard)).sum(1) * event
    ll = ll + (at * log_surv).sum(1) * (1 - event)
    return -ll.mean()


def huber(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Huber loss (delta 1), a mean over elements."""
    return F.huber_loss(y.float(), t.float(), delta=1.0)
