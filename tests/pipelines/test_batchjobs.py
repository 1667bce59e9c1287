"""Dataset-scale jobs: preprocessing and batch inference on processes and on a Dask LocalCluster."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from skimage import data as skdata

from deephealth.pipelines.batchjobs.predict import predict_dataset
from deephealth.pipelines.batchjobs.preprocess import preprocess_dataset
from deephealth.pipelines.batchjobs.runner import MARKERS, make_batches

OPS = "AugResizeDim dims=(32,32)\nAugMirror p=0.5\nAugGammaContrast gamma=[0.8,1.2]"


@pytest.fixture(scope="module")
def ihc_dataset(tmp_path_factory) -> Path:
    """24 real IHC crops (scikit-image) in two classes by mean staining, as a DeepHealth YAML."""
    root = tmp_path_factory.mktemp("ihc")
    image = skdata.immunohistochemistry()
    lines = ["name: ihc-crops", "classes: [light, dark]", "images:"]
    crops = [image[y : y + 64, x : x + 64] for y in range(0, 384, 96) for x in range(0, 512, 86)]
    crops = crops[:24]
    threshold = np.median([c.mean() for c in crops])
    for i, crop in enumerate(crops):
        cv2.imwrite(str(root / f"crop{i:02d}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        label = "light" if crop.mean() > threshold else "dark"
        lines += [f"  - location: crop{i:02d}.png", f"    label: {label}"]
    lines += ["split:", f"  training: {list(range(16))}", f"  test: {list(range(16, 24))}"]
    (root / "dataset.yml").write_text("\n".join(lines) + "\n")
    return root / "dataset.yml"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "images").iterdir())}


def test_make_batches():
    assert make_batches(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="batch_size"):
        make_batches([1], 0)


def test_preprocess_dask_matches_single_process_byte_for_byte(ihc_dataset, tmp_path):
    single_yaml, single = preprocess_dataset(
        ihc_dataset, OPS, tmp_path / "single", workers=1, batch_size=5, progress=False
    )
    dask_yaml, dask = preprocess_dataset(
        ihc_dataset, OPS, tmp_path / "dask", workers=2, scheduler="local", batch_size=5,
        progress=False,
    )  # fmt: skip
    assert (single.engine, dask.engine) == ("inline", "dask")
    assert single.samples == dask.samples == 24 and dask.batches == 5
    assert _files(tmp_path / "single") == _files(tmp_path / "dask")
    first = cv2.imread(str(tmp_path / "dask" / "images" / "0000000.png"))
    assert first.shape == (32, 32, 3)
    from deephealth.ecvl.dataset import Dataset

    ds = Dataset(dask_yaml)
    assert len(ds.samples_) == 24 and ds.classes_ == ["light", "dark"]
    assert ds.samples_[3].location_[0].endswith("0000003.png")
    assert Dataset(single_yaml).GetSplit("test") == list(range(16, 24))
    from deephealth.pipelines.batchjobs.preprocess import write_report

    report = write_report(tmp_path / "r.json", dask, tmp_path / "single")
    assert report["time_of_pre_processing_images_s"] == dask.seconds
    assert report["speedup"] == pytest.approx(single.seconds / dask.seconds)
    assert report["efficiency"] == pytest.approx(report["speedup"] / 2)
    with pytest.raises(ValueError, match="baseline"):
        write_report(tmp_path / "r2.json", dask, tmp_path / "nowhere")


def test_bad_operations_are_reported_before_any_work(ihc_dataset, tmp_path):
    with pytest.raises(Exception, match="line 1"):
        preprocess_dataset(ihc_dataset, "AugResizeDim dims=(32,", tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


RERUN_SCRIPT = """
import sys, time
from deephealth.pipelines.batchjobs import preprocess
slow = preprocess.preprocess_batch
def slowed(index, batch, out_dir):
    time.sleep(0.4)
    return slow(index, batch, out_dir)
preprocess.preprocess_batch = slowed
preprocess.preprocess_dataset(sys.argv[1], sys.argv[2], sys.argv[3], workers=1, batch_size=3,
                              progress=False)
