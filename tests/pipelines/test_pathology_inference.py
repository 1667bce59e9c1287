"""Slide inference of ONNX patch models on a synthetic slide with a planted tumour region.

The slide (2048 x 1536 at 0.5 um/px, five pyramid levels) is glass with a pink tissue block and
a purple tumour block at level-0 (768, 512, 512, 256); the models are exact nearest-colour
classifier / segmenter, so the tumour must come back exactly where it was painted: in the label
map of every slide level, in every level of the written heat map, and in the GeoJSON polygons.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tifffile

from deephealth.ecvl.pathology import Tiler
from deephealth.ecvl.pathology.synthetic import COLORS, synthetic_slide
from deephealth.ecvl.slide import OpenSlideImage, SlideOpenError, SlideReadError
from deephealth.pipelines.pathology import (
    NO_PREDICTION,
    PatchModel,
    RunStore,
    aggregate_predictions,
    predict_slide,
)
from deephealth.pipelines.pathology.reference_models import (
    prototype_classifier,
    prototype_segmenter,
)
from deephealth.serving import Preprocessing, save_preprocessing

CLASSES = ["glass", "tissue", "tumour"]
TISSUE = (256, 256, 1536, 1024)
TUMOUR = (768, 512, 512, 256)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("wsi")
    synthetic_slide(
        folder / "slide.tif", (2048, 1536), [("tissue", TISSUE), ("tumour", TUMOUR)], min_size=128
    )
    protos = np.array([COLORS[c] for c in CLASSES]) / 255.0
    return {
        "slide": folder / "slide.tif",
        "classifier": Path(prototype_classifier(folder / "classifier.onnx", protos)),
        "segmenter": Path(prototype_segmenter(folder / "segmenter.onnx", protos, pool=4)),
        "folder": folder,
    }


def expected_mask(
    shape: tuple[int, int], ds: float, rect: tuple[int, int, int, int] = TUMOUR
) -> np.ndarray:
    x, y, w, h = (v / ds for v in rect)
    mask = np.zeros(shape, bool)
    mask[int(y) : int(np.ceil(y + h)), int(x) : int(np.ceil(x + w))] = True
    return mask


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_classifier_finds_the_tumour_at_every_slide_level(
    world: dict[str, Path], level: int
) -> None:
    pred = predict_slide(
        world["slide"],
        PatchModel(world["classifier"], classes=CLASSES),
        Tiler(32, level=level),
        workers=2,
    )
    ds = 32 * 2**level
    assert pred.default_downsample() == pytest.approx(ds, rel=1e-3)
    labels = pred.label_map()
    assert labels.shape == (1536 // ds, 2048 // ds)
    np.testing.assert_array_equal(labels == 2, expected_mask(labels.shape, ds))
    tissue = expected_mask(labels.shape, ds, TISSUE) & ~expected_mask(labels.shape, ds)
    np.testing.assert_array_equal(labels == 1, tissue)


def test_heatmap_tiff_is_aligned_at_every_level(world: dict[str, Path], tmp_path: Path) -> None:
    pred = predict_slide(world["slide"], world["classifier"], Tiler(32, min_tissue=0.5), workers=2)
    assert pred.classes == ["class0", "class1", "class2"]  # the model stores no names
    heat = tmp_path / "tumour_heat.tif"
    sizes = pred.write_heatmap(heat, 2, downsample=8, min_size=16)
    assert sizes[0] == (256, 192) and len(sizes) == 5
    with OpenSlideImage(heat) as hm, OpenSlideImage(world["slide"]) as slide:
        assert hm.mpp == pytest.approx((4.0, 4.0))  # 0.5 um/px x 8
        for level in range(hm.GetLevelCount()):
            ds = 8 * hm.level_downsamples[level]
            values = hm.read_level(level)[..., 0]
            inside = expected_mask(values.shape, ds)
            core = np.zeros_like(inside)
            core[1:-1, 1:-1] = (
                inside[1:-1, 1:-1]
                & inside[:-2, 1:-1]
                & inside[2:, 1:-1]
                & inside[1:-1, :-2]
                & inside[1:-1, 2:]
            )
            assert (values[core] > 250).all() and (values[~inside] < 5).all()
        # physical alignment: heat-map pixel centres over the tumour are purple on the slide
        rows, cols = np.nonzero(hm.read_level(0)[..., 0] > 128)
        for r, c in zip(rows[::97], cols[::97]):
            pixel = slide.read_region(0, int(c * 8 + 4), int(r * 8 + 4), 1, 1)[0, 0]
            assert pixel[0] < 130  # purple, not pink (226) or glass (242)


def test_label_map_tiff_keeps_classes(world: dict[str, Path], tmp_path: Path) -> None:
    pred = predict_slide(
        world["slide"], PatchModel(world["classifier"], classes=CLASSES), Tiler(64, min_tissue=0.5)
    )
    pred.write_label_map(tmp_path / "labels.tif", min_size=8)
    with OpenSlideImage(tmp_path / "labels.tif") as lm:
        for level in range(lm.GetLevelCount()):
            assert set(np.unique(lm.read_level(level)[..., 0])) <= {1, 2, NO_PREDICTION}
        level0 = lm.read_level(0)[..., 0]
    np.testing.assert_array_equal(level0 == 2, expected_mask(level0.shape, 64))


def test_segmenter_label_map_and_qupath_geojson(world: dict[str, Path], tmp_path: Path) -> None:
    model = PatchModel(world["segmenter"], classes=CLASSES)
    pred = predict_slide(world["slide"], model, Tiler(128, overlap=32), workers=2)
    assert pred.is_segmentation and pred.outputs.shape[1:] == (3, 32, 32)
    assert pred.default_downsample() == 4.0
    labels = pred.label_map()
    covered = labels != NO_PREDICTION
    np.testing.assert_array_equal((labels == 2)[covered], expected_mask(labels.shape, 4)[covered])
    assert expected_mask(labels.shape, 4)[~covered].sum() == 0
    n = pred.export_geojson(tmp_path / "pred.geojson", exclude=["glass"])
    data = json.loads((tmp_path / "pred.geojson").read_text())
    assert data["type"] == "FeatureCollection" and len(data["features"]) == n == 2
    by_class = {f["properties"]["classification"]["name"]: f for f in data["features"]}
    tumour = np.array(by_class["tumour"]["geometry"]["coordinates"][0])
    assert by_class["tumour"]["properties"]["objectType"] == "annotation"
    x, y, w, h = TUMOUR
    np.testing.assert_allclose(tumour.min(0), [x, y])
    np.testing.assert_allclose(tumour.max(0), [x + w, y + h])
    tissue_rings = by_class["tissue"]["geometry"]["coordinates"]
    assert len(tissue_rings) == 2  # the tumour is a hole in the tissue
    np.testing.assert_allclose(np.array(tissue_rings[1]).min(0), [x, y])


def test_slide_label_aggregation(world: dict[str, Path]) -> None:
    pred = predict_slide(
        world["slide"], PatchModel(world["classifier"], classes=CLASSES), Tiler(64, min_tissue=0.5)
    )
    n_tumour = int((pred.outputs.argmax(1) == 2).sum())
    assert n_tumour == (512 // 64) * (256 // 64)
    assert pred.aggregate("mean").label == "tissue"
    vote = pred.aggregate("vote")
    assert vote.scores["tumour"] == pytest.approx(n_tumour / len(pred.tiles))
    assert pred.aggregate("topk", top_k=5).label in ("tissue", "tumour")
    assert pred.aggregate("max", ignore=["tissue"]).label == "tumour"
    probs = np.array([[0.6, 0.4], [0.1, 0.9], [0.7, 0.3]])
    assert aggregate_predictions(probs, ["a", "b"], method="mean").label == "b"
    assert aggregate_predictions(probs, ["a", "b"], method="vote").label == "a"
    with pytest.raises(ValueError, match="method"):
        aggregate_predictions(probs, ["a", "b"], method="median")
    with pytest.raises(ValueError, match="probabilities"):
        aggregate_predictions(probs, ["a", "b", "c"])


def test_interrupted_run_resumes_without_redoing_tiles(
    world: dict[str, Path], tmp_path: Path
) -> None:
    model = PatchModel(world["classifier"], classes=CLASSES)
    tiler = Tiler(64)
    full = predict_slide(world["slide"], model, tiler)
    run = tmp_path / "run"
    seen: list[int] = []

    def interrupt(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        predict_slide(
            world["slide"],
            model,
            tiler,
            batch_size=16,
            run_dir=run,
            checkpoint_tiles=32,
            on_batch=interrupt,
        )
    assert seen[-1] == 80
    resumed = predict_slide(world["slide"], model, tiler, batch_size=16, run_dir=run)
    assert resumed.computed == len(full.tiles) - 80  # the 80 finished tiles were not redone
    np.testing.assert_array_equal(resumed.outputs, full.outputs)
    again = predict_slide(world["slide"], model, tiler, run_dir=run)
    assert again.computed == 0
    other = PatchModel(world["segmenter"], classes=CLASSES)
    with pytest.raises(ValueError, match="another run.*model_sha256"):
        predict_slide(world["slide"], other, tiler, run_dir=run)


def test_parallel_matches_serial_and_stored_preprocessing(
    world: dict[str, Path], tmp_path: Path
) -> None:
    tiler = Tiler(48, overlap=16, min_tissue=0.2)
    serial = predict_slide(world["slide"], world["classifier"], tiler, workers=1, threads=1)
    parallel = predict_slide(world["slide"], world["classifier"], tiler, workers=3, batch_size=7)
    np.testing.assert_array_equal(serial.outputs, parallel.outputs)
    hwc = tmp_path / "hwc.onnx"
    shutil.copy(world["classifier"], hwc)
    save_preprocessing(hwc, Preprocessing(layout="HWC", scale=1 / 255, class_names=CLASSES))
    stored = predict_slide(world["slide"], hwc, tiler)
    assert stored.classes == CLASSES
    np.testing.assert_allclose(stored.outputs, serial.outputs, atol=1e-5)


def test_bad_slides_name_slide_and_region(world: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(SlideOpenError, match="missing.svs"):
        predict_slide(tmp_path / "missing.svs", world["classifier"], Tiler(64))
    bad = tmp_path / "corrupt.tif"
    shutil.copy(world["slide"], bad)
    with tifffile.TiffFile(bad) as tif:
        page = tif.pages[0]
        index = 2 * 8 + 4  # level-0 tile at x=1024, y=512
        offset, count = page.dataoffsets[index], page.databytecounts[index]
    with open(bad, "r+b") as f:
        f.seek(offset)
        f.write(bytes(range(256)) * (count // 256) + b"\x00" * (count % 256))
    with pytest.raises(SlideReadError, match=r"corrupt\.tif', level 0, region x=1024, y=512"):
        predict_slide(bad, world["classifier"], Tiler(256), workers=2)


def test_model_errors(world: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="prototypes"):
        prototype_classifier(tmp_path / "bad.onnx", [[0.1, 0.2]])
    wrong = PatchModel(world["classifier"], classes=["a", "b"])
    with pytest.raises(ValueError, match="3 classes but 2 names"):
        predict_slide(world["slide"], wrong, Tiler(256))
    with pytest.raises(ValueError, match="lists no tile"):
        predict_slide(world["slide"], world["classifier"], Tiler(1024, level=2))


def test_colour_heatmap(world: dict[str, Path], tmp_path: Path) -> None:
    pred = predict_slide(world["slide"], world["classifier"], Tiler(64, min_tissue=0.5))
    pred.write_heatmap(tmp_path / "jet.tif", 2, colormap="jet")
    with OpenSlideImage(tmp_path / "jet.tif") as hm:
        rgb = hm.read_level(0)
    tumour = expected_mask(rgb.shape[:2], 64)
    assert (rgb[tumour][:, 0] > 100).all() and (rgb[tumour][:, 2] < 50).all()  # jet(1) is dark red
    assert (rgb[~tumour][:, 2] > 100).all()  # jet(0) is dark blue


def test_run_store_ignores_a_chunk_cut_short(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run", {"slide": "s", "tiles": 10})
    store.save(np.array([0, 1, 2]), np.eye(3, dtype=np.float32))
    (tmp_path / "run" / "chunks" / "000001.npz").write_bytes(b"PK\x03\x04 cut short")
    indices, outputs = RunStore(tmp_path / "run", {"slide": "s", "tiles": 10}).load()
    np.testing.assert_array_equal(indices, [0, 1, 2])
    np.testing.assert_array_equal(outputs, np.eye(3))
    with pytest.raises(ValueError, match=r"differs in \['tiles'\]"):
        RunStore(tmp_path / "run", {"slide": "s", "tiles": 11})
