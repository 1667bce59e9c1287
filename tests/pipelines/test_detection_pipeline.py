"""The `detection` pipeline task end to end on synthetic phantoms with several lesions per image
(nodules and cysts, boxes and classes in the dataset YAML): boxes follow the loader's
augmentations, `train` exports the detector with its NonMaxSuppression and scores the ONNX model
in onnxruntime (COCO mAP, PR curve, FROC/CPM, report with box overlays), `evaluate` gives the same
numbers, `predict` writes JSON and a COCO document that pycocotools reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deephealth.pipelines import run
from deephealth.pipelines.config import ConfigError, load_config
from deephealth.pipelines.synthetic import generate_dataset

ARCH = {"filters": [16, 32, 64], "fpn_filters": 32, "stride": 4}


def _config(dataset: Path, **over: object) -> dict:
    cfg = {
        "task": "detection", "dataset": str(dataset), "model": "fcos", "model_params": ARCH,
        "epochs": 12, "batch_size": 8, "optimizer": {"name": "adam", "lr": 0.003},
        "augmentations": {"training": "SequentialAugmentationContainer\nAugMirror p=0.5\n"
                                      "AugFlip p=0.5\nend\n"},
        "loader": {"workers": 1},
    }  # fmt: skip
    cfg.update(over)
    return cfg


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("det_phantoms")
    return generate_dataset(out, "detection", n_patients=80, shape=(64, 64), seed=1)


@pytest.fixture(scope="module")
def trained(phantoms: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run_dir = tmp_path_factory.mktemp("det_run")
    return run_dir, run.train(_config(phantoms), run_dir)


def test_boxes_follow_the_loaders_augmentations(phantoms: Path) -> None:
    aug = {"training": "AugMirror p=1"}
    task, _ = run.make_task(load_config(_config(phantoms, augmentations=aug)))
    index = task.data.splits["training"][0]
    given = task.data.samples[index].boxes_
    batch = next(task.data.batches("training", 1, [(index, 0)], augment=True))
    truth = task.truth(batch, 0)
    expected = np.array([[64 - b[2], b[1], 64 - b[0], b[3]] for b, _ in given])
    # boxes travel as pixel masks: edges land on pixel edges (within half a pixel)
    np.testing.assert_allclose(truth["boxes"], expected, atol=0.5)
    np.testing.assert_array_equal(truth["labels"], [k for _, k in given])
    target = task.encode_batch(batch)
    assert target.shape == (1, 2 + 5, 16, 16)
    assert (target[0, -1] > 0).sum() >= len(given)  # every box has positive locations


def test_detection_config_section_is_validated(phantoms: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(_config(phantoms, detection={"iou_threshold": 0, "max_per_class": -1}))
    keys = [k for k, _ in err.value.problems]
    assert keys == ["detection.iou_threshold", "detection.max_per_class"]
    assert load_config(_config(phantoms))["monitor"] == "map50"


def test_train_exports_a_detector_that_finds_the_lesions(trained: tuple[Path, dict]) -> None:
    run_dir, result = trained
    assert result["onnx_check_passed"], result
    m = result["metrics"]
    assert m["split"] == "test" and m["objects"] >= 20
    assert m["map50"] >= 0.7 and m["cpm"] >= 0.7, m  # measured 0.91 / 1.0
    assert 0 <= m["map"] <= m["map50"]
    assert result["kpis"]["map50"] == m["map50"] and result["kpis"]["accuracy"] is None
    # the served file returns final boxes: onnxruntime alone, NonMaxSuppression in the graph
    import onnx

    model = onnx.load(run_dir / "model.onnx")
    assert [o.name for o in model.graph.output] == ["boxes", "scores", "labels", "image"]
    assert "NonMaxSuppression" in {n.op_type for n in model.graph.node}
    page = (run_dir / "report.html").read_text()
    for caption in ("Precision-recall", "FROC", "Sample cases"):
        assert caption in page
    curve = json.loads((run_dir / "report.json").read_text())["test_metrics"]["pr_curve"]
    assert max(curve["recall"]) >= 0.8


def test_evaluate_and_predict(trained: tuple[Path, dict], phantoms: Path, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    run_dir, result = trained
    scores = run.evaluate(run_dir)
    assert scores["map50"] == pytest.approx(result["metrics"]["map50"], abs=1e-9)
    images = sorted((phantoms.parent / "images").glob("*.png"))[:3]
    records = run.predict(run_dir, images, tmp_path)
    assert [Path(r["input"]).name for r in records] == [p.name for p in images]
    coco = COCO(str(tmp_path / "predictions_coco.json"))
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} == {"nodule", "cyst"}
    assert len(coco.getAnnIds()) == sum(len(r["boxes"]) for r in records)
    saved = json.loads((tmp_path / "predictions.json").read_text())
    assert saved[0]["boxes"] == records[0]["boxes"] and saved[0]["size"] == [64, 64]
    # the lesions are found: most true boxes have a confident predicted box on them
    from deephealth.ecvl.dataset import DLDataset
    from deephealth.pipelines.detection_metrics import box_iou

    ds = DLDataset(str(phantoms), 1, ctype="none", num_workers=0, seed=0)
    by_name = {Path(s.location_[0]).name: s for s in ds.samples_}
    hits = []
    for r in records:
        truth = [b for b, _ in by_name[Path(r["input"]).name].boxes_]
        best = np.array(r["boxes"]).reshape(-1, 4)[np.array(r["box_scores"]) >= 0.2]
        hits += list(box_iou(truth, best).max(axis=1, initial=0) >= 0.5)
    assert np.mean(hits) >= 0.6, hits


def test_volumes_train_on_patches_and_are_scored_by_sliding_windows(tmp_path: Path) -> None:
    """3D: boxes with z, patch training with the CenterNet-style detector (with the offset head:
    its loss and targets follow `model_params.offsets`), sliding windows with merged detections
    on whole volumes, FROC in the report (a smoke run: quality is asserted by
    tests/pipelines/test_detection3d_nodules.py)."""
    data = generate_dataset(tmp_path / "vols", "detection", n_patients=8, shape=(32, 32, 32),
                            lesion_types=["nodule"], split=(0.5, 0.25, 0.25), seed=2)  # fmt: skip
    cfg = _config(
        data, model=None, augmentations={}, epochs=1,
        model_params={"filters": [4, 8], "fpn_filters": 4, "offsets": True},
        patch={"size": [16, 16, 16], "per_image": 2, "overlap": 0.25},
    )  # fmt: skip
    result = run.train(cfg, tmp_path / "run")
    import onnx

    graph = onnx.load(result["onnx"]).graph  # the offsets gathered at the peaks
    assert any(n.op_type == "Transpose" and n.output[0] == "pk_at" for n in graph.node)
    assert result["onnx_check_passed"]
    from deephealth.serving import InferenceSession
    from deephealth.serving.detection3d import is_detector3d, settings

    session = InferenceSession(result["onnx"])  # the peak finding is in the exported graph
    assert is_detector3d(session) and settings(session)["patch"] == [16, 16, 16]
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["run"]["model"] == "centernet3d" and report["config"]["loss"] is None
    m = result["metrics"]
    assert m["images"] == 2 and m["objects"] >= 2 and 0 <= m["cpm"] <= 1
    assert "FROC" in (tmp_path / "run" / "report.html").read_text()
    vol = sorted((data.parent / "images").glob("*.nii.gz"))[0]
    records = run.predict(tmp_path / "run", [vol], tmp_path / "pred")
    assert records[0]["size"] == [32, 32, 32]
    assert all(len(b) == 6 for b in records[0]["boxes"])
    assert json.loads((tmp_path / "pred" / "predictions.json").read_text())[0]["input"] == str(vol)
    with pytest.raises(Exception, match="patch.size"):
        run.train(_config(data, model=None, augmentations={}), tmp_path / "nopatch")


def test_heat_prior_is_set_on_a_new_3d_detector(tmp_path: Path) -> None:
    """`detection.heat_prior` (default 0.01) sets the heat-map biases after the build; null
    keeps the layer's own initialisation."""
    data = generate_dataset(tmp_path / "vols", "detection", n_patients=4, shape=(16, 16, 16),
                            lesion_types=["nodule"], split=(0.5, 0.25, 0.25), seed=3)  # fmt: skip

    def heat_bias(**detection: object) -> np.ndarray:
        cfg = load_config(_config(
            data, model=None, augmentations={}, model_params={"filters": [4, 8], "fpn_filters": 4},
            patch={"size": [16, 16, 16], "per_image": 1}, detection=detection,
        ))  # fmt: skip
        task, _ = run.make_task(cfg)
        net = run.build_network(cfg, task)
        heat = net.outputs[0].parents[0]
        return net.graph.state_dict()[f"layers.{heat.name}.bias"].numpy()

    np.testing.assert_allclose(heat_bias(), -np.log(99), rtol=1e-6)
    np.testing.assert_allclose(heat_bias(heat_prior=0.2), -np.log(4), rtol=1e-6)
    assert not np.allclose(heat_bias(heat_prior=None), -np.log(99))
    with pytest.raises(ConfigError, match="heat_prior"):
        load_config(_config(data, detection={"heat_prior": 1.5}))
