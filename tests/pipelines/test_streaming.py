"""The streaming data path of the pipelines against the former in-memory one: the same samples,
the same metrics for the same seed, per-batch scoring equal to whole-split scoring, the
preprocessing cache keyed by its text, and the one rule for the direction of a metric."""

import json

import numpy as np
import pytest
import yaml

from deephealth.eddl.training.callbacks import metric_mode
from deephealth.pipelines.config import load_config
from deephealth.pipelines.inmemory import in_memory, load_dataset
from deephealth.pipelines.run import make_task, train
from deephealth.pipelines.synthetic import generate_dataset


def _streamed(task, split):
    xs, ys = [], []
    for batch in task.data.batches(split, 7):
        xs.extend(batch.x)
        ys.extend(batch.y)
    return xs, ys


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
    return generate_dataset(
        tmp_path_factory.mktemp("vol"), "segmentation", n_patients=6, shape=(16, 20, 20), seed=3,
        split=(0.5, 0.25, 0.25),
    )  # fmt: skip


@pytest.mark.parametrize(
    "case", ["classification", "classification_resized", "segmentation", "volumes_resized"]
)
def test_streamed_samples_equal_the_in_memory_loader(case, lesion_set, nuclei_tiles, volumes):
    task_kind = "classification" if case.startswith("classification") else "segmentation"
    path = lesion_set if task_kind == "classification" else nuclei_tiles
    path = volumes if case == "volumes_resized" else path
    size = {"classification_resized": [24, 20], "volumes_resized": [10, 16, 18]}.get(case)
    cfg = load_config({"task": task_kind, "dataset": str(path), "input_size": size})
    task, _ = make_task(cfg)
    old = load_dataset(path, task_kind, size, "minmax")
    if task_kind == "segmentation":
        assert task.data.num_labels == old.num_labels
    for split, data in old.splits.items():
        xs, ys = _streamed(task, split)
        assert len(xs) == len(data.images) > 0
        for x, y, ref, target in zip(xs, ys, data.images, data.targets):
            np.testing.assert_array_equal(x, ref)
            if task_kind == "classification":
                assert int(np.argmax(y)) == target
            else:
                np.testing.assert_array_equal(y, target)


def test_regression_targets_and_scale_equal_the_in_memory_loader(tmp_path):
    from deephealth.pipelines.data import write_array

    rng = np.random.default_rng(0)
    images = []
    for i in range(6):
        write_array(tmp_path / f"x{i}.png", rng.integers(0, 255, (16, 12), dtype=np.uint8))
        write_array(tmp_path / f"y{i}.png", rng.integers(0, 200, (16, 12), dtype=np.uint8))
        images.append({"location": f"x{i}.png", "label": f"y{i}.png"})
    doc = {"name": "r", "classes": [], "images": images,
           "split": {"training": [0, 1, 2, 3], "test": [4, 5]}}  # fmt: skip
    # training first: the old loader took the scale from the first split of the file
    (tmp_path / "ds.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    cfg = load_config({"task": "regression", "dataset": str(tmp_path / "ds.yml"),
                       "input_size": [8, 10], "normalize": "zscore"})  # fmt: skip
    task, _ = make_task(cfg)
    old = load_dataset(tmp_path / "ds.yml", "regression", [8, 10], "zscore")
    assert task.data.target_scale == old.target_scale
    for split, data in old.splits.items():
        xs, ys = _streamed(task, split)
        for x, y, ref, target in zip(xs, ys, data.images, data.targets):
            np.testing.assert_array_equal(x, ref)
            np.testing.assert_array_equal(y, target)


def _without_times(result):
    return {k: v for k, v in result.items() if k != "split"}


@pytest.mark.parametrize("kind", ["classification", "segmentation_patches"])
def test_same_seed_same_metrics_streaming_and_in_memory(kind, lesion_set, nuclei_tiles, tmp_path):
    if kind == "classification":
        cfg = {"task": "classification", "dataset": str(lesion_set), "model": "lenet",
               "epochs": 2, "batch_size": 32,
               "augmentations": {"training": "AugMirror p=0.5"}}  # fmt: skip
    else:
        cfg = {"task": "segmentation", "dataset": str(nuclei_tiles), "epochs": 2, "batch_size": 8,
               "model_params": {"base_filters": 4, "depth": 2},
               "patch": {"size": [32, 32], "per_image": 2},
               "augmentations": {"training": "AugFlip p=0.5"}}  # fmt: skip
    cfg["computing_service"] = {"threads": 1}
    streamed = train(cfg, tmp_path / "stream")
    with in_memory():
        held = train(cfg, tmp_path / "memory")
    assert _without_times(streamed["metrics"]) == _without_times(held["metrics"])
    assert streamed["validation_metrics"] == held["validation_metrics"]


