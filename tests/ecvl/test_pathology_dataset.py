"""Streaming patch dataset and patch extractor on real and synthetic slides."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from deephealth.ecvl.dataset import ValidateDataset
from deephealth.ecvl.pathology import (
    Annotation,
    PatchDataset,
    RandStainAugment,
    SlideSource,
    Tiler,
    extract_patches,
    read_tile,
)
from deephealth.ecvl.pathology.synthetic import synthetic_slide
from deephealth.ecvl.slide import OpenSlideImage, write_pyramidal_tiff

CMU = Path(__file__).resolve().parents[2] / ".data" / "cmu_small_region.svs"
TUMOUR = (512, 256, 512, 256)


@pytest.fixture(scope="module")
def slides(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("patches")
    with OpenSlideImage(CMU) as slide:
        write_pyramidal_tiff(folder / "cmu_pyramid.tif", slide.read_level(0), 0.499)
    synthetic_slide(
        folder / "syn.tif", (1280, 768), [("tissue", (128, 128, 1024, 512)), ("tumour", TUMOUR)]
    )
    return {"cmu": CMU, "pyramid": folder / "cmu_pyramid.tif", "syn": folder / "syn.tif"}


def test_batches_are_nchw_tensors_with_one_hot_labels(slides: dict[str, Path]) -> None:
    tiler = Tiler(128, mpp=1.0, min_tissue=0.5)
    ds = PatchDataset(
        [(str(slides["cmu"]), "normal"), SlideSource(slides["pyramid"], "tumour")],
        ["normal", "tumour"],
        tiler,
        batch_size=16,
        shuffle=False,
        workers=2,
    )
    with ds:
        n = ds.num_samples
        assert ds.class_counts()["normal"] == ds.class_counts()["tumour"] == n // 2
        batches = list(ds)
        assert len(batches) == len(ds) == -(-n // 16)
        x, y = batches[0]
        assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
        assert tuple(x.shape) == (16, 3, 128, 128) and tuple(y.shape) == (16, 2)
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        assert torch.equal(y.sum(1), torch.ones(16))
        first = ds.samples[0]
        expected = read_tile(ds._slides[first.source], first.tile)
        np.testing.assert_allclose(x[0].numpy().transpose(1, 2, 0), expected / 255.0, atol=1e-6)
        labels = torch.cat([b[1] for b in batches]).argmax(1)
        assert labels[: n // 2].eq(0).all() and labels[n // 2 :].eq(1).all()


def test_each_pass_reshuffles_deterministically(slides: dict[str, Path]) -> None:
    def make() -> PatchDataset:
        return PatchDataset(
            [(str(slides["cmu"]), "a")], ["a"], Tiler(256), batch_size=8, seed=3, as_tensor=False
        )

    ds = make()
    assert ds.order(0) != ds.order(1)
    assert make().order(0) == ds.order(0)
    x, y = next(iter(ds))
    assert isinstance(x, np.ndarray) and x.shape == (8, 3, 256, 256) and y.shape == (8, 1)
    assert ds.epoch == 1


def test_labels_from_polygons_and_masks(slides: dict[str, Path]) -> None:
    x0, y0, w, h = TUMOUR
    tumour = Annotation(
        "tumour", np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]], float)
    )
    source = SlideSource(slides["syn"], annotations=[tumour])
    tiler = Tiler(128, min_tissue=0.9)
    ds = PatchDataset(
        [source], ["normal", "tumour"], tiler, background="normal", shuffle=False, as_tensor=False
    )
    for sample in ds.samples:
        inside = x0 <= sample.tile.x < x0 + w and y0 <= sample.tile.y < y0 + h
        assert sample.label == int(inside)
    assert ds.class_counts() == {"normal": 32 - 8, "tumour": 8}
    masks = PatchDataset(
        [source],
        ["normal", "tumour"],
        Tiler(128, overlap=64, min_tissue=0.9),
        target="mask",
        background="normal",
        shuffle=False,
        batch_size=64,
        as_tensor=False,
    )
    x, y = next(iter(masks))
    assert y.shape == (64, 2, 128, 128)
    # the mask says tumour exactly where the tile is purple
    purple = x[:, 0] < 0.6  # red is low only in the purple tumour
    np.testing.assert_array_equal(y[:, 1] == 1, purple)


def test_transform_and_standardization(slides: dict[str, Path]) -> None:
    ds = PatchDataset(
        [(str(slides["cmu"]), "a")],
        ["a"],
        Tiler(128, min_tissue=0.8),
        batch_size=4,
        shuffle=False,
        transform=RandStainAugment(0.2, 0.05, seed=0),
        mean=[0.5, 0.5, 0.5],
        std=[0.25, 0.25, 0.25],
        as_tensor=False,
    )
    x, _ = next(iter(ds))
    raw = read_tile(ds._slides[0], ds.samples[0].tile) / 255.0
    back = x[0].transpose(1, 2, 0) * 0.25 + 0.5
    assert 0.005 < np.abs(back - raw).mean() < 0.2  # augmented, then standardized


def test_errors(slides: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="not in"):
        _ = PatchDataset([(str(slides["cmu"]), "x")], ["a"], Tiler(256)).samples
    with pytest.raises(ValueError, match="needs annotations"):
        _ = PatchDataset([SlideSource(slides["cmu"])], ["a"], Tiler(256)).samples
    with pytest.raises(ValueError, match="target"):
        PatchDataset([], ["a"], Tiler(256), target="boxes")


def test_extract_patches_writes_a_deephealth_dataset(
    tmp_path: Path, slides: dict[str, Path]
) -> None:
    ds = PatchDataset(
        [(str(slides["cmu"]), "normal"), (str(slides["pyramid"]), "tumour")],
        ["normal", "tumour"],
        Tiler(256, mpp=1.0, min_tissue=0.6),
        shuffle=False,
    )
    path = extract_patches(
        ds, tmp_path / "out", name="uc2", split={str(slides["pyramid"]): "test"}, workers=2
    )
    assert ValidateDataset(path) == []  # the project's own DeepHealth-format validator
    doc = yaml.safe_load(path.read_text())
    assert doc["name"] == "uc2" and doc["classes"] == ["normal", "tumour"]
    assert len(doc["images"]) == ds.num_samples
    n = ds.num_samples // 2
    assert doc["split"] == {"training": list(range(n)), "test": list(range(n, 2 * n))}
    entry = doc["images"][0]
    assert entry["label"] == "normal"
    written = cv2.cvtColor(cv2.imread(str(path.parent / entry["location"])), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(written, read_tile(ds._slides[0], ds.samples[0].tile))


def test_extract_masks(tmp_path: Path, slides: dict[str, Path]) -> None:
    x0, y0, w, h = TUMOUR
    tumour = Annotation(
        "tumour", np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]], float)
    )
    ds = PatchDataset(
        [SlideSource(slides["syn"], annotations=[tumour])],
        ["normal", "tumour"],
        Tiler(256, min_tissue=0.9),
        target="mask",
        background="normal",
        shuffle=False,
    )
    path = extract_patches(ds, tmp_path / "seg")
    assert ValidateDataset(path) == []
    doc = yaml.safe_load(path.read_text())
    masks = [
        cv2.imread(str(tmp_path / "seg" / e["label"]), cv2.IMREAD_UNCHANGED) for e in doc["images"]
    ]
    assert sum(int(m.sum()) for m in masks) == w * h  # every tumour pixel, once


def test_extract_rejects_unknown_split(tmp_path: Path, slides: dict[str, Path]) -> None:
    ds = PatchDataset([(str(slides["cmu"]), "a")], ["a"], Tiler(256))
    with pytest.raises(ValueError, match="split values"):
        extract_patches(ds, tmp_path / "x", split={str(slides["cmu"]): "train"})
