"""The KPI page of report generation: text metrics, findings scores, and cases (image, true
report, generated report, their findings), as a self-contained HTML file."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.pipelines.report.html import _plt, _png
from deephealth.pipelines.report_generation.findings import finding_scores, parse_findings
from deephealth.pipelines.report_generation.textmetrics import bleu, cider, rouge_l


def evaluate_reports(generated: list[str], true: list[str], findings: list[set[str]]) -> dict:
    """BLEU-1..4, ROUGE-L, CIDEr and the findings scores of generated against true reports."""
    out: dict[str, Any] = {f"bleu{n}": bleu(generated, true, n) for n in range(1, 5)}
    out["rouge_l"] = rouge_l(generated, true)
    out["cider"] = cider(generated, true)
    out["findings"] = finding_scores([parse_findings(g) for g in generated], findings)
    return out


def _image(img: np.ndarray) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(img[0] if img.ndim == 3 else img, cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    return _png(fig)


def write_kpi_html(
    path: str | Path,
    scores: dict[str, Any],
    images: np.ndarray,
    true: list[str],
    generated: list[str],
    cases: int = 8,
) -> Path:
    """Write the page: metrics table, per-finding table, and the first `cases` cases."""
    micro = scores["findings"]["micro"]
    rows = [(k, scores[k]) for k in ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider")]
    rows += [(f"findings {k} (micro)", micro[k]) for k in ("precision", "recall", "f1")]
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:.4f}</td></tr>" for k, v in rows)
    per = "".join(
        f"<tr><td>{html.escape(f)}</td><td>{s['precision']:.3f}</td><td>{s['recall']:.3f}</td>"
        f"<td>{s['f1']:.3f}</td><td>{s['support']}</td></tr>"
        for f, s in scores["findings"]["per_finding"].items()
    )
    items = []
    for i in range(min(cases, len(true))):
        items.append(
            f'<div class="case"><img src="{_image(images[i])}" alt="case {i}">'
            f"<p><b>True:</b> {html.escape(true[i])}</p>"
            f"<p><b>Generated:</b> {html.escape(generated[i])}</p>"
            f"<p><small>findings stated: {html.escape(', '.join(sorted(parse_findings(generated[i]))))}"
            "</small></p></div>"
        )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Report generation</title>"
        "<style>body{font-family:sans-serif} .case{display:inline-block;width:300px;"
        "vertical-align:top;margin:8px} td,th{padding:2px 8px;text-align:left}</style></head><body>"
        f"<h1>Report generation</h1><table>{table}</table><h2>Findings</h2><table>"
        "<tr><th>finding</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
        f"{per}</table><h2>Cases</h2>{''.join(items)}</body></html>"
    )
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path
