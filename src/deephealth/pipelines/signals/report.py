"""The KPI report of a signal run: metrics tables, ROC, and example windows and recordings
plotted with their annotations (true events shaded, detections marked)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.pipelines.report.html import _img, _plt, _png, _table, confusion_plot, roc_plot


def window_plot(x: np.ndarray, fs: float, start: float, channels: list[str], title: str,
                events: list[tuple[float, float]] = ()) -> str:  # fmt: skip
    """One window, channels stacked, annotated events shaded."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.6 * len(channels)))
    t = start + np.arange(x.shape[-1]) / fs
    for c in range(x.shape[0]):
        ax.plot(t, x[c] / (6 * (np.abs(x).max() + 1e-9)) - c, lw=0.6, color="k")
    for a, b in events:
        if a < t[-1] and b > t[0]:  # only events overlapping the window
            ax.axvspan(max(a, t[0]), min(b, t[-1]), color="tab:red", alpha=0.2)
    ax.set_yticks(-np.arange(len(channels)), channels)
    ax.set_xlabel("s")
    ax.set_title(title, fontsize=9)
    return _png(fig)


def recording_plot(starts: np.ndarray, scores: np.ndarray, length: float, truth: list[tuple[float, float]],
                   dets: list[tuple], threshold: float, title: str) -> str:  # fmt: skip
    """Event probability over a recording with annotated events (red) and detections (blue)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 2))
    ax.plot((starts + length / 2) / 60, scores, lw=0.7, color="k")
    for a, b in truth:
        ax.axvspan(a / 60, b / 60, color="tab:red", alpha=0.3)
    for d in dets:
        ax.axvspan(d[0] / 60, d[1] / 60, ymin=0.9, ymax=1.0, color="tab:blue")
    ax.axhline(threshold, ls="--", lw=0.6, color="gray")
    ax.set_xlabel("min")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=9)
    return _png(fig)


def example_figures(task: Any, split: str, probs: np.ndarray, n: int = 4) -> list[str]:
    """Plots: a few event windows, missed/false windows, and each recording's score trace (≤ 4)."""
    ds = task.split(split, predict=True)
    pred = probs.argmax(axis=1)
    figs = []
    picks = []
    for name, mask in (("true positive", (ds.labels > 0) & (pred > 0)), ("missed", (ds.labels > 0) & (pred == 0)),
                       ("false alarm", (ds.labels == 0) & (pred > 0)), ("true negative", (ds.labels == 0) & (pred == 0))):  # fmt: skip
        idx = np.flatnonzero(mask)
        if len(idx):
            picks.append((name, int(idx[len(idx) // 2])))
    for name, i in picks[:n]:
        k = int(ds.rec[i])
        evs = [(e.onset, e.end) for e in ds.events[k] if e.label in task.classes[1:]]
        figs.append(window_plot(ds.window(i), float(ds.spec.fs), float(ds.start[i]), list(ds.spec.channels),
                                f"{name}: {Path(ds.sources[k].path).name} at {ds.start[i]:.0f} s, "
                                f"p={probs[i, 1:].max():.2f}", evs))  # fmt: skip
    dets = task.detections(split, probs)
    for k in range(min(4, len(ds.sources))):
        sel = ds.rec == k
        truth = [(e.onset, e.end) for e in ds.events[k] if e.label in task.classes[1:]]
        figs.append(recording_plot(ds.start[sel], probs[sel, 1:].max(axis=1), ds.spec.length, truth, dets[k],
                                   task.cfg["events"]["threshold"], Path(ds.sources[k].path).name))  # fmt: skip
    return figs


def write_report(run_dir: Path, report: dict[str, Any], figures: list[str]) -> tuple[Path, Path]:
    """``report.json`` and ``report.html`` in ``run_dir``."""
    jpath = run_dir / "report.json"
    jpath.write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    m = report["test_metrics"]
    rows = [(k, m.get(k)) for k in ("accuracy", "sensitivity", "specificity", "roc_auc", "event_sensitivity",
                                     "false_alarms_per_24h", "latency_mean_s", "hours")]  # fmt: skip
    kp = list(report.get("kpis", {}).items())
    parts = [
        f"<h1>{html.escape(report['run']['name'])}</h1>",
        "<h2>Test metrics</h2>", _table(rows), "<h2>KPIs</h2>", _table(kp),
        _img(confusion_plot(m["confusion_matrix"], list(report["classes"])), "window confusion matrix")
        if "confusion_matrix" in m else "",
        _img(roc_plot(m.get("y_true", []), m.get("scores", []), list(report["classes"])), "window ROC")
        if m.get("y_true") else "",
        "<h2>Examples</h2>", *(_img(f, "example") for f in figures),
    ]  # fmt: skip
    hpath = run_dir / "report.html"
    hpath.write_text("<!doctype html><meta charset=utf-8><title>signal report</title>"
                     "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
                     "th{text-align:left;padding-right:1em}img{max-width:100%}</style>" + "".join(parts), encoding="utf-8")  # fmt: skip
    return jpath, hpath
