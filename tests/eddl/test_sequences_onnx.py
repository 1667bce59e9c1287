"""`save_net_to_onnx_file(net, path, seq_len)` for pyeddl's recurrent form: onnxruntime computes
what torch computes, and a new process imports the file back with the same outputs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import onnxruntime as ort
import torch

import deephealth.eddl as eddl
from deephealth.eddl.model import Model


def _torch(net: Model, *xs: np.ndarray) -> np.ndarray:
    net.graph.eval()
    with torch.no_grad():
        return net.graph(*[torch.from_numpy(x) for x in xs])[0].numpy()


def _ort(path, *xs: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, xs)))[0]


def _reimport(path, *xs: np.ndarray) -> np.ndarray:
    """Outputs of the file imported by a fresh interpreter (deephealth's runtime)."""
    np.savez(f"{path}.npz", *xs)
    code = textwrap.dedent(
        f"""
        import numpy as np, torch
        import deephealth.eddl as eddl
        net = eddl.import_net_from_onnx_file({str(path)!r})
        data = np.load({str(path)!r} + ".npz")
        xs = [torch.from_numpy(data[f"arr_{{i}}"]) for i in range(len(data.files))]
        net.graph.eval()
        with torch.no_grad():
            np.save({str(path)!r} + ".out.npy", net.graph(*xs)[0].numpy())
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    return np.load(f"{path}.out.npy")


def test_time_distributed_encoder_with_mask(tmp_path):
    torch.manual_seed(0)
    x = eddl.Input([1])
    emb = eddl.Embedding(x, 12, 1, 5, True)
    lstm = eddl.LSTM(eddl.Tanh(eddl.Dense(emb, 6)), 7, True)
    out = eddl.Softmax(eddl.Dense(eddl.GRU(lstm, 4), 3))
    net = Model([x], [out])
    tokens = np.array([[3, 1, 4, 1, 5, 9], [2, 6, 5, 0, 0, 0], [11, 0, 0, 0, 0, 0]])
    data = tokens[..., None].astype(np.float32)
    path = tmp_path / "enc.onnx"
    eddl.save_net_to_onnx_file(net, str(path), 6)
    want = _torch(net, data)
    np.testing.assert_allclose(_ort(path, data), want, atol=1e-5)
    np.testing.assert_array_equal(_reimport(path, data), want)


def test_encoder_decoder_teacher_forced_graph(tmp_path):
    torch.manual_seed(1)
    vocab, steps = 9, 5
    in_ = eddl.Input([1])
    enc = eddl.LSTM(eddl.Embedding(in_, vocab, 1, 4, True), 6, True)
    ldin = eddl.Input([vocab])
    ld = eddl.Embedding(eddl.ReduceArgMax(ldin, [0]), vocab, 1, 4)
    dec = eddl.LSTM([ld, eddl.GetStates(enc)], 6)
    out = eddl.Softmax(eddl.Dense(dec, vocab))
    eddl.setDecoder(ldin)
    net = eddl.Model([in_], [out])
    rng = np.random.default_rng(0)
    x = rng.integers(1, vocab, (4, steps, 1)).astype(np.float32)
    words = np.eye(vocab, dtype=np.float32)[rng.integers(0, vocab, (4, steps))]
    path = tmp_path / "seq2seq.onnx"
    eddl.save_net_to_onnx_file(net, str(path), steps)
    want = _torch(net, x, words)
    assert want.shape == (4, steps, vocab)
    np.testing.assert_allclose(_ort(path, x, words), want, atol=1e-5)
    np.testing.assert_array_equal(_reimport(path, x, words), want)


def test_gru_started_from_an_lstm_layer(tmp_path):
    """`GRU([x, lstm], n)` (EDDL reads the LSTM's h): onnxruntime and a new process agree."""
    torch.manual_seed(2)
    x = eddl.Input([3])
    enc = eddl.LSTM(x, 4)
    out = eddl.Dense(eddl.GRU([x, enc], 4), 2)
    net = eddl.Model([x], [out])
    data = np.random.default_rng(2).standard_normal((3, 6, 3)).astype(np.float32)
    path = tmp_path / "gru_from_lstm.onnx"
    eddl.save_net_to_onnx_file(net, str(path), 6)
    want = _torch(net, data)
    assert want.shape == (3, 2)
    np.testing.assert_allclose(_ort(path, data), want, atol=1e-5)
    np.testing.assert_array_equal(_reimport(path, data), want)
