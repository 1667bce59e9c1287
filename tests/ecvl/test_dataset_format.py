"""The DeepHealth dataset YAML: use-case style files, splits, Dump, generators, syntax errors, URLs."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

import deephealth.ecvl as ecvl


def _png(path: Path, arr: np.ndarray) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr)
    return str(path)


@pytest.fixture(scope="module")
def tiles(tmp_path_factory):
    """Real tiles: 6 immunohistochemistry crops (RGB) + 6 retina crops, and masks (> threshold)."""
    root = tmp_path_factory.mktemp("tiles")
    ihc = cv2.cvtColor(skimage.data.immunohistochemistry(), cv2.COLOR_RGB2BGR)
    ret = cv2.cvtColor(skimage.data.retina(), cv2.COLOR_RGB2BGR)
    for i in range(6):
        _png(root / "img" / f"ihc_{i}.png", ihc[i * 60 : i * 60 + 64, :64])
        _png(
            root / "img" / f"ret_{i}.png",
            cv2.resize(ret[400 + i * 80 :, 400:][:256, :256], (64, 64)),
        )
        gray = cv2.cvtColor(ihc[i * 60 : i * 60 + 64, :64], cv2.COLOR_BGR2GRAY)
        _png(root / "gt" / f"ihc_{i}.png", ((gray < 120) * 255).astype(np.uint8))
    return root


CLASSIFICATION = """\
%YAML:1.2
---
# DeepHealth format, use-case style (skin lesion classification)
name: tiles
description: >
  Immunohistochemistry versus retina tiles,
  written like the ISIC classification file.
classes: [ihc, retina]
features: [age, sex, site]
images:
  - location: img/ihc_0.png
    label: ihc
    values: [54, F, null]
  - location: img/ret_0.png
    label: 1
    values: {age: 33, site: eye}
  - location: img/ihc_1.png
    label: [ihc]
  - location: img/ret_1.png
    label: [0, 1]
  - img/ihc_2.png
  - [img/ret_2.png, img/ret_3.png, img/ret_4.png]
  - location: [img/ihc_3.png, img/ihc_4.png]
    label: retina
split:
  training: [0, 1, 2, 3]
  validation: [4]
  test: [5, 6]
  fold_7: [0, 6]
"""

SEGMENTATION = """\
name: ihc segmentation
images:
  - location: img/ihc_0.png
    label: gt/ihc_0.png
  - location: img/ihc_1.png
    label: gt/ihc_1.png
  - location: img/ihc_2.png
    label: gt/ihc_2.png
split:
  training: [0, 1]
  test: [2]
