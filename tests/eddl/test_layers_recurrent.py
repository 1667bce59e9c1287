"""Recurrent layers against step-by-step references written with plain tensor algebra."""

from __future__ import annotations

import pytest
import torch
from tests.eddl.layer_cases import run_graph

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import ShapeError


def _lstm_ref(x, w_ih, w_hh, b_ih, b_hh):
    """Outputs of one LSTM direction over (N, T, F); torch's gate order i, f, g, o."""
    n, t, _ = x.shape
    hsz = w_hh.shape[1]
    h, c = torch.zeros(n, hsz), torch.zeros(n, hsz)
    outs = []
    for s in range(t):
        z = x[:, s] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, g, o = z.split(hsz, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs, 1)


def _gru_ref(x, w_ih, w_hh, b_ih, b_hh):
    n, t, _ = x.shape
    hsz = w_hh.shape[1]
    h = torch.zeros(n, hsz)
    outs = []
    for s in range(t):
        gi = x[:, s] @ w_ih.T + b_ih
        gh = h @ w_hh.T + b_hh
        ir, iz, inn = gi.split(hsz, 1)
        hr, hz, hn = gh.split(hsz, 1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        nn_ = torch.tanh(inn + r * hn)
        h = (1 - z) * nn_ + z * h
        outs.append(h)
    return torch.stack(outs, 1)


def _rnn_ref(x, w_ih, w_hh, b_ih, b_hh, act=torch.tanh):
    n, t, _ = x.shape
    h = torch.zeros(n, w_hh.shape[1])
    outs = []
    for s in range(t):
        h = act(x[:, s] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        outs.append(h)
    return torch.stack(outs, 1)


def _weights(rnn, suffix=""):
    return [
        getattr(rnn, f"{k}_l0{suffix}").detach()
        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]


@pytest.mark.parametrize(
    "ctor, ref",
    [(eddl.LSTM, _lstm_ref), (eddl.GRU, _gru_ref), (eddl.RNN, _rnn_ref)],
)
def test_last_step_and_sequence(ctor, ref):
    torch.manual_seed(0)
    x = eddl.Input([6, 3])
    layer = ctor(x, 4)
    data = torch.randn(2, 6, 3)
    expected = ref(data, *_weights(layer.module.rnn))
    assert layer.output_shape == (4,)
    torch.testing.assert_close(run_graph([x], layer, data), expected[:, -1], atol=1e-5, rtol=1e-5)
    seq = ctor(x, 4, return_sequences=True)
    assert seq.output_shape == (6, 4)
    expected = ref(data, *_weights(seq.module.rnn))
    torch.testing.assert_close(run_graph([x], seq, data), expected, atol=1e-5, rtol=1e-5)


def test_rnn_relu():
    x = eddl.Input([5, 2])
    layer = eddl.RNN(x, 3, "relu")
    data = torch.randn(2, 5, 2)
    expected = _rnn_ref(data, *_weights(layer.module.rnn), act=torch.relu)[:, -1]
    torch.testing.assert_close(run_graph([x], layer, data), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="activation"):
        eddl.RNN(x, 3, "sigmoid")


def test_bidirectional_concatenates_final_states():
    torch.manual_seed(1)
    x = eddl.Input([5, 3])
    layer = eddl.LSTM(x, 4, bidirectional=True)
    assert layer.output_shape == (8,)
    data = torch.randn(2, 5, 3)
    fwd = _lstm_ref(data, *_weights(layer.module.rnn))
    bwd = _lstm_ref(data.flip(1), *_weights(layer.module.rnn, "_reverse"))
    expected = torch.cat([fwd[:, -1], bwd[:, -1]], 1)  # backward state after reading all steps
    torch.testing.assert_close(run_graph([x], layer, data), expected, atol=1e-5, rtol=1e-5)
    seq = eddl.GRU(x, 2, False, True, return_sequences=True)
    assert seq.output_shape == (5, 4)


def test_stacking_feeds_every_step():
    x = eddl.Input([7, 3])
    first = eddl.LSTM(x, 4)
    assert first.output_shape == (4,)
    second = eddl.LSTM(first, 5)
    assert first.output_shape == (7, 4) and first.params["return_sequences"]
    assert second.output_shape == (5,)
    data = torch.randn(2, 7, 3)
    h1 = _lstm_ref(data, *_weights(first.module.rnn))
    expected = _lstm_ref(h1, *_weights(second.module.rnn))[:, -1]
    torch.testing.assert_close(run_graph([x], second, data), expected, atol=1e-5, rtol=1e-5)


def test_embedding_lstm_classifier_shapes_and_errors():
    x = eddl.Input([10])
    out = eddl.Softmax(eddl.Dense(eddl.LSTM(eddl.Embedding(x, 20, 10, 8), 16), 2))
    data = torch.randint(0, 20, (3, 10)).float()
    assert run_graph([x], out, data).shape == (3, 2)
    assert eddl.LSTM(eddl.Input([10]), 4).output_shape == (4,)  # pyeddl's form: one step
    with pytest.raises(ShapeError, match=r"Reshape"):
        eddl.LSTM(eddl.Input([3, 10, 2]), 4)
    with pytest.raises(ValueError, match="units"):
        eddl.GRU(eddl.Input([4, 2]), 0)