def test_scores_accumulated_per_batch_equal_the_whole_split(lesion_set, nuclei_tiles):
    """Metrics do not depend on how the split is cut into batches."""
    cfg = load_config({"task": "classification", "dataset": str(lesion_set)})
    task, _ = make_task(cfg)
    weights = np.random.default_rng(0).normal(size=(32 * 32, 3))

    def forward(x):
        z = x.reshape(len(x), -1) @ weights
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    one, whole = task.evaluate("test", forward, 1), task.evaluate("test", forward, 1000)
    assert one == whole and one["per_patient"]["patients"] > 0
    cfg = load_config({"task": "segmentation", "dataset": str(nuclei_tiles)})
    task, _ = make_task(cfg)

    def threshold(x):
        return (x > 0.3).astype(np.float32)

    one, whole = task.evaluate("test", threshold, 1), task.evaluate("test", threshold, 64)
    assert one == whole and one["cases"] == 10 and 0 < one["dice"] < 1


def test_preprocessing_cache_is_keyed_by_its_text(lesion_set, tmp_path):
    cache = tmp_path / "cache"
    base = {"task": "classification", "dataset": str(lesion_set), "loader": {"cache": str(cache)}}
    task, _ = make_task(load_config({**base, "input_size": [20, 20]}))
    cold = _streamed(task, "test")[0]
    folders = {p.name for p in cache.iterdir()}
    assert len(folders) == 1 and len(list(cache.glob("*/*.npy"))) == task.data.split_size("test")
    warm = _streamed(make_task(load_config({**base, "input_size": [20, 20]}))[0], "test")[0]
    plain = _streamed(
        make_task(load_config({**base, "input_size": [20, 20], "loader": {}}))[0], "test"
    )[0]
    for a, b, c in zip(cold, warm, plain):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    resized = _streamed(make_task(load_config({**base, "input_size": [16, 16]}))[0], "test")[0]
    assert resized[0].shape == (1, 16, 16)  # a changed preprocessing never reads stale entries
    assert len({p.name for p in cache.iterdir()}) == 2


def test_held_samples_are_bounded_least_recently_used_and_read_only():
    from deephealth.ecvl.dataset.cache import HeldSamples

    held, calls = HeldSamples(3 * 400), []

    def compute(k):
        calls.append(k)
        return np.full(100, k, np.float32), None  # 400 bytes

    for k in (0, 1, 2, 0, 3):  # 3 evicts 1 (0 was used again)
        x, _ = held.get(k, lambda k=k: compute(k))
        assert x[0] == k and not x.flags.writeable
    assert calls == [0, 1, 2, 3] and held.bytes == 1200 and (held.hits, held.misses) == (1, 4)
    held.get(1, lambda: compute(1))
    assert calls[-1] == 1 and held.bytes == 1200  # 1 was dropped, and now 2 is
    big, _ = held.get(9, lambda: (np.zeros(1000, np.float32), None))  # over the bound: not held
    assert big.nbytes == 4000 and held.bytes == 1200


def test_3d_patches_reuse_held_volumes_with_the_same_result(volumes, tmp_path):
    """One decode serves every patch of a held volume; the batches and a training's metrics equal
    those of `hold_mb: 0` (every patch decodes its volume again)."""
    base = {"task": "segmentation", "dataset": str(volumes), "batch_size": 4, "epochs": 1,
            "model_params": {"base_filters": 4, "depth": 2}, "seed": 1,
            "patch": {"size": [8, 16, 16], "per_image": 3},
            "computing_service": {"threads": 1}}  # fmt: skip
    runs = {}
    for hold in (64, 0):
        cfg = load_config({**base, "loader": {"hold_mb": hold}})
        task, _ = make_task(cfg)
        indices = task.data.splits["training"]
        jobs = [(i, k) for k in range(3) for i in indices]  # 3 patches per volume
        got = [(b.x, b.y) for b in task.data.batches("training", 4, jobs, augment=True)]
        held = task.data.ds.held_
        if hold:
            assert (held.misses, held.hits) == (len(indices), 2 * len(indices))
        else:
            assert held is None
        runs[hold] = got, train(cfg, tmp_path / str(hold))
    for (xa, ya), (xb, yb) in zip(runs[64][0], runs[0][0]):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert _without_times(runs[64][1]["metrics"]) == _without_times(runs[0][1]["metrics"])


def test_one_rule_for_the_direction_of_a_metric():
    for name in ("auc", "roc_auc", "dice", "iou", "accuracy", "sensitivity", "specificity", "f1",
                 "val_dice", "categorical_accuracy"):  # fmt: skip
        assert metric_mode(name) == "max", name
    for name in ("loss", "val_loss", "mse", "mae", "error_rate", "hausdorff95"):
        assert metric_mode(name) == "min", name
    with pytest.raises(ValueError, match="unknown direction for metric 'val_kappa'"):
        metric_mode("val_kappa")
    assert metric_mode("kappa", "max") == "max"


_CHILD = """
import json, os, sys, time
from deephealth.pipelines.run import train

cfg, run_dir, mode = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]

def on_event(e):  # park the first run in epoch 2, after a mid-epoch checkpoint
    if mode == "park" and e["type"] == "batch" and e["epoch"] == 2 and e["batch"] >= 3:
        open(os.path.join(run_dir, "parked"), "w").close()
        time.sleep(600)

train(cfg, run_dir, on_event=on_event, resume=(mode == "resume"))
"""


