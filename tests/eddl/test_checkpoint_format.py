"""One checkpoint format: run checkpoints and ONNX side files share their keys, a new process reads
both with plain `torch.load(weights_only=True)`, files of the first version still load, and no
module imports another package's private names."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import deephealth.eddl as eddl
from deephealth.eddl.training.checkpoint import FORMAT, read_checkpoint

COMMON = {"format", "version", "epoch", "optimizer", "optimizer_state", "scaler", "history"}
RUN_ONLY = {"layers", "model", "generator", "rng", "callbacks", "batch", "accumulators", "loader"}

READ = """
import json, sys, torch
out = {}
for path in sys.argv[1:]:
    data = torch.load(path, weights_only=True)
    out[path] = {"keys": sorted(data), "format": data["format"], "epoch": data["epoch"],
                 "optimizer": data["optimizer"]["name"]}
print(json.dumps(out))
"""


def _net() -> eddl.Model:
    x = eddl.Input([4], name="x")
    net = eddl.Model([x], [eddl.Softmax(eddl.Dense(x, 2, name="fc"), name="p")], "tiny")
    eddl.build(net, eddl.adam(0.01), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU())
    return net


def test_run_and_side_checkpoints_share_one_format(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = _net()
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x[:, 0] > 0).astype(int)]
    eddl.fit(net, x, y, batch=8, epochs=2, verbose=0, resume=tmp_path / "run")
    eddl.save_net_to_onnx_file(net, tmp_path / "tiny.onnx")
    run, side = tmp_path / "run" / "checkpoint.pt", tmp_path / "tiny.onnx.ckpt"
    proc = subprocess.run(
        [sys.executable, "-c", READ, str(run), str(side)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert set(got[str(run)]["keys"]) == COMMON | RUN_ONLY
    assert set(got[str(side)]["keys"]) == COMMON
    for entry in got.values():
        assert entry["format"] == FORMAT and entry["epoch"] == 2 and entry["optimizer"] == "adam"


def test_first_version_files_still_load(tmp_path: Path) -> None:
    net = _net()
    state = net.train_state.optimizer.state_dict()
    side = {
        "format": 1,
        "optimizer": {"name": "adam", "params": {"lr": 0.5}},
        "optimizer_state": state,
        "history": [{"epoch": 1}],
        "epoch": 1,
    }
    torch.save(side, tmp_path / "old.onnx.ckpt")
    assert read_checkpoint(tmp_path / "old.onnx.ckpt")["optimizer"]["params"] == {"lr": 0.5}
    run = {"format": FORMAT, "version": 1, "epoch": 3, "optimizer": state}
    torch.save(run, tmp_path / "old.pt")
    data = read_checkpoint(tmp_path / "old.pt")
    assert data["optimizer_state"] == state and data["optimizer"] is None
    torch.save({"format": "other"}, tmp_path / "foreign.pt")
    with pytest.raises(eddl.CheckpointError, match="not a deephealth EDDL checkpoint"):
        read_checkpoint(tmp_path / "foreign.pt")
    assert eddl.WeightFileError is eddl.CheckpointError


def test_no_private_tensor_name_is_imported_elsewhere() -> None:
    """The checkpoint and weight-file code reads EDDL's `.bin` layout through public names."""
    src = Path(__file__).resolve().parents[2] / "src"
    bad = []
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "deephealth.eddl.tensor":
                bad += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert bad == []
