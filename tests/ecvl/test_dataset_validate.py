"""The dataset validator finds every planted error, with its YAML line, in one run."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import skimage.data

import deephealth.ecvl as ecvl

PLANTED = """\
name: planted
classes: [ihc, retina, ihc]
features: [age]
images:
  - location: img/good_0.png
    label: ihc
  - location: img/good_1.png
    label: tumour
  - location: img/good_0.png
    label: retina
  - location: img/missing.png
    label: 1
  - location: img/broken.png
    label: 7
  - location: img/good_2.png
    label: ihc
    values: {height: 3}
  - location: img/good_3.png
    label: gt/missing_mask.png
  - location: img/good_4.png
    colour: red
  - location: img/good_5.png
    label: ihc
    values: [1, 2]
split:
  training: [0, 1, 2, 12]
  validation: [3, 3, x]
"""

# (line, code) of every planted problem
EXPECTED = [
    (2, "duplicate-class"),
    (8, "unknown-class"),
    (9, "duplicate-location"),
    (11, "missing-file"),
    (13, "undecodable"),
    (14, "label-range"),
    (17, "unknown-feature"),
    (18, "missing-file"),
    (21, "unknown-key"),
    (24, "values-range"),
    (26, "split-range"),
    (27, "split-duplicate"),
    (27, "type"),
]


@pytest.fixture
def planted(tmp_path) -> Path:
    ihc = skimage.data.immunohistochemistry()
    (tmp_path / "img").mkdir()
    for i in range(6):
        cv2.imwrite(str(tmp_path / "img" / f"good_{i}.png"), ihc[i * 50 : i * 50 + 32, :32])
    (tmp_path / "img" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    yml = tmp_path / "planted.yml"
    yml.write_text(PLANTED)
    return yml


def test_validator_finds_every_planted_error_with_its_line(planted):
    issues = ecvl.ValidateDataset(planted)
    got = sorted((i.line, i.code) for i in issues if i.severity == "error")
    assert got == sorted(EXPECTED), "\n".join(map(str, issues))
    by_code = {i.code: i for i in issues}
    assert "unknown class 'tumour'" in by_code["unknown-class"].message
    assert "repeats the location of image 0" in by_code["duplicate-location"].message
    assert "label index 7 out of range (0..2 for 3 classes)" in by_code["label-range"].message
    assert "index 12 out of range (0..8 for 9 images)" in by_code["split-range"].message
    assert str(by_code["undecodable"]).startswith(f"{planted}:13:1: error: image 4:")
    assert by_code["missing-file"].file == str(planted)


def test_dataset_refuses_the_planted_file_listing_structural_errors(planted):
    with pytest.raises(ecvl.DatasetFormatError) as err:
        ecvl.Dataset(planted)
    assert len(err.value.issues) == len(EXPECTED) - 3  # file checks are the validator's
    with pytest.raises(ecvl.DatasetFormatError) as err2:
        ecvl.Dataset(planted, verify=True)
    assert len(err2.value.issues) == len(EXPECTED)


def test_valid_file_has_no_issues_and_syntax_error_is_one_issue(planted, tmp_path):
    good = tmp_path / "good.yml"
    good.write_text("classes: [a]\nimages:\n  - location: img/good_0.png\n    label: a\n"
                    "split:\n  training: [0]\n")  # fmt: skip
    assert ecvl.ValidateDataset(good) == []
    bad = tmp_path / "syntax.yml"
    bad.write_text("images:\n  - [a.png\n")
    (issue,) = ecvl.ValidateDataset(bad)
    assert issue.code == "syntax" and issue.line == 3
    top = tmp_path / "top.yml"
    top.write_text("- a.png\n")
    (issue,) = ecvl.ValidateDataset(top)
    assert issue.code == "type" and issue.line == 1
