"""KPI report: every key present, speedup/efficiency, JSON round trip, HTML with every plot."""

import json

import numpy as np
import pytest

from deephealth.pipelines.report import (
    KPI_KEYS,
    build_kpis,
    load_report,
    speedup_efficiency,
    write_html,
    write_report,
)

TIMES = {"pre_processing_s": 1.0, "train_s": 10.0, "production_s": 12.5}


def test_kpis_per_task():
    cls = build_kpis("classification", TIMES, {"accuracy": 0.9, "error_rate": 0.1,
                                               "sensitivity": 0.8, "specificity": 0.95})  # fmt: skip
    assert list(cls) == list(KPI_KEYS)
    assert cls["accuracy"] == 0.9 and cls["dice"] is None and cls["speedup"] is None
    pixel = {"accuracy": 0.97, "error_rate": 0.03, "sensitivity": 0.9, "specificity": 0.99}
    seg = build_kpis("segmentation", TIMES, {"dice": 0.85, "iou": 0.74, "pixel": pixel})
    assert seg["dice"] == 0.85 and seg["specificity"] == 0.99 and seg["accuracy"] == 0.97
    reg = build_kpis("regression", {**TIMES, "production_s": None}, {"mse": 0.01})
    assert reg["accuracy"] is None and reg["time_to_model_in_production_s"] is None
    par = build_kpis(
        "classification", TIMES, {}, {"workers": 4, "serial_s": 40, "parallel_s": 12.5}
    )
    assert par["speedup"] == pytest.approx(3.2) and par["efficiency"] == pytest.approx(0.8)


def test_speedup_efficiency_edge_cases():
    assert speedup_efficiency(10, 5, 2) == (2.0, 1.0)
    assert speedup_efficiency(None, 5, 2) == (None, None)
    assert speedup_efficiency(10, 0, 2) == (None, None)


def test_report_json_round_trip(tmp_path):
    path = write_report(tmp_path / "report.json", {"kpis": {"dice": np.float32(0.5)},
                                                   "x": [float("inf"), float("nan"), 1.0]})  # fmt: skip
    data = load_report(tmp_path)
    assert data["kpis"]["dice"] == 0.5 and data["x"] == [None, None, 1.0]
    assert json.loads(path.read_text())["format"] == "deephealth-kpi-report/1"
    with pytest.raises(FileNotFoundError):
        load_report(tmp_path / "missing")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="not a deephealth KPI report"):
        load_report(tmp_path / "other.json")


def test_html_has_every_plot(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50).tolist()
    scores = rng.dirichlet([1, 1, 1], 50).tolist()
    report = {
        "run": {"name": "r<1>", "task": "classification"},
        "kpis": build_kpis("classification", TIMES, {"accuracy": 0.5}),
        "classes": ["a", "b", "c"],
        "test_metrics": {"accuracy": 0.5, "confusion_matrix": [[5, 1, 0], [1, 5, 1], [0, 0, 7]],
                         "y_true": y, "scores": scores, "per_patient": {"accuracy": 0.6}},
        "history": [{"epoch": e, "loss": 1 / e, "metrics": {"acc": 0.5},
                     "val_metrics": {"accuracy": 0.4 + e / 10}} for e in (1, 2, 3)],
    }  # fmt: skip
    mask = np.zeros((32, 32), np.uint8)
    mask[8:16, 8:16] = 1
    overlays = [{"name": "c1", "image": rng.random((32, 32)), "target": mask,
                 "prediction": np.roll(mask, 2, 0), "kind": "segmentation"}]  # fmt: skip
    html = write_html(tmp_path / "r.html", report, overlays).read_text()
    assert html.count("data:image/png;base64,") == 4  # curves, confusion, ROC, overlays
    assert "r&lt;1&gt;" in html and "Time to model in production" in html and "Per patient" in html


def test_html_explanations_of_classification_cases(tmp_path):
    rng = np.random.default_rng(0)
    case = {"name": "s1", "kind": "classification", "image": rng.random((16, 16)),
            "heat": rng.random((16, 16)), "true": "a", "predicted": "b", "score": 0.7,
            "correct": False, "method": "gradcam"}  # fmt: skip
    report = {"run": {"task": "classification"}, "kpis": {}, "test_metrics": {}}
    html = write_html(tmp_path / "r.html", report, [case, {**case, "correct": True}]).read_text()
    assert "Grad-CAM of the predicted class" in html
    assert html.count("data:image/png;base64,") == 1  # no curves, no plain cases: only that
