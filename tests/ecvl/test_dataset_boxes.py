"""Boxes in the dataset YAML: validation with lines, round trips through YAML and COCO (read by
pycocotools), and boxes from the real DSB2018 instance masks through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import deephealth.ecvl as ecvl
from deephealth.ecvl.dataset.coco import coco_to_dataset, dataset_to_coco
from deephealth.ecvl.dataset.dump import dataset_to_dict
from deephealth.ecvl.dataset.errors import DatasetFormatError

DATA = Path(__file__).resolve().parents[2] / ".data" / "stardist"

YAML = """\
name: boxes
classes: [nodule, cyst]
images:
  - location: a.png
    boxes:
      - [1, 2, 11, 12, nodule]
      - {box: [3.5, 4, 9, 10], label: cyst}
  - location: b.png
    boxes: []
  - location: c.nii.gz
    boxes: [[1, 2, 3, 5, 6, 7, 1]]
split: {training: [0, 1], test: [2]}
"""


def _write_images(folder: Path) -> None:
    import cv2

    cv2.imwrite(str(folder / "a.png"), np.zeros((20, 30), np.uint8))
    cv2.imwrite(str(folder / "b.png"), np.zeros((16, 16), np.uint8))


def test_boxes_are_read_and_survive_a_dump(tmp_path: Path) -> None:
    (tmp_path / "ds.yml").write_text(YAML)
    ds = ecvl.Dataset(str(tmp_path / "ds.yml"))
    assert ds.samples_[0].boxes_ == [([1, 2, 11, 12], 0), ([3.5, 4, 9, 10], 1)]
    assert ds.samples_[1].boxes_ == []
    assert ds.samples_[2].boxes_ == [([1, 2, 3, 5, 6, 7], 1)]
    (tmp_path / "again.yml").write_text(yaml.safe_dump(dataset_to_dict(ds, str(tmp_path))))
    again = ecvl.Dataset(str(tmp_path / "again.yml"))
    assert [s.boxes_ for s in again.samples_] == [s.boxes_ for s in ds.samples_]


def test_every_box_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    bad = YAML.replace("[1, 2, 11, 12, nodule]", "[11, 2, 1, 12, nodule]")
    bad = bad.replace("label: cyst}", "label: tumour}").replace("boxes: []", "boxes: 3")
    bad = bad.replace("[[1, 2, 3, 5, 6, 7, 1]]", "[[1, 2, 3, 1]]")
    (tmp_path / "ds.yml").write_text(bad)
    with pytest.raises(DatasetFormatError) as info:
        ecvl.Dataset(str(tmp_path / "ds.yml"))
    text = str(info.value)
    assert ":6:" in text and "far corner [1, 12] is not beyond the near corner [11, 2]" in text
    assert ":7:" in text and "unknown class 'tumour'" in text
    assert ":9:" in text and "boxes must be a list" in text
    assert ":11:" in text and "expected 4 (2D) or 6 (3D) corner coordinates" in text


def test_coco_round_trip_and_pycocotools_reads_our_file(tmp_path: Path) -> None:
    pycoco = pytest.importorskip("pycocotools.coco")
    (tmp_path / "ds.yml").write_text(
        YAML.split("  - location: c.nii.gz")[0] + "split: {training: [0], test: [1]}\n"
    )
    _write_images(tmp_path)
    ds = ecvl.Dataset(str(tmp_path / "ds.yml"))
    coco = dataset_to_coco(ds)
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    api = pycoco.COCO(str(tmp_path / "coco.json"))
    assert sorted(api.getImgIds()) == [1, 2]
    assert [a["bbox"] for a in api.loadAnns(api.getAnnIds(imgIds=[1]))] == [
        [1, 2, 10, 10], [3.5, 4, 5.5, 6]
    ]  # fmt: skip
    assert api.loadImgs([1])[0]["width"] == 30 and api.loadImgs([1])[0]["height"] == 20
    doc = coco_to_dataset(coco, tmp_path, "back")
    (tmp_path / "back.yml").write_text(yaml.safe_dump(doc))
    back = ecvl.Dataset(str(tmp_path / "back.yml"))
    assert back.classes_ == ds.classes_
    assert [s.boxes_ for s in back.samples_] == [s.boxes_ for s in ds.samples_]
    assert {s.split_name_: s.samples_indices_ for s in back.split_} == {
        "training": [0],
        "test": [1],
    }


def test_boxes_from_the_real_nuclei_masks_by_command_line(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    if not (DATA / "mask2d.tif").is_file():
        pytest.skip("DSB2018 nuclei not fetched (scripts/fetch_data.sh)")
    import cv2

    img = tifffile.imread(DATA / "img2d.tif")
    lab = tifffile.imread(DATA / "mask2d.tif").astype(np.uint16)
    images, counts = [], []
    for k, (r, c) in enumerate([(0, 0), (0, 256), (256, 0), (256, 256)]):  # four regions
        tile = lab[r : r + 256, c : c + 256]
        cv2.imwrite(
            str(tmp_path / f"t{k}.png"), (img[r : r + 256, c : c + 256] // 256).astype(np.uint8)
        )
        cv2.imwrite(str(tmp_path / f"t{k}_mask.png"), tile)
        images.append({"location": f"t{k}.png", "label": f"t{k}_mask.png"})
        counts.append(len(np.unique(tile)) - 1)
    (tmp_path / "ds.yml").write_text(yaml.safe_dump({"name": "nuclei", "images": images}))
    cmd = [sys.executable, "-m", "deephealth.cli", "dataset", "boxes-from-masks",
           str(tmp_path / "ds.yml"), "-o", str(tmp_path / "boxes.yml"), "--class-name", "nucleus"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"{sum(counts)} boxes in 4 images" in proc.stdout
    ds = ecvl.Dataset(str(tmp_path / "boxes.yml"))
    assert ds.classes_ == ["nucleus"]
    assert [len(s.boxes_) for s in ds.samples_] == counts
    assert (
        sum(counts) >= 100
    )  # the image holds 125 nuclei, a few cut by the tile borders count twice
    first = lab[:256, :256]
    i = int(np.unique(first)[1])
    ys, xs = np.nonzero(first == i)
    assert ([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], 0) in ds.samples_[0].boxes_
    # bad input: one line, exit 2
    (tmp_path / "nolabel.yml").write_text(yaml.safe_dump({"images": [{"location": "t0.png"}]}))
    cmd[5:6] = [str(tmp_path / "nolabel.yml")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no instance mask" in proc.stderr