"""


def test_rerun_after_kill_redoes_no_finished_batch(ihc_dataset, tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", RERUN_SCRIPT, str(ihc_dataset), OPS, str(out)])
    deadline = time.time() + 60
    markers = out / MARKERS
    while time.time() < deadline and len(list(markers.glob("batch_*.json"))) < 3:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in markers.glob("batch_*.json")}
    assert 3 <= len(done_before) < 8, "the run must be killed mid-way"
    _, stats = preprocess_dataset(ihc_dataset, OPS, out, workers=1, batch_size=3, progress=False)
    assert stats.skipped == len(done_before)
    assert stats.computed == 8 - len(done_before)
    for name, mtime in done_before.items():
        assert (markers / name).stat().st_mtime_ns == mtime, f"{name} was redone"
    preprocess_dataset(
        ihc_dataset, OPS, tmp_path / "clean", workers=1, batch_size=3, progress=False
    )
    assert _files(out) == _files(tmp_path / "clean")


def _mean_color_classifier(path: Path) -> None:
    """ONNX: global average pool of a 3×32×32 image → Gemm → Softmax (dark vs light)."""
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=0),
        helper.make_node("Gemm", ["m", "w", "b"], ["z"]),
        helper.make_node("Softmax", ["z"], ["y"], axis=1),
    ]
    w = np.array([[-1.0, 1.0]] * 3, np.float32) / 3
    graph = helper.make_graph(
        nodes,
        "mean_color",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        [
            onnx.numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
            onnx.numpy_helper.from_array(w * 20, "w"),
            onnx.numpy_helper.from_array(np.array([10.0, -10.0], np.float32) * 0.6, "b"),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)


def test_predict_writes_batches_and_summary(ihc_dataset, tmp_path):
    model = tmp_path / "clf.onnx"
    _mean_color_classifier(model)
    out = tmp_path / "pred"
    folder, stats = predict_dataset(
        model, ihc_dataset, out, workers=2, batch_size=4, size=(32, 32), progress=False
    )
    assert stats.samples == 24 and len(list(folder.glob("batch_*.npz"))) == 6
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0] == "index,location,predicted,score" and len(rows) == 25
    outputs = np.concatenate([np.load(p)["outputs"] for p in sorted(folder.glob("*.npz"))])
    assert outputs.shape == (24, 2)
    assert np.allclose(outputs.sum(1), 1, atol=1e-5)
    _, again = predict_dataset(model, ihc_dataset, out, workers=2, batch_size=4, size=(32, 32),
                               progress=False)  # fmt: skip
    assert again.computed == 0 and again.skipped == 6


def test_predict_bad_model_fails_in_the_driver(ihc_dataset, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(Exception, match="bad.onnx"):
        predict_dataset(bad, ihc_dataset, tmp_path / "p", progress=False)


def test_cli_preprocess_with_forked_workers_matches_single_process(ihc_dataset, tmp_path):
    """`deephealth preprocess` (no torch in the driver) forks its workers; same bytes as inline."""
    single = tmp_path / "single"
    preprocess_dataset(ihc_dataset, OPS, single, workers=1, batch_size=5, progress=False)
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "deephealth.cli", "preprocess", str(ihc_dataset), "--ops",
           OPS.replace("\n", "\\n"), "--out", str(out), "--workers", "2", "--batch-size", "5"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "24 images" in done.stdout
    assert _files(out) == _files(single)
    report = json.loads((out / "preprocess_report.json").read_text())
    assert report["workers"] == 2 and report["engine"] == "processes" and report["samples"] == 24


def _run_folder(root: Path) -> Path:
    """A run folder as `deephealth train` leaves it (config.json + model.onnx): the mean-colour
    classifier at input size 32x32, min-max normalized."""
    root.mkdir()
    _mean_color_classifier(root / "model.onnx")
    cfg = {"task": "classification", "model": "custom", "input_size": [32, 32],
           "normalize": "minmax", "seed": 0, "patch": {}}  # fmt: skip
    (root / "config.json").write_text(json.dumps(cfg))
    return root


def test_dask_predict_reads_through_the_training_path_and_equals_local_predict(
    ihc_dataset, tmp_path
):
    """Dask predictions equal inline ones bit for bit, and local `deephealth predict` on the
    same images (its resize + normalization) to float precision; both use the run's config."""
    from deephealth.pipelines.run import predict
    from deephealth.pipelines.stream import StreamingDataset

    run = _run_folder(tmp_path / "run")
    folder, stats = predict_dataset(run / "model.onnx", ihc_dataset, tmp_path / "dask",
                                    workers=1, scheduler="local", batch_size=5, split="test",
                                    progress=False)  # fmt: skip
    assert stats.engine == "dask" and stats.samples == 8
    data = [np.load(p) for p in sorted(folder.glob("*.npz"))]
    dask = dict(zip(np.concatenate([d["indices"] for d in data]),
                    np.concatenate([d["outputs"] for d in data])))  # fmt: skip
    inline, _ = predict_dataset(run / "model.onnx", ihc_dataset, tmp_path / "inline", workers=1,
                                batch_size=3, split="test", progress=False)  # fmt: skip
    data = [np.load(p) for p in sorted(inline.glob("*.npz"))]
    same = dict(zip(np.concatenate([d["indices"] for d in data]),
                    np.concatenate([d["outputs"] for d in data])))  # fmt: skip
    assert sorted(dask) == list(range(16, 24))
    assert all(np.array_equal(dask[i], same[i]) for i in dask)
    files = [ihc_dataset.parent / f"crop{i:02d}.png" for i in range(16, 24)]
    local = predict(run, files, tmp_path / "local")
    for i, record in zip(range(16, 24), local):
        np.testing.assert_allclose(dask[i], record["scores"], atol=1e-6)
    # the inputs are the training path's: StreamingDataset with the run's settings
    cfg = json.loads((run / "config.json").read_text())
    sd = StreamingDataset(ihc_dataset, {**cfg, "loader": {"workers": 1}}, ("test",))
    x = next(sd.batches("test", 8)).x
    assert x.shape == (8, 3, 32, 32) and float(x.min()) == 0.0 and float(x.max()) == 1.0