"""


def test_classification_file_in_use_case_style(tiles):
    yml = tiles / "cls.yml"
    yml.write_text(CLASSIFICATION)
    ds = ecvl.Dataset(yml)
    assert ds.name_ == "tiles" and ds.description_.startswith("Immunohistochemistry versus")
    assert ds.classes_ == ["ihc", "retina"] and ds.task_ is ecvl.Task.classification
    assert ds.features_ == ["age", "sex", "site"]
    s = ds.samples_
    assert [x.label_ for x in s] == [[0], [1], [0], [0, 1], None, None, [1]]
    assert s[0].values_ == {0: "54", 1: "F"} and s[1].values_ == {0: "33", 2: "eye"}
    assert s[0].location_ == [str(tiles / "img" / "ihc_0.png")]  # relative to the YAML file
    assert len(s[5].location_) == 3 and s[5].line_ == 22
    assert [sp.split_name_ for sp in ds.split_] == ["training", "validation", "test", "fold_7"]
    assert ds.GetSplit("fold_7") == [0, 6] and ds.GetSplit(ecvl.SplitType.test) == [5, 6]
    ds.SetSplit("validation")
    assert ds.GetSplit() == [4] and ds.current_split_ == 1
    ds.SetSplit(3)
    assert ds.GetSplit(-1) == [0, 6]
    assert ds.split_[1].no_label_ and not ds.split_[0].no_label_
    with pytest.raises(ecvl.DatasetError, match="no split named 'tuning'"):
        ds.SetSplit("tuning")
    # multi-plane locations merge as channels
    img = ds.samples_[5].LoadImage(ecvl.ColorType.GRAY)
    assert img.dims_ == [64, 64, 3] and img.channels == "xyc"
    rgb = ds.samples_[0].LoadImage()
    assert rgb.colortype is ecvl.ColorType.RGB and rgb.dims_ == [64, 64, 3]
    assert ds.samples_[0].size_ == [64, 64]


def test_segmentation_file_and_gt(tiles):
    yml = tiles / "seg.yml"
    yml.write_text(SEGMENTATION)
    ds = ecvl.Dataset(yml)
    assert ds.task_ is ecvl.Task.segmentation
    assert ds.samples_[0].label_path_ == str(tiles / "gt" / "ihc_0.png")
    gt = ds.samples_[0].LoadImage(ecvl.ColorType.GRAY, is_gt=True)
    assert gt.dims_ == [64, 64, 1] and set(np.unique(gt.data)) <= {0, 255}


def test_dump_round_trip(tiles, tmp_path):
    (tiles / "cls.yml").write_text(CLASSIFICATION)
    ds = ecvl.Dataset(tiles / "cls.yml")
    out = tiles / "dumped.yml"
    ds.Dump(out)
    text = out.read_text()
    assert "img/ihc_0.png" in text and str(tiles) not in text  # relative paths
    back = ecvl.Dataset(out)
    assert [s.location_ for s in back.samples_] == [s.location_ for s in ds.samples_]
    assert [s.label_ for s in back.samples_] == [s.label_ for s in ds.samples_]
    assert [s.values_ for s in back.samples_] == [s.values_ for s in ds.samples_]
    assert [(s.split_name_, s.samples_indices_) for s in back.split_] == [
        (s.split_name_, s.samples_indices_) for s in ds.split_
    ]


def test_generate_classification_dataset(tiles, tmp_path):
    root = tmp_path / "tree"
    src = sorted((tiles / "img").glob("*.png"))
    for split, names in (("training", src[:8]), ("test", src[8:])):
        for f in names:
            cls = "ihc" if f.name.startswith("ihc") else "retina"
            _png(root / split / cls / f.name, cv2.imread(str(f)))
    gen = ecvl.GenerateClassificationDataset(root)
    ds = gen.GetDataset()
    assert ds.classes_ == ["ihc", "retina"] and gen.splits_ == ["training", "test"]
    assert len(ds.samples_) == 12 and gen.num_samples_ == [8, 4]
    ds.Dump(root / "tree.yml")
    back = ecvl.Dataset(root / "tree.yml")
    assert back.GetSplit("test") == ds.GetSplit("test")
    assert all(
        Path(s.location_[0]).parent.name == back.classes_[s.label_[0]] for s in back.samples_
    )
    flat = tmp_path / "flat"
    _png(flat / "a" / "1.png", cv2.imread(str(src[0])))
    _png(flat / "b" / "2.png", cv2.imread(str(src[1])))
    assert ecvl.GenerateClassificationDataset(flat).GetDataset().split_ == []
    with pytest.raises(ecvl.DatasetError, match="is not a folder"):
        ecvl.GenerateClassificationDataset(tmp_path / "nope")


def test_generate_segmentation_dataset(tiles, tmp_path):
    root = tmp_path / "seg"
    for i in range(3):
        img = cv2.imread(str(tiles / "img" / f"ihc_{i}.png"))
        gt = cv2.imread(str(tiles / "gt" / f"ihc_{i}.png"))
        split = "training" if i < 2 else "validation"
        _png(root / split / "images" / f"s{i}.png", img)
        _png(root / split / "ground_truth" / f"s{i}_mask.png", gt)
    ds = ecvl.GenerateSegmentationDataset(root, suffix="_mask.png").GetDataset()
    assert [sp.split_name_ for sp in ds.split_] == ["training", "validation"]
    assert all(s.label_path_.endswith(f"s{i}_mask.png") for i, s in enumerate(ds.samples_))
    side = tmp_path / "side" / "training"
    _png(side / "a.png", img)
    _png(side / "a_seg.png", gt)
    _png(side / "b.png", img)
    _png(side / "shared.png", gt)
    ds2 = ecvl.GenerateSegmentationDataset(tmp_path / "side", "_seg.png", "shared.png").GetDataset()
    got = {Path(s.location_[0]).name: Path(s.label_path_).name for s in ds2.samples_}
    assert got == {"a.png": "a_seg.png", "b.png": "shared.png"}


@pytest.mark.parametrize(
    ("text", "line", "column", "expected"),
    [
        ("images:\n  - a.png\n - b.png\n", 3, 2, "<block end>"),
        ("classes: [a, b\nimages: []\n", 2, 7, "',' or ']'"),
        ("images:\n\t- a.png\n", 2, 1, "a YAML token"),
    ],
)
def test_yaml_syntax_errors_name_line_column_expected(tmp_path, text, line, column, expected):
    yml = tmp_path / "bad.yml"
    yml.write_text(text)
    with pytest.raises(ecvl.DatasetSyntaxError) as err:
        ecvl.Dataset(yml)
    assert (err.value.line, err.value.column) == (line, column), str(err.value)
    assert expected in err.value.expected
    assert str(err.value).startswith(f"{yml}:{line}:{column}: expected")


def test_format_errors_are_all_raised_together(tmp_path):
    yml = tmp_path / "bad.yml"
    yml.write_text("classes: [a]\nimages:\n  - location: x.png\n    label: 3\n  - location: x.png\n"
                   "split:\n  training: [0, 9]\n")  # fmt: skip
    with pytest.raises(ecvl.DatasetFormatError) as err:
        ecvl.Dataset(yml)
    codes = sorted(i.code for i in err.value.issues)
    assert codes == ["duplicate-location", "label-range", "split-range"]
    assert ":4:12: error: image 0: label index 3 out of range" in str(err.value)
    with pytest.raises(ecvl.DatasetError, match="cannot read dataset file"):
        ecvl.Dataset(tmp_path / "missing.yml")


@pytest.fixture
def http_root(tiles, tmp_path):
    """A local http.server on 127.0.0.1 serving the tile folder."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tiles))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_locations_are_fetched_into_cache(http_root, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("DEEPHEALTH_CACHE", str(cache))
    yml = tmp_path / "remote.yml"
    yml.write_text(
        f"classes: [ihc]\nimages:\n  - location: {http_root}/img/ihc_0.png\n    label: ihc\n"
        f"  - location: {http_root}/img/missing.png\n    label: ihc\n"
    )
    ds = ecvl.Dataset(yml)
    assert ds.samples_[0].location_ == [f"{http_root}/img/ihc_0.png"]  # URLs are not re-rooted
    img = ds.samples_[0].LoadImage(ecvl.ColorType.BGR)
    assert img.dims_ == [64, 64, 3]
    cached = list(cache.glob("*_ihc_0.png"))
    assert len(cached) == 1
    np.testing.assert_array_equal(cv2.imread(str(cached[0])), img.to_cv())
    with pytest.raises(ecvl.SampleLoadError, match=r"missing\.png.*cannot fetch"):
        ds.samples_[1].LoadImage()
    issues = ecvl.ValidateDataset(yml, fetch=True)
    assert [(i.line, i.code) for i in issues] == [(5, "fetch-failed")]
