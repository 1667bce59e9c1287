"""pyeddl's recurrent form: one time step per Input, time-distributed layers, masks, states,
encoder-decoder training with teacher forcing and step-by-step decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from tests.eddl.test_layers_recurrent import _gru_ref, _lstm_ref, _weights

import deephealth.eddl as eddl
from deephealth.eddl.model import Model


def _forward(net: Model, *xs: torch.Tensor) -> torch.Tensor:
    net.graph.eval()
    with torch.no_grad():
        return net.graph(*xs)[0]


def test_steps_flow_through_dense_to_the_last_lstm_output():
    torch.manual_seed(0)
    x = eddl.Input([3])
    dense = eddl.Dense(x, 5)
    lstm = eddl.LSTM(eddl.ReLu(dense), 4)
    out = eddl.Dense(lstm, 2)
    assert (dense.output_shape, lstm.output_shape, out.output_shape) == ((5,), (4,), (2,))
    net = Model([x], [out])
    data = torch.randn(6, 7, 3)
    steps = torch.relu(data @ dense.module.weight.T + dense.module.bias)
    h = _lstm_ref(steps, *_weights(lstm.module.rnn))[:, -1]
    want = h @ out.module.weight.T + out.module.bias
    torch.testing.assert_close(_forward(net, data), want, atol=1e-5, rtol=1e-5)


def test_stacked_layers_read_every_step_and_bidirectional_concatenates():
    torch.manual_seed(1)
    x = eddl.Input([3])
    first = eddl.GRU(x, 4)
    second = eddl.LSTM(first, 3, bidirectional=True)
    assert first.output_shape == (4,) and second.output_shape == (6,)
    net = Model([x], [second])
    data = torch.randn(2, 5, 3)
    h1 = _gru_ref(data, *_weights(first.module.rnn))
    fwd = _lstm_ref(h1, *_weights(second.module.rnn))[:, -1]
    bwd = _lstm_ref(h1.flip(1), *_weights(second.module.rnn, "_reverse"))[:, -1]
    torch.testing.assert_close(_forward(net, data), torch.cat([fwd, bwd], 1), atol=1e-5, rtol=1e-5)


def _masked_ref(x: torch.Tensor, lstm) -> torch.Tensor:
    """EDDL's mask_zeros: at an all-zero step the state (and output) stays the previous one."""
    outs = []
    for row in x:
        h = c = torch.zeros(1, lstm.hidden_size)
        for step in row:
            if step.abs().sum() == 0:
                continue
            _, (h, c) = lstm(step.view(1, 1, -1), (h.unsqueeze(0), c.unsqueeze(0)))
            h, c = h[0], c[0]
        outs.append(h[0])
    return torch.stack(outs)


@pytest.mark.parametrize("holes", [False, True], ids=["padding-at-end", "zeros-anywhere"])
def test_mask_zeros_keeps_the_state_at_zero_steps(holes):
    torch.manual_seed(2)
    x = eddl.Input([1])
    emb = eddl.Embedding(x, 9, 1, 4, True)
    lstm = eddl.LSTM(emb, 5, True)
    net = Model([x], [lstm])
    eddl.build(net, eddl.sgd(0.1), ["mse"], ["mse"], eddl.CS_CPU())
    tokens = torch.tensor([[3, 1, 4, 1, 5, 0, 0], [2, 7, 1, 8, 2, 8, 1], [6, 0, 0, 0, 0, 0, 0]])
    if holes:
        tokens = torch.tensor([[3, 0, 4, 1, 0, 5, 0], [0, 0, 1, 8, 2, 8, 1], [6, 0, 0, 0, 0, 0, 2]])
    data = tokens.float().unsqueeze(-1)
    embedded = emb.module(data.reshape(-1, 1)).reshape(3, 7, 4)
    assert torch.all(embedded[tokens == 0] == 0)
    want = _masked_ref(embedded, lstm.module.rnn)
    torch.testing.assert_close(_forward(net, data), want, atol=1e-5, rtol=1e-5)
    unmasked = eddl.LSTM(eddl.Embedding(eddl.Input([1]), 9, 1, 4), 5)
    assert unmasked.params["mask_zeros"] is False


def test_initial_states_and_get_states():
    torch.manual_seed(3)
    x, s = eddl.Input([3]), eddl.States([2, 4])
    lstm = eddl.LSTM([x, s], 4)
    net = Model([x, s], [lstm])
    data, states = torch.randn(2, 5, 3), torch.randn(2, 2, 4)
    h0, c0 = states[:, 0].unsqueeze(0), states[:, 1].unsqueeze(0)
    out, (hn, cn) = lstm.module.rnn(data, (h0.contiguous(), c0.contiguous()))
    torch.testing.assert_close(_forward(net, data, states), out[:, -1])
    got = eddl.getStates(lstm)
    assert len(got) == 2
    torch.testing.assert_close(got[0].torch, hn[0])
    torch.testing.assert_close(got[1].torch, cn[0])
    # one step without a time axis (pyeddl's step-by-step decoder form)
    one = _forward(net, data[:, 0], states)
    torch.testing.assert_close(one, lstm.module.rnn(data[:, :1], (h0, c0))[0][:, 0])


