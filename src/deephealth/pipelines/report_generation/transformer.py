"""The Transformer report generator: a CNN encoder's feature map attended by a Transformer decoder.

The encoder is the LSTM variant's (`model.py`): a small Conv-BN stack or a zoo feature extractor;
its last feature map `(C, h, w)` becomes `h * w` positions (`Reshape`, `Permute`), projected to
`d_model` with a learned position embedding: the decoder's *memory*. The decoder reads the prefix
of the report as token indices `(T,)` (the start token 0, then the words so far: teacher forcing
in training), embeds them with a position embedding, and runs `layers` post-norm blocks (causal
self-attention, cross-attention to the memory, feed-forward; each with a residual and
`LayerNormalization(axis=-1)`). Its output `(T, vocab)` gives at position t the next word after
the t first words; causal attention makes it independent of the tokens after t, so a zero-padded
prefix decodes exactly, one step at a time (no KV-cache: each step recomputes the prefix).

`split(net)` gives the encoder (image -> memory) and the decoder step (prefix, memory -> probs)
as two models (the step's weights copied from the trained net), what greedy/beam search in torch
and the ONNX export for serving use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.model import Model
from deephealth.serving.reports import beam_search_steps, shifted_prefix

MEMORY = "memory"
PREFIX = "prefix"


def _encoder(image_shape: Sequence[int], backbone: str, d_model: int) -> tuple[Layer, Layer]:
    """(image input, memory (h * w, d_model))."""
    from deephealth.eddl.zoo import build_model

    if backbone == "small":
        image_in = eddl.Input(list(image_shape))
        x = image_in
        for filters in (16, 32, 32):
            x = eddl.ReLu(eddl.BatchNormalization(eddl.Conv2D(x, filters, [3, 3]), True))
            x = eddl.MaxPool2D(x, [2, 2])
    else:
        net = build_model(backbone, tuple(image_shape), 1, top=True)
        image_in, x = net.inputs[0], net.outputs[0]
    shape = x.output_shape
    if len(shape) == 1:
        x = eddl.Reshape(x, [1, shape[0]])
    else:
        x = eddl.Permute(eddl.Reshape(x, [shape[0], -1]), [1, 0])
    x = eddl.Dense(x, d_model, name="memory_projection")
    return image_in, eddl.PositionalEmbedding(x, name=MEMORY)


def _decoder(
    prefix: Layer, memory: Layer, vocab_size: int, d_model: int, heads: int, layers: int, ff: int
) -> Layer:
    """The decoder blocks on `prefix` (T,) token indices and `memory`; (T, vocab) probabilities."""
    t = int(prefix.output_shape[0])
    x = eddl.Embedding(prefix, vocab_size, t, d_model, name="dec_embedding")
    x = eddl.PositionalEmbedding(x, name="dec_positions")

    def block(x: Layer, y: Layer, name: str) -> Layer:
        return eddl.LayerNormalization(eddl.Add(x, y), axis=-1, name=f"{name}_norm")

    for i in range(layers):
        att = eddl.MultiHeadAttention(x, num_heads=heads, causal=True, name=f"dec{i}_self")
        x = block(x, att, f"dec{i}_self")
        cross = eddl.MultiHeadAttention(x, memory, num_heads=heads, name=f"dec{i}_cross")
        x = block(x, cross, f"dec{i}_cross")
        hidden = eddl.ReLu(eddl.Dense(x, ff, name=f"dec{i}_ff1"))
        x = block(x, eddl.Dense(hidden, d_model, name=f"dec{i}_ff2"), f"dec{i}_ff")
    return eddl.Softmax(eddl.Dense(x, vocab_size, name="next_word"), name="probs")


def build_transformer_captioner(
    vocab_size: int,
    image_shape: tuple[int, ...],
    max_len: int,
    backbone: str = "small",
    d_model: int = 64,
    heads: int = 4,
    layers: int = 2,
    ff: int = 128,
) -> Model:
    """The network (not built): inputs image and prefix `(max_len,)`, output `(max_len, vocab)`."""
    image_in, memory = _encoder(image_shape, backbone, d_model)
    prefix = eddl.Input([max_len], name=PREFIX)
    out = _decoder(prefix, memory, vocab_size, d_model, heads, layers, ff)
    return eddl.Model([image_in, prefix], [out], name="report_transformer")


def is_transformer(net: Model) -> bool:
    """Whether a report generator is this module's (inputs image and prefix)."""
    return len(net.inputs) == 2 and net.inputs[1].name == PREFIX


def teacher_prefix(ids: np.ndarray) -> np.ndarray:
    """The decoder input for target tokens (N, T): the start token 0, then ids[:, :-1]."""
    return shifted_prefix(ids, ids.shape[1] - 1, ids.shape[1])


def split(net: Model) -> tuple[Model, Model]:
    """(encoder: image -> memory, decoder step: prefix + memory -> probabilities); the step is a
    new graph whose weights are copied from `net` (layer by layer, same names)."""
    memory = net.layer(MEMORY)
    encoder = Model([net.inputs[0]], [memory], name="report_encoder")
    prefix = eddl.Input(list(net.inputs[1].output_shape), name=PREFIX)
    memory_in = eddl.Input(list(memory.output_shape), name=MEMORY)
    first = net.layer("dec0_self")
    cfg = {
        "vocab_size": int(net.outputs[0].output_shape[-1]),
        "d_model": int(memory.output_shape[-1]),
        "heads": int(first.params["num_heads"]),
        "layers": sum(1 for layer in net.layers if layer.name.endswith("_self")),
        "ff": int(net.layer("dec0_ff1").output_shape[-1]),
    }
    out = _decoder(prefix, memory_in, **cfg)
    step = Model([prefix, memory_in], [out], name="decoder_step")
    for layer in step.layers:
        if layer.module is not None and layer.kind != "Input":
            eddl.copyParam(net.layer(layer.name), layer)
    return encoder, step


@torch.no_grad()
def beam_search(
    net: Model,
    images: np.ndarray,
    beam: int = 3,
    max_len: int | None = None,
    min_len: int = 1,
    length_penalty: float = 0.0,
) -> np.ndarray:
    """Token indices (N, max_len) of the best beam per image: the torch encoder and decoder
    step under the serving path's numpy search (`serving.reports.beam_search_steps`), so the two
    differ only in what computes the probabilities. `beam=1` is greedy decoding."""
    encoder, step_net = split(net)
    device = next(net.train_state.graph.parameters()).device if net.train_state else "cpu"
    enc, dec = encoder.graph.to(device).eval(), step_net.graph.to(device).eval()
    length = int(net.inputs[1].output_shape[0])
    max_len = min(int(max_len or length), length)
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).to(device)
    carry = {"memory": enc(x)[0].repeat_interleave(beam, 0)}

    def step(t: int, tokens: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        if rows is not None:
            carry["memory"] = carry["memory"][torch.from_numpy(rows).to(device)]
        prefix = torch.from_numpy(shifted_prefix(tokens, t, length)).to(device)
        probs: np.ndarray = dec(prefix, carry["memory"])[0][:, t].cpu().numpy()
        return probs

    vocab = int(net.outputs[0].output_shape[-1])
    return beam_search_steps(step, len(images), vocab, beam, max_len, min_len, length_penalty)
