"""The HTML page of a run's KPI report, with plots drawn by matplotlib.

One self-contained file (plots inlined as PNG data URIs) that a browser, the web front-end or an
e-mail can show: the KPI table, the loss and metric curves per epoch, the confusion matrix and ROC
curve of the test split (classification; pixel-wise confusion for segmentation), the
precision-recall and FROC curves (detection), segmentation, detection (true and predicted boxes)
or regression overlays of sample cases, the clinical sections (`report.clinical`: ablation,
permutation importance, calibration, Kaplan–Meier), the ONNX check and the run's settings.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.pipelines.report.clinical import clinical_sections
from deephealth.pipelines.report.plotting import _fmt as _fmt
from deephealth.pipelines.report.plotting import _img as _img
from deephealth.pipelines.report.plotting import _plt as _plt
from deephealth.pipelines.report.plotting import _png as _png
from deephealth.pipelines.report.plotting import _table as _table

KPI_LABELS = {
    "time_of_pre_processing_images_s": "Time of pre-processing images (s)",
    "time_to_train_models_s": "Time to train models (s)",
    "time_to_model_in_production_s": "Time to model in production (s)",
    "error_rate": "Error rate",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "dice": "Dice",
    "iou": "IoU",
    "map50": "mAP@0.5",
    "cpm": "CPM (FROC)",
    "speedup": "Speedup",
    "efficiency": "Efficiency",
}


def curves_plot(history: list[dict[str, Any]]) -> str | None:
    """Training loss and validation metrics per epoch, as a PNG data URI (None without epochs)."""
    if not history:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    epochs = [h["epoch"] for h in history]
    axes[0].plot(epochs, [h.get("loss") for h in history], "o-", label="training loss")
    axes[0].set_xlabel("epoch")
    axes[0].set_title("Loss")
    axes[0].legend()
    names = sorted({k for h in history for k, v in h.get("val_metrics", {}).items() if _num(v)})
    for name in names:
        axes[1].plot(
            epochs, [h.get("val_metrics", {}).get(name) for h in history], "o-", label=name
        )
    train_names = sorted({k for h in history for k in h.get("metrics", {})})
    for name in train_names:
        values = [h.get("metrics", {}).get(name) for h in history]
        axes[1].plot(epochs, values, "--", alpha=0.6, label=f"training {name}")
    axes[1].set_xlabel("epoch")
    axes[1].set_title("Metrics (validation solid, training dashed)")
    if names or train_names:
        axes[1].legend(fontsize=8)
    return _png(fig)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)


def confusion_plot(cm: list[list[int]], labels: list[str]) -> str:
    """A confusion matrix heat map with counts, as a PNG data URI."""
    plt = _plt()
    arr = np.asarray(cm)
    k = arr.shape[0]
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * k, 1 + 0.6 * k))
    ax.imshow(arr, cmap="Blues")
    for i in range(k):
        for j in range(k):
            color = "white" if arr[i, j] > arr.max() / 2 else "black"
            ax.text(j, i, str(arr[i, j]), ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return _png(fig)


def roc_plot(y_true: list[int], scores: list[list[float]], labels: list[str]) -> str | None:
    """ROC curve (binary) or one-vs-rest curves (multi-class), as a PNG data URI."""
    from deephealth.pipelines.metrics import MetricError, roc_auc, roc_curve

    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2 or s.shape[0] != y.size:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    classes = [1] if s.shape[1] == 2 else range(s.shape[1])
    drawn = 0
    for c in classes:
        try:
            fpr, tpr, _ = roc_curve(y == c, s[:, c])
            auc = roc_auc((y == c).astype(int), s[:, c])
        except MetricError:
            continue
        ax.plot(fpr, tpr, label=f"{labels[c] if c < len(labels) else c} (AUC {auc:.3f})")
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.legend(fontsize=8)
    return _png(fig)


def pr_plot(curve: dict[str, list[float]]) -> str | None:
    """Precision-recall curve of a detector (IoU 0.5) as a PNG data URI."""
    if not curve.get("recall"):
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4, 3.5))
    ax.plot(curve["recall"], curve["precision"], color="tab:blue")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    return _png(fig)


def froc_plot(curve: dict[str, list[float]], cpm: float | None) -> str | None:
    """FROC curve (sensitivity against false positives per image/scan, log axis) as a PNG."""
    fps = np.asarray(curve.get("fps") or [], dtype=float)
    if not fps.size:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4, 3.5))
    keep = fps > 0
    ax.step(fps[keep], np.asarray(curve["sensitivities"], dtype=float)[keep], where="post")
    ax.set_xscale("log")
    ax.set_xlim(1 / 16, 16)
    ax.set_ylim(0, 1.02)
    for rate in (1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8):
        ax.axvline(rate, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("false positives per image")
    ax.set_ylabel("sensitivity")
    ax.set_title(f"CPM {cpm:.3f}" if cpm is not None else "FROC", fontsize=8)
    return _png(fig)


def _draw_boxes(ax: Any, boxes: Any, color: str, scores: Any = None) -> None:
    from matplotlib.patches import Rectangle

    for k, b in enumerate(np.asarray(boxes, dtype=float).reshape(-1, 4)):
        ax.add_patch(Rectangle((b[0] - 0.5, b[1] - 0.5), b[2] - b[0], b[3] - b[1], fill=False,
                               edgecolor=color, linewidth=1))  # fmt: skip
        if scores is not None:
            ax.text(b[0], b[1] - 1, f"{float(scores[k]):.2f}", color=color, fontsize=5)


def explanation_plot(cases: list[dict[str, Any]]) -> str | None:
    """Classification cases (a correct and a wrong one per true class when there are) with the
    heat map of the predicted class over the image, as a PNG data URI."""
    if not cases:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(cases), figsize=(2.6 * len(cases), 3), squeeze=False)
    for ax, case in zip(axes[0], cases):
        ax.imshow(np.asarray(case["image"], dtype=float), cmap="gray")
        ax.imshow(np.asarray(case["heat"], dtype=float), cmap="jet", alpha=0.45, vmin=0, vmax=1)
        verdict = "correct" if case["correct"] else "wrong"
        ax.set_title(
            f"{case['name']}\ntrue {case['true']}, predicted {case['predicted']} "
            f"({case['score']:.2f})\n{verdict}",
            fontsize=7,
            color="black" if case["correct"] else "firebrick",
        )
        ax.axis("off")
    return _png(fig)


def overlay_plot(cases: list[dict[str, Any]]) -> str | None:
    """Sample cases: image with the reference (green) and predicted (red) contours, or image,
    target and prediction side by side for regression; as a PNG data URI."""
    if not cases:
        return None
    plt = _plt()
    regression = cases[0].get("kind") == "regression"
    cols = 3 if regression else 1
    fig, axes = plt.subplots(len(cases), cols, figsize=(3 * cols, 3 * len(cases)), squeeze=False)
    for row, case in zip(axes, cases):
        img = np.asarray(case["image"], dtype=float)
        if regression:
            for ax, key in zip(row, ("image", "target", "prediction")):
                ax.imshow(np.asarray(case[key], dtype=float), cmap="gray")
                ax.set_title(f"{key}", fontsize=8)
                ax.axis("off")
            continue
        ax = row[0]
        ax.imshow(img, cmap="gray")
        if case.get("kind") == "detection":
            _draw_boxes(ax, case["target"], "lime")
            _draw_boxes(ax, case["prediction"], "red", case.get("scores"))
            ax.set_title(f"{case['name']} (green: true boxes, red: predicted)", fontsize=7)
            ax.axis("off")
            continue
        for key, color in (("target", "lime"), ("prediction", "red")):
            m = np.asarray(case[key])
            if m.any():
                ax.contour(m > 0, levels=[0.5], colors=color, linewidths=1)
        ax.set_title(f"{case['name']} (green: reference, red: predicted)", fontsize=7)
        ax.axis("off")
    return _png(fig)


def _grid(columns: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: dict[str, Any], overlays: list[dict[str, Any]] | None = None) -> str:
    """The report page as an HTML string."""
    run = report.get("run", {})
    kpis = report.get("kpis", {})
    test = report.get("test_metrics", {}) or {}
    labels = report.get("classes") or []
    figures = [_img(curves_plot(report.get("history", [])), "Loss and metrics per epoch")]
    cm = test.get("pixel", {}).get("confusion_matrix") or test.get("confusion_matrix")
    if cm:
        names = labels if len(labels) == len(cm) else [str(i) for i in range(len(cm))]
        what = "pixel-wise " if "pixel" in test else ""
        figures.append(_img(confusion_plot(cm, names), f"Confusion matrix ({what}test split)"))
    if test.get("scores") and test.get("y_true"):
        names = labels or [str(i) for i in range(len(test["scores"][0]))]
        figures.append(
            _img(roc_plot(test["y_true"], test["scores"], names), "ROC curve (test split)")
        )
    if test.get("pr_curve"):
        figures.append(_img(pr_plot(test["pr_curve"]), "Precision-recall, IoU 0.5 (test split)"))
    if test.get("froc_curve"):
        figures.append(_img(froc_plot(test["froc_curve"], test.get("cpm")), "FROC (test split)"))
    cases = [c for c in overlays or [] if c.get("kind") != "classification"]
    explained = [c for c in overlays or [] if c.get("kind") == "classification" and "heat" in c]
    figures.append(_img(overlay_plot(cases), "Sample cases (test split)"))
    if explained:
        method = "Grad-CAM" if explained[0].get("method") == "gradcam" else explained[0]["method"]
        figures.append(
            _img(
                explanation_plot(explained),
                f"{method} of the predicted class: a correct and a wrong case per true class",
            )
        )
    onnx = report.get("onnx", {}) or {}
    check = onnx.get("check", {}) or {}
    scalar_test = [(k, v) for k, v in test.items() if isinstance(v, int | float) or v is None]
    per_patient = test.get("per_patient")
    sections = [
        f"<h1>{html.escape(str(run.get('name', 'run')))} — KPI report</h1>",
        f"<p>Task: <b>{_fmt(run.get('task'))}</b>, model <b>{_fmt(run.get('model'))}</b>, "
        f"dataset <code>{_fmt(run.get('dataset'))}</code>; status <b>{_fmt(run.get('status'))}</b>, "
        f"{_fmt(run.get('epochs_done'))} epoch(s), best epoch {_fmt(run.get('best_epoch'))}.</p>",
        "<h2>KPIs</h2>",
        _table([(KPI_LABELS.get(k, k), v) for k, v in kpis.items()]),
        "<h2>Test metrics</h2>",
        _table(scalar_test),
    ]
    if per_patient:
        sections += ["<h3>Per patient</h3>", _table(list(per_patient.items()))]
    sections += clinical_sections(report)
    for title, grid in (report.get("tables") or {}).items():  # e.g. a federation's rounds
        sections += [f"<h2>{html.escape(str(title))}</h2>", _grid(grid["columns"], grid["rows"])]
    sections += [
        "<h2>Plots</h2>",
        "".join(figures),
        "<h2>Model in production</h2>",
        _table(
            [
                ("ONNX file", onnx.get("path")),
                ("onnxruntime check passed", check.get("passed")),
                ("max |torch - onnxruntime|", check.get("max_abs_diff")),
                ("tolerance", check.get("tolerance")),
            ]
        ),
        "<h2>Machine</h2>",
        _table(list((report.get("machine") or {}).items())),
    ]
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0}th,td{border:1px solid #ccc;padding:3px 8px;"
        "text-align:left}th{background:#f3f3f3}figure{display:inline-block;margin:0.5em}"
        "img{max-width:100%}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>KPI report</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>"
    )


def write_html(
    path: str | Path, report: dict[str, Any], overlays: list[dict[str, Any]] | None = None
) -> Path:
    """Render the report (see `render_html`) into `path`. Returns the path."""
    path = Path(path)
    path.write_text(render_html(report, overlays))
    return path
