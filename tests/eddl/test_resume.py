"""A training run killed with SIGKILL and resumed ends bit-identical to an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import deephealth.eddl as eddl

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from sklearn.datasets import load_digits
    import deephealth.eddl as eddl

    out, resume, slow = sys.argv[1], sys.argv[2], float(sys.argv[3])

    class Slow(eddl.Callback):
        def on_batch_end(self, run, batch):
            time.sleep(slow)

    d = load_digits()
    x = (d.data[:600] / 16.0).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[d.target[:600]]
    eddl.set_seed(7)
    in_ = eddl.Input([64])
    h = eddl.Dropout(eddl.ReLu(eddl.Dense(in_, 32)), 0.3)
    net = eddl.Model([in_], [eddl.Softmax(eddl.Dense(h, 10))])
    eddl.build(net, eddl.adam(0.01), ["sce"], ["accuracy"], eddl.CS_CPU(1))
    cbs = [Slow()] if slow else []
    kwargs = {}
    if resume != "-":
        kwargs["resume"] = resume
        cbs.append(eddl.JSONLogger(resume + "/events.jsonl"))
    eddl.fit(net, [x], [y], 20, 5, callbacks=cbs, verbose=0, **kwargs)
    eddl.save(net, out, "pt")
    """
)


def run(tmp_path, out, resume="-", slow=0.0, wait=True):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(script), str(out), str(resume), str(slow)]
    if wait:
        subprocess.run(cmd, check=True, env=env, timeout=240)
        return None
    return subprocess.Popen(cmd, env=env)


def load_weights(path):
    return list(torch.load(path, weights_only=True).values())


@pytest.mark.slow
def test_sigkilled_run_resumes_bit_identical(tmp_path):
    run(tmp_path, tmp_path / "ref.pt")
    ckpt = tmp_path / "ckpt"
    events = ckpt / "events.jsonl"
    proc = run(tmp_path, tmp_path / "never.pt", ckpt, slow=0.02, wait=False)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if events.is_file() and len(events.read_text().splitlines()) >= 2:
                break
            assert proc.poll() is None, "the training process ended before it was killed"
            time.sleep(0.05)
        time.sleep(0.2)  # well inside epoch 3
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "never.pt").exists()
    done = [json.loads(line)["epoch"] for line in events.read_text().splitlines()]
    assert done in ([1, 2], [1, 2, 3])  # at most one epoch lost
    run(tmp_path, tmp_path / "resumed.pt", ckpt)
    assert [json.loads(line)["epoch"] for line in events.read_text().splitlines()] == [
        1,
        2,
        3,
        4,
        5,
    ]
    ref, resumed = load_weights(tmp_path / "ref.pt"), load_weights(tmp_path / "resumed.pt")
    assert len(ref) == 4
    assert all(torch.equal(a, b) for a, b in zip(ref, resumed))


def test_resume_from_another_network_is_refused(tmp_path):
    import numpy as np

    x = np.zeros((4, 3), np.float32)
    in_ = eddl.Input([3])
    net = eddl.Model([in_], [eddl.Dense(in_, 2)])
    eddl.build(net, eddl.sgd(), ["mse"], ["mse"], eddl.CS_CPU(1))
    eddl.fit(net, [x], [np.zeros((4, 2), np.float32)], 2, 1, resume=tmp_path, verbose=0)
    assert (tmp_path / "checkpoint.pt").is_file()
    in_ = eddl.Input([3])  # a different architecture (names alone do not make one)
    other = eddl.Model([in_], [eddl.Dense(eddl.ReLu(eddl.Dense(in_, 4)), 2)])
    eddl.build(other, eddl.sgd(), ["mse"], ["mse"], eddl.CS_CPU(1))
    with pytest.raises(eddl.WeightFileError, match="written by a different network"):
        eddl.fit(other, [x], [np.zeros((4, 2), np.float32)], 2, 2, resume=tmp_path, verbose=0)
    (tmp_path / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(eddl.WeightFileError, match="cannot read checkpoint"):
        eddl.fit(net, [x], [np.zeros((4, 2), np.float32)], 2, 2, resume=tmp_path, verbose=0)


def test_checkpoint_every_n_epochs_and_resuming_a_finished_run(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=(20, 2)).astype(np.float32)
    in_ = eddl.Input([3])
    net = eddl.Model([in_], [eddl.Dense(in_, 2)])
    eddl.build(net, eddl.adam(0.01), ["mse"], ["mae"], eddl.CS_CPU(1))
    ckpt = eddl.ModelCheckpoint(tmp_path / "every2", every=2)
    eddl.fit(net, [x], [y], 5, 3, callbacks=[ckpt], verbose=0)
    data = torch.load(ckpt.path, weights_only=True)
    assert data["epoch"] == 3  # written at epochs 2 and 3 (the last one)
    with pytest.raises(ValueError, match="every >= 1"):
        eddl.ModelCheckpoint(tmp_path, every=0)
    hist = eddl.fit(net, [x], [y], 5, 3, resume=tmp_path / "run", verbose=0)
    weights = [p.detach().clone() for p in net.graph.parameters()]
    again = eddl.fit(net, [x], [y], 5, 3, resume=tmp_path / "run", verbose=0)
    assert [e["epoch"] for e in again] == [1, 2, 3] and again == hist
    assert all(torch.equal(a, b) for a, b in zip(weights, net.graph.parameters()))
