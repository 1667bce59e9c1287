"""The slide pipelines end to end on small synthetic slides.

Slide classification: glass slides with one block of pink ("normal") or purple ("tumour")
tissue, labelled at slide level. Patch segmentation: pink tissue slides with purple tumour
rectangles given as GeoJSON annotations. A tiny model trained for a few epochs on streamed
tiles must classify every test slide right / find the tumours (Dice >= 0.8), and the run must
export a checked ONNX model, maps, GeoJSON and a KPI report with every key.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deephealth.cli import main
from deephealth.ecvl.pathology import Annotation, write_geojson
from deephealth.ecvl.pathology.synthetic import COLORS, synthetic_slide
from deephealth.pipelines.config import ConfigError
from deephealth.pipelines.pathology.config import load_slide_config
from deephealth.pipelines.pathology.pipeline import train_slides
from deephealth.pipelines.report import KPI_KEYS

SIZE = (1024, 1024)
PAINT = {"glass": COLORS["glass"], "normal": COLORS["tissue"], "tumour": COLORS["tumour"]}
TILER = {"size": 32, "level": 2}
SPLITS = ["training", "training", "training", "training", "test", "test"]


def _rect_annotation(x: int, y: int, w: int, h: int) -> Annotation:
    ring = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=float)
    return Annotation("tumour", ring)


def classification_config(folder: Path, splits: list[str] = SPLITS) -> dict:
    slides = []
    for i, split in enumerate(splits):
        label = ("normal", "tumour")[i % 2]
        path = folder / f"cls_{i}.tif"
        block = (128 + 32 * (i % 3), 128, 640, 704)
        synthetic_slide(path, SIZE, [(label, block)], colors=PAINT, seed=i)
        slides.append({"path": str(path), "label": label, "split": split})
    return {
        "version": 1, "task": "slide_classification", "classes": ["normal", "tumour"],
        "slides": slides, "tiler": {**TILER, "min_tissue": 0.5}, "epochs": 3,
        "batch_size": 16, "optimizer": {"name": "adam", "lr": 0.003}, "workers": 1,
    }  # fmt: skip


def segmentation_config(folder: Path) -> dict:
    slides = []
    for i, split in enumerate(SPLITS):
        rects = [(64 + 96 * i, 128, 256, 320), (512, 576 + 32 * i, 384, 192)]
        path = folder / f"seg_{i}.tif"
        synthetic_slide(
            path, SIZE, [("normal", (0, 0, *SIZE)), *(("tumour", r) for r in rects)],
            colors=PAINT, seed=i,
        )  # fmt: skip
        geojson = folder / f"seg_{i}.geojson"
        write_geojson(geojson, [_rect_annotation(*r) for r in rects])
        slides.append({"path": str(path), "annotations": str(geojson), "split": split})
    return {
        "version": 1, "task": "patch_segmentation", "classes": ["tissue", "tumour"],
        "slides": slides, "tiler": {**TILER, "min_tissue": 0}, "epochs": 3,
        "batch_size": 16, "optimizer": {"name": "adam", "lr": 0.01}, "workers": 1,
    }  # fmt: skip


def check_run(result: dict, run_dir: Path) -> dict:
    assert result["onnx_check_passed"] is True
    report = json.loads((run_dir / "report.json").read_text())
    assert set(KPI_KEYS) <= set(report["kpis"])
    assert report["onnx"]["check"]["passed"] is True
    for key in ("time_of_pre_processing_images_s", "time_to_train_models_s"):
        assert report["kpis"][key] > 0
    assert report["kpis"]["time_to_model_in_production_s"] >= report["kpis"][key]
    assert "KPI report" in (run_dir / "report.html").read_text()
    for record in result["slides"]:
        out = Path(record["outputs"])
        assert (out / "labels.tif").is_file() and (out / "regions.geojson").is_file()
    return report


def test_slide_classification(tmp_path: Path) -> None:
    cfg = classification_config(tmp_path)
    events: list[dict] = []
    result = train_slides(cfg, tmp_path / "run", events.append)
    report = check_run(result, tmp_path / "run")
    assert [r["label"] for r in result["slides"]] == [r["true"] for r in result["slides"]]
    assert report["kpis"]["accuracy"] == 1.0
    assert report["kpis"]["error_rate"] == 0.0
    assert report["kpis"]["sensitivity"] == report["kpis"]["specificity"] == 1.0
    assert report["kpis"]["dice"] is None
    assert (tmp_path / "run" / "slides" / "cls_5" / "heatmap_tumour.tif").is_file()
    assert {e["type"] for e in events} >= {"status", "epoch", "export", "slide", "done"}


def test_validation_slides_keep_the_best_epoch_and_an_interrupted_run_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    splits = ["training", "training", "training", "training", "validation", "validation",
              "test", "test"]  # fmt: skip
    cfg = classification_config(tmp_path, splits)
    cfg["epochs"] = 2
    first = train_slides(cfg, tmp_path / "run")
    two = json.loads((tmp_path / "run" / "report.json").read_text())
    assert [h["epoch"] for h in two["history"]] == [1, 2]
    assert all(h["val_loss"] is not None and "categorical_accuracy" in h["val_metrics"]
               for h in two["history"])  # fmt: skip
    losses = [h["val_loss"] for h in two["history"]]
    assert first["best_epoch"] == 1 + losses.index(min(losses))
    assert two["samples"]["validation_tiles"] > 0
    assert (tmp_path / "run" / "checkpoint" / "checkpoint.pt").is_file()
    # the same run asked for a third epoch continues after the second
    cfg["epochs"] = 3
    config = tmp_path / "cls.yml"
    config.write_text(yaml.safe_dump(cfg))
    run = ["slide", "train", str(config), "--run-dir", str(tmp_path / "run"), "--resume", "-q"]
    assert main(run) == 0
    three = json.loads((tmp_path / "run" / "report.json").read_text())
    assert [h["epoch"] for h in three["history"]] == [1, 2, 3]
    assert [h["loss"] for h in three["history"][:2]] == [h["loss"] for h in two["history"]]
    assert three["kpis"]["accuracy"] == 1.0
    losses = [h["val_loss"] for h in three["history"]]
    assert three["run"]["best_epoch"] == 1 + losses.index(min(losses))
    capsys.readouterr()


def test_validation_slides_without_tissue_are_a_clear_error(tmp_path: Path) -> None:
    from deephealth.pipelines.run import PipelineError

    cfg = classification_config(tmp_path)
    blank = tmp_path / "blank.tif"
    synthetic_slide(blank, SIZE, [], colors=PAINT)  # glass only: no tile passes min_tissue
    cfg["slides"].append({"path": str(blank), "label": "normal", "split": "validation"})
    with pytest.raises(PipelineError, match=r"lists no validation tile in \[.*blank\.tif"):
        train_slides(cfg, tmp_path / "run")


def test_patch_segmentation_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    cfg = segmentation_config(tmp_path)
    config = tmp_path / "seg.yml"
    config.write_text(yaml.safe_dump(cfg))
    assert main(["slide", "train", str(config), "--run-dir", str(tmp_path / "run")]) == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["kpis"]["dice"] >= 0.8
    assert report["kpis"]["iou"] >= 0.65
    assert report["kpis"]["accuracy"] >= 0.9  # pixel-wise
    geojson = json.loads((tmp_path / "run" / "slides" / "seg_4" / "regions.geojson").read_text())
    assert {f["properties"]["classification"]["name"] for f in geojson["features"]} == {"tumour"}
    assert "dice" in capsys.readouterr().out


def test_invalid_config_lists_every_bad_key(tmp_path: Path, capsys) -> None:
    bad = {
        "version": 1, "task": "slide_classification", "classes": ["normal", "tumour"],
        "slides": [
            {"path": "a.tif", "label": "normal", "split": "training"},
            {"path": "b.tif", "label": "cancer", "split": "test"},
            {"label": "tumour", "split": "testing"},
        ],
        "tiler": {"size": -4, "mpp": 0.5, "level": 1}, "epochs": "many",
        "aggregate": "median", "optimiser": "adam",
    }  # fmt: skip
    with pytest.raises(ConfigError) as err:
        load_slide_config(bad)
    keys = {key for key, _ in err.value.problems}
    assert keys >= {
        "slides[1].label", "slides[2].path", "slides[2].split", "tiler.size", "tiler",
        "epochs", "aggregate", "optimiser",
    }  # fmt: skip
    config = tmp_path / "bad.yml"
    config.write_text(json.dumps(bad))
    assert main(["slide", "train", str(config), "--run-dir", str(tmp_path / "run")]) == 2
    message = capsys.readouterr().err
    assert "slides[1].label" in message and "tiler.size" in message and "epochs" in message
    seg = {**bad, "task": "patch_segmentation", "slides": [{"path": "a.tif"}]}
    with pytest.raises(ConfigError, match=r"slides\[0\]\.annotations"):
        load_slide_config(seg)
