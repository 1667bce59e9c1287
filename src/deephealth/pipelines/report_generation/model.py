"""The report generator: a zoo CNN encoder and an LSTM decoder, built with the EDDL API.

It is pyeddl's image-captioning network (`nlp_text_generation.py`): the decoder reads the
previous word (one-hot, `setDecoder`), embeds it (`mask_zeros`: the zero "start" word embeds to
zeros), concatenates the image feature at every step and runs an LSTM whose output at each step
predicts the next word. `eddl.fit` trains it with teacher forcing on one-hot reports
`(N, T, vocab)`; `greedy` and `beam_search` decode step by step (the encoder runs once, the LSTM
states carry over through the runtime's decoding cache).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import deephealth.eddl as eddl
from deephealth.eddl.model import Model
from deephealth.pipelines.report_generation.vocab import END, PAD


def build_captioner(
    vocab_size: int,
    image_shape: tuple[int, ...],
    backbone: str = "small",
    embedding: int = 32,
    units: int = 128,
    feature: int = 64,
) -> Model:
    """The encoder–decoder network (not built); its only input is the image.

    `backbone`: "small" (three Conv–BatchNorm–ReLU–MaxPool stages, the default) or a zoo model
    name whose feature extractor (`top=True`) is used ("lenet", "resnet18", ...).
    """
    from deephealth.eddl.zoo import build_model

    if backbone == "small":
        image_in = eddl.Input(list(image_shape))
        x = image_in
        for filters in (16, 32, 32):
            x = eddl.ReLu(eddl.BatchNormalization(eddl.Conv2D(x, filters, [3, 3]), True))
            x = eddl.MaxPool2D(x, [2, 2])
        features = eddl.Flatten(x)
    else:
        encoder = build_model(backbone, image_shape, 1, top=True)
        image_in, features = encoder.inputs[0], encoder.outputs[0]
    feat = eddl.ReLu(eddl.Dense(features, feature, name="image_projection"), name="image_feature")
    word_in = eddl.Input([vocab_size], name="previous_word")
    word = eddl.ReduceArgMax(word_in, [0])
    word = eddl.Embedding(word, vocab_size, 1, embedding, True, name="word_embedding")
    lstm = eddl.LSTM(eddl.Concat([word, feat]), units, True, name="decoder_lstm")
    out = eddl.Softmax(eddl.Dense(lstm, vocab_size, name="next_word"))
    eddl.setDecoder(word_in)
    return eddl.Model([image_in], [out], name="report_generator")


def one_hot(ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """(N, T) token indices -> (N, T, vocab) float32 one-hot rows (pyeddl's target form)."""
    return np.eye(vocab_size, dtype=np.float32)[ids]


def greedy(net: Model, images: np.ndarray, max_len: int, batch: int = 64) -> np.ndarray:
    """Token indices (N, max_len) of the greedy decoding (eddl.predict, step by step)."""
    probs = eddl.predict(net, [images], bs=batch, seq_len=max_len)[0].numpy()
    return probs.argmax(-1)


@torch.no_grad()
def beam_search(
    net: Model,
    images: np.ndarray,
    beam: int = 3,
    max_len: int = 30,
    min_len: int = 1,
    length_penalty: float = 0.0,
) -> np.ndarray:
    """Token indices (N, max_len) of the best beam per image (0-padded after `<end>`).

    Length control: at most `max_len` tokens; `<end>` is forbidden before `min_len` tokens; a
    finished hypothesis scores log-probability / length ** `length_penalty`.
    """
    st = net.train_state
    graph = st.graph if st is not None else net.graph
    graph.eval()
    device = next(graph.parameters()).device
    n, vocab = images.shape[0], int(net.outputs[0].output_shape[-1])
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).to(device)
    x = x.repeat_interleave(beam, 0)
    scores = torch.full((n, beam), -float("inf"), device=device)
    scores[:, 0] = 0.0
    tokens = torch.zeros(n, beam, max_len, dtype=torch.long, device=device)
    done = torch.zeros(n, beam, dtype=torch.bool, device=device)
    lengths = torch.zeros(n, beam, device=device)
    word = torch.zeros(n * beam, 1, vocab, device=device)
    cache: dict[Any, Any] = {}
    for t in range(max_len):
        logp = graph(x, word, cache=cache)[0].reshape(n, beam, vocab).clamp_min(1e-12).log()
        if t < min_len:
            logp[..., END] = -float("inf")
        logp[..., PAD] = -float("inf")
        # a finished beam continues with padding only, at no cost
        logp = torch.where(done[..., None], torch.full_like(logp, -float("inf")), logp)
        logp[..., PAD] = torch.where(done, 0.0, -float("inf"))
        total = (scores[..., None] + logp).reshape(n, beam * vocab)
        best, idx = total.topk(beam, dim=1)
        src, tok = idx // vocab, idx % vocab
        rows = (torch.arange(n, device=device)[:, None] * beam + src).reshape(-1)
        for key, value in cache.items():
            if isinstance(value, torch.Tensor):
                cache[key] = value.index_select(0, rows)
        tokens = tokens.gather(1, src[..., None].expand(-1, -1, max_len)).clone()
        tokens[..., t] = tok
        was_done = done.gather(1, src)
        lengths = lengths.gather(1, src) + (~was_done).float()
        done = was_done | (tok == END)
        scores = best
        word = torch.nn.functional.one_hot(tok.reshape(-1), vocab).float().view(n * beam, 1, vocab)
        if bool(done.all()):
            break
    final = scores / lengths.clamp_min(1) ** length_penalty
    pick = final.argmax(1)
    return tokens[torch.arange(n, device=device), pick].cpu().numpy()
