"""CS_GPU end to end: training quality, CPU/GPU agreement, mixed precision, moves, ONNX, resume.

Skipped without CUDA (CI has no GPU); `bench/gpu_check.py` and these tests are what a GPU machine
runs. Data: scikit-learn's bundled digits (real handwritten digits, 8×8).
"""

import numpy as np
import onnxruntime as ort
import pytest
import torch
from sklearn.datasets import load_digits

import deephealth.eddl as eddl
from deephealth.eddl.training.state import get_state

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def exact_fp32():
    """fp32 on the GPU without TF32, so GPU and CPU results agree to float32 rounding."""
    matmul = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        yield
    torch.backends.cuda.matmul.allow_tf32 = matmul


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = np.eye(10, dtype=np.float32)[d.target]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    return x[:1350], y[:1350], x[1350:], y[1350:]


def cnn():
    in_ = eddl.Input([1, 8, 8])
    x = eddl.ReLu(eddl.BatchNormalization(eddl.Conv2D(in_, 16, [3, 3]), True))
    x = eddl.MaxPool2D(eddl.ReLu(eddl.Conv2D(x, 32, [3, 3])), [2, 2])
    return eddl.Model([in_], [eddl.Softmax(eddl.Dense(eddl.Flatten(x), 10))])


def built(cs, seed=0):
    eddl.set_seed(seed)
    net = cnn()
    eddl.build(net, eddl.adam(0.005), ["softmax_cross_entropy"], ["categorical_accuracy"], cs)
    return net


@pytest.mark.parametrize("precision", [None, "bf16", "fp16"])
def test_gpu_training_reaches_95_percent_on_digits(digits, precision):
    xtr, ytr, xte, yte = digits
    net = built(eddl.CS_GPU([1], precision=precision))
    assert get_state(net).device.type == "cuda"
    if precision == "fp16":
        assert get_state(net).scaler is not None  # fp16 trains with a gradient scaler
    eddl.fit(net, [xtr], [ytr], 64, 8, verbose=0)
    eddl.evaluate(net, [xte], [yte], bs=128)
    assert eddl.get_metrics(net)[0] >= 0.95


def test_cpu_and_gpu_agree_in_fp32(digits):
    xtr, ytr, _, _ = digits
    outs, losses = [], []
    for cs in (eddl.CS_CPU(), eddl.CS_GPU([1])):
        net = built(cs)
        outs.append(np.array(eddl.predict(net, [xtr[:64]])[0].getdata()))
        eddl.fit(net, [xtr[:512]], [ytr[:512]], 64, 1, shuffle=False, verbose=0)
        losses.append(eddl.get_losses(net)[0])
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-4)
    assert abs(losses[0] - losses[1]) < 1e-3


def test_moves_between_devices_keep_weights_and_training_continues(digits):
    xtr, ytr, xte, _ = digits
    net = built(eddl.CS_GPU([1]))
    eddl.fit(net, [xtr], [ytr], 64, 2, verbose=0)
    on_gpu = np.array(eddl.predict(net, [xte])[0].getdata())
    eddl.toCPU(net)
    assert get_state(net).device.type == "cpu"
    np.testing.assert_allclose(np.array(eddl.predict(net, [xte])[0].getdata()), on_gpu, atol=1e-5)
    eddl.toGPU(net, [1])
    assert get_state(net).device.type == "cuda"
    eddl.fit(net, [xtr], [ytr], 64, 1, verbose=0)  # the optimizer state moved too
    assert np.isfinite(eddl.get_losses(net)[0])


def test_gpu_trained_model_exports_to_onnx_and_onnxruntime_agrees(digits, tmp_path):
    xtr, ytr, xte, _ = digits
    net = built(eddl.CS_GPU([1]))
    eddl.fit(net, [xtr], [ytr], 64, 2, verbose=0)
    expected = np.array(eddl.predict(net, [xte])[0].getdata())
    path = tmp_path / "digits.onnx"
    eddl.save_net_to_onnx_file(net, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: xte})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)
    back = eddl.import_net_from_onnx_file(str(path))
    eddl.build(back, eddl.adam(0.005), ["softmax_cross_entropy"], ["categorical_accuracy"],
               eddl.CS_GPU([1]), init_weights=False)  # fmt: skip
    np.testing.assert_allclose(
        np.array(eddl.predict(back, [xte])[0].getdata()), expected, atol=1e-5
    )


def test_gpu_resume_matches_an_uninterrupted_run(digits, tmp_path):
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True):
        _resume_matches(digits, tmp_path)


def _resume_matches(digits, tmp_path):
    xtr, ytr, xte, _ = digits
    whole = built(eddl.CS_GPU([1]))
    eddl.fit(whole, [xtr], [ytr], 64, 3, seed=7, verbose=0)
    part = built(eddl.CS_GPU([1]))
    eddl.fit(part, [xtr], [ytr], 64, 2, seed=7, resume=tmp_path, verbose=0)
    resumed = built(eddl.CS_GPU([1]))
    eddl.fit(resumed, [xtr], [ytr], 64, 3, seed=7, resume=tmp_path, verbose=0)
    a = np.array(eddl.predict(whole, [xte])[0].getdata())
    b = np.array(eddl.predict(resumed, [xte])[0].getdata())
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_pinned_staging_sends_the_right_rows_and_reuses_its_buffers():
    from deephealth.eddl.training.staging import PinnedStaging

    x = torch.arange(40 * 3, dtype=torch.float32).reshape(40, 3)
    y = torch.arange(40)
    staging = PinnedStaging(torch.device("cuda"))
    order = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    for lo in range(0, 40, 16):  # batches of 16, 16 and 8 rows
        idx = order[lo : lo + 16]
        gx, gy = staging.next_batch([x, y], idx)
        assert gx.is_cuda and gy.is_cuda
        assert torch.equal(gx.cpu(), x[idx]) and torch.equal(gy.cpu(), y[idx])
    assert len(staging.buffers) == 4  # two inputs x two alternating slots
    assert all(buf.is_pinned() for buf, _ in staging.buffers.values())
