"""Every pipeline end to end on small real or synthetic data, with quality thresholds, the KPI
report, the exported ONNX model checked against the trained one, and evaluate/predict."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import ndimage

import deephealth.ecvl as ecvl
from deephealth.pipelines.config import ConfigError
from deephealth.pipelines.data import DataError, write_array
from deephealth.pipelines.predict_io import PredictError
from deephealth.pipelines.report import KPI_KEYS, load_report
from deephealth.pipelines.run import PipelineError, evaluate, predict, train
from deephealth.pipelines.synthetic import generate_dataset, make_phantom
from deephealth.serving import InferenceSession


def _check_run(result, task):
    """The report holds every KPI, the ONNX model passed its check, the HTML has plots."""
    report = load_report(result["run_dir"])
    assert set(report["kpis"]) == set(KPI_KEYS)
    for key in ("time_of_pre_processing_images_s", "time_to_train_models_s"):
        assert report["kpis"][key] > 0
    prod = report["kpis"]["time_to_model_in_production_s"]
    assert prod >= report["kpis"]["time_to_train_models_s"]
    assert report["onnx"]["check"]["passed"] and report["onnx"]["check"]["max_abs_diff"] < 1e-4
    html = open(result["report_html"]).read()
    assert html.count("data:image/png;base64,") >= (2 if task != "regression" else 1)
    assert "Time to model in production" in html
    events = [json.loads(line) for line in open(f"{result['run_dir']}/events.jsonl")]
    assert {"status", "batch", "epoch", "export", "done"} <= {e["type"] for e in events}
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == list(
        range(1, report["run"]["epochs_done"] + 1)
    )
    return report


@pytest.fixture(scope="module")
def lesion_run(lesion_set, tmp_path_factory):
    cfg = {
        "task": "classification",
        "dataset": str(lesion_set),
        "model": "lenet",
        "epochs": 15,
        "batch_size": 16,
        "optimizer": {"lr": 0.002},
    }
    return train(cfg, tmp_path_factory.mktemp("lesion_run"))


def test_classification_2d_synthetic_lesions(lesion_run, lesion_set):
    report = _check_run(lesion_run, "classification")
    m = lesion_run["metrics"]
    assert m["split"] == "test" and m["accuracy"] >= 0.95
    assert report["kpis"]["accuracy"] == m["accuracy"]
    assert report["kpis"]["error_rate"] == pytest.approx(1 - m["accuracy"])
    assert report["kpis"]["dice"] is None and report["kpis"]["speedup"] is None
    assert m["per_patient"]["patients"] == len(
        yaml.safe_load(lesion_set.read_text())["split"]["test"]
    )
    assert len(m["confusion_matrix"]) == 3 and m["roc_auc"] > 0.95
    # the served model gives the same metrics when evaluated again
    again = evaluate(lesion_run["run_dir"])
    assert again["accuracy"] == m["accuracy"]
    session = InferenceSession(lesion_run["onnx"])
    assert session.class_names == ("normal", "nodule", "cyst")
    # the KPI report explains a correct (and a wrong, when there is one) case per class
    html = (Path(lesion_run["run_dir"]) / "report.html").read_text()
    assert "Grad-CAM of the predicted class" in html


def test_predict_classification_folder(lesion_run, lesion_set, tmp_path):
    records = predict(lesion_run["run_dir"], [lesion_set.parent / "images"], tmp_path)
    assert len(records) == 300
    rows = list(csv.DictReader(open(tmp_path / "predictions.csv")))
    assert len(rows) == 300 and {r["class"] for r in rows} <= {"normal", "nodule", "cyst"}
    doc = yaml.safe_load(lesion_set.read_text())
    truth = {e["location"].split("/")[-1]: doc["classes"][e["label"]] for e in doc["images"]}
    right = sum(truth[r["input"].split("/")[-1]] == r["class"] for r in rows)
    assert right / len(rows) >= 0.95


def test_segmentation_2d_real_nuclei(nuclei_tiles, tmp_path):
    cfg = {
        "task": "segmentation",
        "dataset": str(nuclei_tiles),
        "model": "unet",
        "model_params": {"base_filters": 8, "depth": 3},
        "augmentations": {"training": "SequentialAugmentationContainer\n  AugMirror p=0.5\nend\n"},
        "epochs": 8,
        "batch_size": 4,
        "optimizer": {"lr": 0.003},
    }
    result = train(cfg, tmp_path / "run")
    report = _check_run(result, "segmentation")
    m = result["metrics"]
    assert m["split"] == "test" and m["cases"] == 10
    assert m["dice"] >= 0.8, m["dice_per_case"]
    assert report["kpis"]["dice"] == m["dice"] and report["kpis"]["iou"] == m["iou"]
    assert report["kpis"]["accuracy"] == m["pixel"]["accuracy"] > 0.9
    # predict writes 0/255 masks that agree with the ground truth
    doc = yaml.safe_load(nuclei_tiles.read_text())
    test_entry = doc["images"][doc["split"]["test"][0]]
    records = predict(result["run_dir"], [nuclei_tiles.parent / test_entry["location"]], tmp_path)
    mask = np.asarray(ecvl.ImRead(records[0]["output"]).data)[..., 0].T
    truth = np.asarray(ecvl.ImRead(str(nuclei_tiles.parent / test_entry["label"])).data)[..., 0].T
    assert set(np.unique(mask)) <= {0, 255}
    inter = np.logical_and(mask > 0, truth > 0).sum()
    assert 2 * inter / ((mask > 0).sum() + (truth > 0).sum()) > 0.7


def test_segmentation_3d_patches_sliding_window(tmp_path):
    ds = generate_dataset(
        tmp_path / "data", "segmentation", n_patients=14, shape=(24, 24, 24), seed=1,
        split=(0.72, 0.14, 0.14),
    )  # fmt: skip
    cfg = {
        "task": "segmentation",
        "dataset": str(ds),
        "model_params": {"base_filters": 4, "depth": 2},
        "patch": {"size": [16, 16, 16], "per_image": 6, "overlap": 0.5},
        "epochs": 12,  # patch draws are keyed per sample (ECVL PatchSampler) since streaming
        "batch_size": 4,
        "optimizer": {"lr": 0.01},
    }
    result = train(cfg, tmp_path / "run")
    report = _check_run(result, "segmentation")
    assert report["run"]["model"] == "unet3d"
    assert result["metrics"]["dice"] >= 0.6, result["metrics"]["dice_per_case"]
    rec = predict(result["run_dir"], [ds.parent / "images" / "p000_0.nii.gz"], tmp_path / "pred")
    assert rec[0]["output"].endswith("_mask.nii.gz")
    assert ecvl.ImRead(rec[0]["output"]).data.shape[:3] == (24, 24, 24)


def test_regression_image_to_image(tmp_path):
    """Learn a smoothing map (a stand-in for UC3's perfusion synthesis) on phantom images."""
    rng = np.random.default_rng(0)
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    images = []
    for i in range(40):
        img, _, _ = make_phantom((32, 32), ("nodule", "cyst")[i % 2], rng)
        target = ndimage.gaussian_filter(img, 1.5)
        write_array(tmp_path / "x" / f"{i}.png", (img * 255).astype(np.uint8))
        write_array(tmp_path / "y" / f"{i}.png", (target * 255).astype(np.uint8))
        images.append({"location": f"x/{i}.png", "label": f"y/{i}.png"})
    doc = {"name": "smooth", "classes": [], "images": images,
           "split": {"training": list(range(30)), "validation": list(range(30, 35)),
                     "test": list(range(35, 40))}}  # fmt: skip
    (tmp_path / "ds.yml").write_text(yaml.safe_dump(doc))
    cfg = {"task": "regression", "dataset": str(tmp_path / "ds.yml"), "normalize": "divby255",
           "model_params": {"base_filters": 8, "depth": 2}, "epochs": 40, "batch_size": 4,
           "optimizer": {"lr": 0.003}}  # fmt: skip
    result = train(cfg, tmp_path / "run")
    report = _check_run(result, "regression")
    assert report["kpis"]["accuracy"] is None and report["kpis"]["dice"] is None
    # the identity (input as prediction) is the baseline to beat
    xs = [np.asarray(ecvl.ImRead(str(tmp_path / f"x/{i}.png")).data, float) for i in range(35, 40)]
    ys = [np.asarray(ecvl.ImRead(str(tmp_path / f"y/{i}.png")).data, float) for i in range(35, 40)]
    scale = max(float(np.max(np.asarray(ecvl.ImRead(str(tmp_path / f"y/{i}.png")).data)))
                for i in range(30))  # fmt: skip
    base_mse = np.mean([np.mean(((x - y) / scale) ** 2) for x, y in zip(xs, ys)])
    assert result["metrics"]["mse"] < base_mse / 2, (result["metrics"], base_mse)


def test_stop_and_resume(lesion_set, tmp_path):
    cfg = {"task": "classification", "dataset": str(lesion_set), "model": "lenet", "epochs": 3,
           "batch_size": 32}  # fmt: skip
    epochs_seen = []

    def on_event(e):
        if e["type"] == "epoch":
            epochs_seen.append(e["epoch"])

    first = train(cfg, tmp_path, on_event, should_stop=lambda: len(epochs_seen) >= 1)
    assert first["status"] == "stopped" and first["best_epoch"] == 1 and first["onnx"]
    assert load_report(tmp_path)["run"]["epochs_done"] == 1
    second = train(cfg, tmp_path, on_event, resume=True)
    assert second["status"] == "completed" and epochs_seen == [1, 2, 3]
    report = load_report(tmp_path)
    assert [h["epoch"] for h in report["history"]] == [1, 2, 3] and report["run"]["resumed"]


def test_errors(lesion_set, nuclei_tiles, tmp_path):
    with pytest.raises(ConfigError) as err:
        train({"task": "classify", "epochs": -1}, tmp_path)
    assert {k for k, _ in err.value.problems} == {"task", "dataset", "epochs"}
    base = {"task": "classification", "dataset": str(lesion_set), "epochs": 1}
    with pytest.raises(PipelineError, match="unknown zoo model"):
        train({**base, "model": "alexnet"}, tmp_path / "a")
    with pytest.raises(PipelineError, match="needs one of"):
        train({**base, "model": "unet"}, tmp_path / "b")
    with pytest.raises(PipelineError, match="not found"):
        train({**base, "model": str(tmp_path / "missing.onnx")}, tmp_path / "c")
    with pytest.raises(PipelineError, match="cannot build"):
        train({**base, "model": "lenet", "model_params": {"depth": 3}}, tmp_path / "d")
    with pytest.raises(DataError, match="has no class label"):
        train({**base, "dataset": str(nuclei_tiles)}, tmp_path / "e")
    with pytest.raises(DataError, match="augmentations.training"):
        train({**base, "augmentations": {"training": "AugNothing p=1"}}, tmp_path / "f")
    no_train = tmp_path / "no_train.yml"
    doc = yaml.safe_load(lesion_set.read_text())
    doc["split"] = {"test": doc["split"]["test"]}
    for e in doc["images"]:
        e["location"] = str(lesion_set.parent / e["location"])
    no_train.write_text(yaml.safe_dump(doc))
    with pytest.raises(DataError, match="no 'training' split"):
        train({**base, "dataset": str(no_train)}, tmp_path / "g")
    with pytest.raises(PipelineError, match="not a run folder"):
        evaluate(tmp_path / "nowhere")
    with pytest.raises(PredictError, match="neither a run folder nor an .onnx file"):
        predict(str(tmp_path / "x.onnx"), [tmp_path / "img.png"], tmp_path / "out")


def test_predict_input_errors(lesion_run, tmp_path):
    with pytest.raises(PredictError, match="does not exist"):
        predict(lesion_run["run_dir"], [tmp_path / "missing.png"], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PredictError, match="no image files"):
        predict(lesion_run["run_dir"], [tmp_path / "empty"], tmp_path / "out")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(PredictError, match="cannot read input"):
        predict(lesion_run["onnx"], [tmp_path / "bad.png"], tmp_path / "out")


def test_classification_3d_volumes(tmp_path):
    ds = generate_dataset(tmp_path / "data", "classification", n_patients=60, shape=(16, 16, 16),
                          lesion_types=["normal", "nodule"], seed=2)  # fmt: skip
    cfg = {"task": "classification", "dataset": str(ds), "epochs": 10, "batch_size": 8,
           "model_params": {"filters": [8, 16]}, "optimizer": {"lr": 0.005}}  # fmt: skip
    result = train(cfg, tmp_path / "run")
    report = _check_run(result, "classification")
    assert report["run"]["model"] == "cnn3d" and result["metrics"]["accuracy"] >= 0.85


def test_brain_demo_3d_real_colin27(tmp_path):
    """`deephealth demo brain`: 3D U-Net on patches of the real Colin27 T1, held-out slab."""
    from deephealth.pipelines.demo import run_demo, summary_lines

    result = run_demo("brain", tmp_path, epochs=6, on_event=lambda e: None)
    report = _check_run(result, "segmentation")
    assert result["metrics"]["dice"] >= 0.9 and report["samples"] == {
        "training": 4, "validation": 1, "test": 1}  # fmt: skip
    text = "\n".join(summary_lines(result))
    assert result["onnx"] in text and "Colin27" in text and "real data" in text


def test_fine_tune_from_onnx(lesion_run, lesion_set, tmp_path):
    """A config may name an ONNX file: its weights are kept and training continues from them."""
    cfg = {"task": "classification", "dataset": str(lesion_set), "model": lesion_run["onnx"],
           "epochs": 1, "optimizer": {"lr": 1e-4}}  # fmt: skip
    result = train(cfg, tmp_path)
    assert result["onnx_check_passed"]
    assert result["metrics"]["accuracy"] >= lesion_run["metrics"]["accuracy"] - 0.05
