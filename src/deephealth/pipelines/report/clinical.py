"""The clinical sections of a KPI report (``scalar_regression`` and ``survival`` runs): the
modality ablation table (image only / tabular only / fused), the permutation importance of each
clinical feature, and the plots: calibration (predicted vs observed, per equal-count bin) for
regression, Kaplan–Meier curves of the predicted low- and high-risk halves for survival."""

from __future__ import annotations

import html
from typing import Any

from deephealth.pipelines.report.plotting import _fmt, _img, _plt, _png, _table


def calibration_plot(table: dict[str, list[float]]) -> str | None:
    """Mean observed vs mean predicted value per bin, with the identity line; a PNG data URI."""
    if not table or not table.get("predicted"):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4, 4))
    p, o = table["predicted"], table["observed"]
    lo, hi = min(*p, *o), max(*p, *o)
    ax.plot([lo, hi], [lo, hi], "--", color="grey", label="ideal")
    ax.plot(p, o, "o-", label="model")
    ax.set_xlabel("mean predicted")
    ax.set_ylabel("mean observed")
    ax.legend()
    return _png(fig)


def km_plot(groups: list[dict[str, Any]]) -> str | None:
    """Kaplan–Meier survival curves of the predicted risk groups; a PNG data URI."""
    if not groups:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for g in groups:
        ax.step([0.0, *g["times"]], [1.0, *g["survival"]], where="post",
                label=f"{g['group']} (n={g['n']})")  # fmt: skip
    ax.set_xlabel("time")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.02)
    ax.legend()
    return _png(fig)


def _rows_table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(r.get(k))}</td>" for k in keys) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def clinical_sections(report: dict[str, Any]) -> list[str]:
    """HTML of the clinical sections (empty for the other tasks)."""
    extras = report.get("clinical")
    if not extras:
        return []
    test = report.get("test_metrics", {}) or {}
    out = ["<h2>Clinical data</h2>", f"<p>Fusion: <b>{_fmt(extras.get('fusion'))}</b>.</p>"]
    if extras.get("ablation"):
        out += ["<h3>Ablation: what each modality adds (test split)</h3>",
                _rows_table(extras["ablation"])]  # fmt: skip
    imp = extras.get("permutation_importance") or {}
    if imp:
        ranked = sorted(imp.items(), key=lambda kv: -kv[1])
        out += ["<h3>Permutation importance (drop of the score when a feature is shuffled)</h3>",
                _table(ranked)]  # fmt: skip
    figures = [
        _img(calibration_plot(test.get("calibration") or {}), "Calibration (test split)"),
        _img(km_plot(test.get("km_groups") or []), "Kaplan–Meier curves of predicted risk groups"),
    ]
    return [*out, "".join(figures)]