def _child(tmp_path, cfg, run_dir, mode):
    import json
    import os
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, str(script), json.dumps(cfg), str(run_dir), mode]
    return subprocess.Popen(args, env=env)


@pytest.mark.slow
def test_sigkilled_run_resumes_mid_epoch_bit_identical(lesion_set, tmp_path):
    import signal
    import time

    import torch

    cfg = {"task": "classification", "dataset": str(lesion_set), "model": "lenet", "epochs": 2,
           "batch_size": 16, "computing_service": {"threads": 1}, "loader": {"workers": 2},
           "checkpoint": {"every_batches": 2}, "augmentations": {"training": "AugMirror p=0.5"}}  # fmt: skip
    whole = _child(tmp_path, cfg, tmp_path / "whole", "plain")
    killed = _child(tmp_path, cfg, tmp_path / "killed", "park")
    deadline = time.monotonic() + 300
    while not (tmp_path / "killed" / "parked").exists():
        assert killed.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    ckpt = torch.load(tmp_path / "killed/checkpoint/checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["batch"] >= 2 and ckpt["loader"]["position"] == ckpt["batch"]
    assert _child(tmp_path, cfg, tmp_path / "killed", "resume").wait() == 0
    assert whole.wait() == 0
    a = torch.load(tmp_path / "whole/checkpoint/checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "killed/checkpoint/checkpoint.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2 and b["batch"] == 0
    for (name, x), y in zip(a["model"].items(), b["model"].values()):
        assert torch.equal(x, y), name
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    ra = json.loads((tmp_path / "whole/result.json").read_text())
    rb = json.loads((tmp_path / "killed/result.json").read_text())
    assert ra["metrics"] == rb["metrics"] and ra["best_epoch"] == rb["best_epoch"]


_MEMORY_CHILD = """
import json, os, sys, threading, time

def rss_mb(field="VmRSS"):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0

cfg, run_dir, ceiling, mode = json.loads(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]

def watch():  # the ceiling, enforced: the process dies the moment its RSS crosses it
    while True:
        if ceiling and rss_mb() > ceiling:
            os._exit(86)
        time.sleep(0.01)

threading.Thread(target=watch, daemon=True).start()
from deephealth.pipelines.inmemory import in_memory
from deephealth.pipelines.run import train
if mode == "memory":
    with in_memory():
        train(cfg, run_dir)
else:
    train(cfg, run_dir)
# VmHWM is this process image's own high-water mark; ru_maxrss would inherit the peak of the
# (large) pytest parent through fork + exec
peak = rss_mb("VmHWM")
if ceiling and peak > ceiling:  # a peak between two samples of the watcher counts too
    os._exit(86)
print(json.dumps({"peak": peak}))
"""


def _png_dataset(root, n_test):
    """500 training, 250 validation and `n_test` test RGB 64x64 PNGs (noise, two classes)."""
    import cv2

    (root / "img").mkdir(parents=True)
    rng = np.random.default_rng(0)
    n = 750 + n_test
    images = []
    for i in range(n):
        cv2.imwrite(
            str(root / f"img/{i}.png"),
            (rng.random((64, 64, 3)) * (80 + 120 * (i % 2))).astype(np.uint8),
        )
        images.append({"location": f"img/{i}.png", "label": i % 2})
    doc = {"name": "mem", "classes": ["dim", "bright"], "images": images,
           "split": {"training": list(range(500)), "validation": list(range(500, 750)),
                     "test": list(range(750, n))}}  # fmt: skip
    (root / "ds.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root / "ds.yml"


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ~1.5 min on 2 idle cores; three fresh processes
def test_memory_does_not_grow_with_the_dataset(tmp_path):
    """5,000 PNGs stream under a ceiling set by a 1,000-image run (+15 %); the former in-memory
    path (every split decoded into float32 arrays first) crosses it and is killed."""
    import os
    import subprocess
    import sys

    script = tmp_path / "child.py"
    script.write_text(_MEMORY_CHILD)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(dataset, name, ceiling, mode):
        cfg = {"task": "classification", "dataset": str(dataset), "model": "lenet", "epochs": 1,
               "batch_size": 32, "computing_service": {"threads": 1}}  # fmt: skip
        args = [sys.executable, str(script), json.dumps(cfg), str(tmp_path / name), str(ceiling)]
        done = subprocess.run([*args, mode], env=env, capture_output=True, text=True)
        peak = json.loads(done.stdout.splitlines()[-1])["peak"] if done.returncode == 0 else None
        return done.returncode, peak

    small = _png_dataset(tmp_path / "small", 250)  # 1,000 images
    large = _png_dataset(tmp_path / "large", 4250)  # 5,000 images: +49 KB each in float32
    code, small_peak = run(small, "small", 0, "stream")
    assert code == 0
    ceiling = small_peak * 1.15
    code, large_peak = run(large, "large", ceiling, "stream")
    assert code == 0 and large_peak < ceiling, (small_peak, large_peak)
    code, _ = run(large, "memory", ceiling, "memory")
    assert code == 86, f"the in-memory path stayed under the ceiling ({small_peak=}, {large_peak=})"
