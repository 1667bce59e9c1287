"""A signal_classification training stopped after its first epoch and resumed (``deephealth train
--resume``) ends bit-identical to an uninterrupted run with the same seed: the same weights in the
run checkpoint, the same loss history, epochs numbered on, the same test metrics."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

pytest.importorskip("pyedflib")

from deephealth.cli import main
from deephealth.pipelines.signals.run import train_signal, train_signal_run
from deephealth.pipelines.signals.synthetic import write_synthetic_dataset


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    root = tmp_path_factory.mktemp("eeg")
    write_synthetic_dataset(root, splits={"training": 1, "test": 1}, duration=240, fs=64,
                            channels=2, seizures_per_hour=30, seed=3)  # fmt: skip
    cfg = {"task": "signal_classification", "dataset": str(root / "dataset.yml"), "model": "cnn1d",
           "model_params": {"filters": 4}, "window": {"length": 2, "step": 1},
           "sampling": {"windows_per_epoch": 96}, "batch_size": 16, "epochs": 2, "seed": 5,
           "augmentations": {"training": "AugAmplitudeScale factor=[0.8,1.2]"},
           "computing_service": {"threads": 1}}  # fmt: skip
    path = root / "config.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _checkpoint(run):
    return torch.load(run / "checkpoint" / "checkpoint.pt", weights_only=True)


def test_stopped_signal_training_resumes_bit_identical(config, tmp_path):
    whole = train_signal(config, tmp_path / "whole")
    events: list[dict] = []
    first = train_signal_run(
        yaml.safe_load(config.read_text()),
        tmp_path / "cut",
        events.append,
        should_stop=lambda: True,
    )
    assert first["status"] == "stopped" and [h["epoch"] for h in first["history"]] == [1]
    assert _checkpoint(tmp_path / "cut")["epoch"] == 1
    assert main(["train", str(config), "--run-dir", str(tmp_path / "cut"), "--resume", "-q"]) == 0
    a, b = _checkpoint(tmp_path / "whole"), _checkpoint(tmp_path / "cut")
    assert a["epoch"] == b["epoch"] == 2
    for (name, x), y in zip(a["model"].items(), b["model"].values()):
        assert torch.equal(x, y), name
    assert [h["loss"] for h in a["history"]] == [h["loss"] for h in b["history"]]
    report = json.loads((tmp_path / "cut" / "report.json").read_text())
    assert report["run"]["resumed"] and report["run"]["epochs_done"] == 2
    assert [h["epoch"] for h in report["history"]] == [1, 2]
    assert [h["loss"] for h in report["history"]] == [h["loss"] for h in whole["history"]]
    assert report["test_metrics"]["scores"] == whole["test_metrics"]["scores"]
    # the events log of the run goes on: epoch 1 from the stopped session, epoch 2 after it
    logged = [json.loads(x) for x in (tmp_path / "cut" / "events.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in logged if e["type"] == "epoch"] == [1, 2]
