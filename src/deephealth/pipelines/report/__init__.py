"""KPI reports of pipeline runs: `kpi` builds and writes the JSON record, `html` renders it with
matplotlib plots (curves, confusion matrix, ROC, segmentation overlays) into one HTML page."""

from deephealth.pipelines.report.html import write_html
from deephealth.pipelines.report.kpi import (
    KPI_KEYS,
    build_kpis,
    load_report,
    speedup_efficiency,
    write_report,
)

__all__ = [
    "KPI_KEYS",
    "build_kpis",
    "load_report",
    "speedup_efficiency",
    "write_html",
    "write_report",
]