def test_errors_name_the_eddl_form():
    with pytest.raises(ValueError, match="return_sequences is for the Keras form"):
        eddl.LSTM(eddl.Input([3]), 4, return_sequences=True)
    with pytest.raises(ValueError, match="recurrent layer"):
        eddl.GetStates(eddl.Dense(eddl.Input([3]), 2))
    with pytest.raises(ValueError, match="two dimensions"):
        eddl.States([4])
    with pytest.raises(ValueError, match="Input layer"):
        eddl.setDecoder(eddl.Dense(eddl.Input([3]), 2))
    with pytest.raises(Exception, match=r"initial states must have shape \(2, 4\)"):
        eddl.LSTM([eddl.Input([3]), eddl.States([1, 4])], 4)


def test_mnist_rnn_form_learns_digit_rows():
    """pyeddl's mnist_rnn.py on scikit-learn's 8x8 digits (rows as time steps)."""
    torch.manual_seed(0)
    d = load_digits()
    order = np.random.default_rng(0).permutation(len(d.target))
    x = (d.images[order] / 16.0).astype(np.float32)  # (N, 8 steps, 8 features)
    labels = d.target[order]
    y = np.eye(10, dtype=np.float32)[labels].reshape(-1, 1, 10)  # as pyeddl: (N, 1, 10)
    in_ = eddl.Input([8])
    layer = eddl.LeakyReLu(eddl.Dense(in_, 32))
    layer = eddl.L2(eddl.LSTM(layer, 128), 0.001)
    out = eddl.Softmax(eddl.Dense(layer, 10))
    net = eddl.Model([in_], [out])
    eddl.build(
        net, eddl.rmsprop(0.005), ["soft_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU()
    )
    eddl.fit(net, [x[:1400]], [y[:1400]], 50, 12)
    scores = eddl.evaluate(net, [x[1400:]], [y[1400:]], bs=100)
    assert scores["categorical_accuracy"] >= 0.9
    pred = eddl.predict(net, [x[1400:]])[0].numpy()
    assert pred.shape == (397, 10)
    assert (pred.argmax(1) == labels[1400:]).mean() == pytest.approx(scores["categorical_accuracy"])


def _seq2seq(vocab: int, units: int = 64) -> tuple[Model, object]:
    """pyeddl's machine-translation architecture (nlp_machine_translation.py)."""
    in_ = eddl.Input([1])
    emb = eddl.RandomUniform(eddl.Embedding(in_, vocab, 1, 16, True), -0.05, 0.05)
    enc = eddl.LSTM(emb, units, True)
    cps = eddl.GetStates(enc)
    ldin = eddl.Input([vocab])
    ld = eddl.ReduceArgMax(ldin, [0])
    ld = eddl.RandomUniform(eddl.Embedding(ld, vocab, 1, 16), -0.05, 0.05)
    dec = eddl.LSTM([ld, cps], units)
    out = eddl.Softmax(eddl.Dense(dec, vocab))
    eddl.setDecoder(ldin)
    return eddl.Model([in_], [out]), dec


def _reversal_data(n: int, vocab: int, steps: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    tokens = np.random.default_rng(seed).integers(1, vocab, size=(n, steps))
    return tokens.reshape(n, steps, 1).astype(np.float32), tokens[:, ::-1].copy()


def test_encoder_decoder_learns_sequence_reversal():
    torch.manual_seed(0)
    vocab, steps = 8, 6
    net, _ = _seq2seq(vocab)
    assert len(net.inputs) == 1 and len(net.decoder_inputs) == 1
    eddl.build(net, eddl.adam(0.01), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU())
    x, rev = _reversal_data(2400, vocab, steps, 0)
    y = np.eye(vocab, dtype=np.float32)[rev]  # (N, T, vocab) one-hot, as pyeddl
    eddl.fit(net, [x], [y], 64, 6)
    xt, revt = _reversal_data(300, vocab, steps, 1)
    pred = eddl.predict(net, [xt])[0].numpy()  # greedy, step by step, from a zero word
    assert pred.shape == (300, steps, vocab)
    assert (pred.argmax(-1) == revt).mean() >= 0.95
    # teacher-forced evaluation agrees with greedy decoding on well-learned data
    scores = eddl.evaluate(net, [xt], [np.eye(vocab, dtype=np.float32)[revt]], bs=100)
    assert scores["accuracy"] >= 0.95


def test_incremental_decoding_equals_the_teacher_forced_pass():
    torch.manual_seed(4)
    vocab = 6
    net, _ = _seq2seq(vocab, units=8)
    x, rev = _reversal_data(5, vocab, 4, 2)
    y = torch.nn.functional.one_hot(torch.from_numpy(rev), vocab).float()
    feed = torch.cat([torch.zeros(5, 1, vocab), y[:, :-1]], 1)
    xs = torch.from_numpy(x)
    full = _forward(net, xs, feed)
    cache: dict = {}
    steps = [net.graph(xs, feed[:, t : t + 1], cache=cache)[0] for t in range(4)]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="seq_len"):
        eddl.predict(net, [x])


def test_captioning_form_repeats_the_image_feature_at_every_step():
    """pyeddl's nlp_text_generation.py: Concat(word embedding, image feature) -> LSTM decoder."""
    torch.manual_seed(5)
    vocab, steps = 7, 5
    image = eddl.Input([1, 8, 8])
    feat = eddl.Reshape(eddl.GlobalAveragePool2D(eddl.ReLu(eddl.Conv2D(image, 4, [3, 3]))), [-1])
    ldecin = eddl.Input([vocab])
    ldec = eddl.Embedding(eddl.ReduceArgMax(ldecin, [0]), vocab, 1, 6, True)
    ldec = eddl.Concat([ldec, feat])
    lstm = eddl.LSTM(ldec, 16, True)
    out = eddl.Softmax(eddl.Dense(lstm, vocab))
    eddl.setDecoder(ldecin)
    net = eddl.Model([image], [out])
    eddl.build(net, eddl.adam(0.01), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU())
    # the caption is the image's brightness class repeated: learnable only from the feature
    imgs = np.random.default_rng(0).random((240, 1, 8, 8)).astype(np.float32)
    cls = np.arange(240) % (vocab - 1) + 1
    imgs *= cls[:, None, None, None] / vocab
    y = np.eye(vocab, dtype=np.float32)[np.repeat(cls[:, None], steps, 1)]
    eddl.fit(net, [imgs], [y], 24, 15)
    pred = eddl.predict(net, [imgs[:48]])[0].numpy()
    assert pred.shape == (48, steps, vocab)
    assert (pred.argmax(-1) == cls[:48, None]).mean() >= 0.8


def test_targets_of_k_steps_train_the_last_k_outputs_and_inner_layers_hold_their_values():
    """pyeddl's nlp_video_to_labels form: 10 input steps, targets of 7 steps -> the outputs of the
    last 7 steps (EDDL's Net::unroll_enc(inl, outl)); getOutput/getInput of an inner layer after
    fit/evaluate read the last batch (pyeddl's mnist_rnn prints them)."""
    torch.manual_seed(0)
    x = eddl.Input([3])
    act = eddl.LeakyReLu(eddl.Dense(x, 5))
    lstm = eddl.LSTM(act, 4)
    out = eddl.Dense(lstm, 2)
    net = Model([x], [out])
    eddl.build(net, eddl.adam(0.01), ["mse"], ["mse"], eddl.CS_CPU())
    data = torch.randn(8, 10, 3)
    target = torch.randn(8, 7, 2)
    eddl.fit(net, [data], [target], 4, 1, verbose=0)
    assert eddl.getInput(lstm).shape == [4, 10, 5]  # the LeakyReLu sequence of fit's last batch
    # the metric is over the last 7 steps: the same as computing them by hand
    got = eddl.evaluate(net, [data[4:]], [target[4:]], bs=4, verbose=0)["mse"]
    steps = eddl.getInput(lstm).numpy()  # now evaluate's batch
    np.testing.assert_allclose(
        steps,
        torch.nn.functional.leaky_relu(act.parents[0].module(data[4:]), 0.01).detach(),
        atol=1e-6,
    )
    with torch.no_grad():
        seq = _lstm_ref(torch.from_numpy(steps), *_weights(lstm.module.rnn))[:, -7:]
        want = seq @ out.module.weight.T + out.module.bias
    assert got == pytest.approx(float(((want - target[4:]) ** 2).mean()), rel=1e-4)
    assert eddl.getOutput(lstm).shape == [4, 4]  # the LSTM's last output (not the sequence)
    # prediction without targets gives the last step only
    assert eddl.predict(net, [data])[0].shape == [8, 2]


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_a_recurrent_parent_gives_its_states_as_eddl(kind):
    """EDDL's `LSTM([x, lstm], n)`: the layer starts from the other layer's final states (a GRU
    or an RNN after an LSTM takes its h), as pyeddl's `test_recurrent_layers` builds them."""
    torch.manual_seed(5)
    x = eddl.Input([3])
    enc = eddl.LSTM(x, 4)
    second = getattr(eddl, kind)([x, enc], 4)
    assert [p.kind for p in second.parents] == ["Input", "GetStates"]
    net = Model([x], [second])
    data = torch.randn(2, 5, 3)
    got = _forward(net, data)
    _, (h, c) = enc.module.rnn(data)
    start = (h, c) if kind == "LSTM" else h
    torch.testing.assert_close(got, second.module.rnn(data, start)[0][:, -1])


def test_a_recurrent_parent_with_too_few_states_is_refused():
    x = eddl.Input([3])
    with pytest.raises(Exception, match=r"LSTM starts from 2 states \(h, c\) but GRU layer"):
        eddl.LSTM([x, eddl.GRU(x, 4)], 4)
