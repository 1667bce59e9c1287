"""Sequence data for networks in pyeddl's recurrent form: targets, teacher forcing, decoding.

- Inputs may be sequences `(N, T, *step)` where the Input gives one step (`check_inputs`).
- An encoder net (no decoder) outputs the last step; its targets may carry a time axis of 1, as
  pyeddl's examples give them (`y.reshape_([N, 1, 10])`), which is dropped. Targets of `k > 1`
  steps are matched, as EDDL's unrolling does (`Net::unroll_enc(inl, outl)`), by the outputs of
  the last `k` input steps (`output_steps`).
- A net with a decoder input (`setDecoder`) outputs every step: targets are `(N, T, *out)` (one-hot
  rows, or integer indices `(N, T)`), the decoder is fed the targets shifted by one step (zeros,
  y[0], ..., y[T-2]) as EDDL's `fit` does, and losses/metrics count every step (the batch and time
  axes are merged).
- `decode` runs a decoder step by step (greedy), feeding back the arg-max of each step's output.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from deephealth.eddl.model import Model


def is_sequential(net: Model) -> bool:
    """True for a network in pyeddl's recurrent form (or with a decoder)."""
    return bool(getattr(net.graph, "sequential", False))


def has_decoder(net: Model) -> bool:
    """True when the network has a decoder input (`setDecoder`)."""
    return bool(getattr(net, "decoder_inputs", None))


@contextmanager
def output_steps(st: Any, ys: Sequence[torch.Tensor]) -> Iterator[None]:
    """During the block, an encoder net whose target has `k > 1` steps outputs its last `k`."""
    net = st.net
    steps = None
    if ys and is_sequential(net) and not has_decoder(net):
        rank = len(net.outputs[0].output_shape) + 1
        y = ys[0]
        if y.dim() == rank + 1 and y.shape[1] > 1:
            steps = int(y.shape[1])
    graphs = [getattr(g, "_orig_mod", g) for g in (st.graph, st.train_graph)]
    graphs = [getattr(g, "module", g) for g in graphs]
    if steps is None:
        yield
        return
    for g in graphs:
        g.out_steps = steps
    try:
        yield
    finally:
        for g in graphs:
            g.out_steps = None


def _decoder_value(layer: Any, y: torch.Tensor, vocab: int) -> torch.Tensor:
    """What the decoder Input reads for targets `y` (N, T, ...): one-hot rows or indices."""
    step = tuple(layer.output_shape)
    if not y.is_floating_point():  # indices (N, T)
        if step == (1,):
            return y.float().unsqueeze(-1)
        return torch.nn.functional.one_hot(y.long(), step[0]).float()
    if tuple(y.shape[2:]) == step:
        return y
    if step == (1,) and y.shape[-1] == vocab:
        return y.argmax(-1, keepdim=True).float()
    raise ValueError(
        f"decoder input '{layer.name}' takes steps of shape {list(step)}; the targets have "
        f"shape {list(y.shape)}"
    )


def decoder_feed(net: Model, ys: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Teacher forcing: the decoder inputs for targets `ys` (empty for nets without a decoder)."""
    if not has_decoder(net):
        return []
    y = ys[0]
    if y.dim() < 2:
        raise ValueError(
            f"a decoder net takes targets (N, T, ...) (batch x timesteps x dims); got {list(y.shape)}"
        )
    vocab = int(net.outputs[0].output_shape[-1])
    net.decoder_steps = int(y.shape[1])
    feeds = []
    for layer in net.decoder_inputs:
        v = _decoder_value(layer, y, vocab)
        zero = torch.zeros_like(v[:, :1])
        feeds.append(torch.cat((zero, v[:, :-1]), dim=1))
    return feeds


def align(
    net: Model, outs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Outputs and targets in the form the losses take (see the module doc)."""
    outs, ys = list(outs), list(ys)
    if not is_sequential(net):
        return outs, ys
    for i, (layer, o, y) in enumerate(zip(net.outputs, outs, ys)):
        rank = len(layer.output_shape) + 1
        if o.dim() > rank:  # every step: merge batch and time
            n, t = o.shape[0], o.shape[1]
            if not y.is_floating_point() and y.dim() == 2:
                ys[i] = y.reshape(n * t)
            else:
                ys[i] = y.reshape(n * t, *y.shape[2:])
            outs[i] = o.reshape(n * t, *o.shape[2:])
        elif y.dim() == rank + 1 and y.shape[1] == 1:  # (N, 1, *out) -> (N, *out)
            ys[i] = y[:, 0]
    return outs, ys


def target_ok(net: Model, layer: Any, y: torch.Tensor) -> bool:
    """Whether `y` fits output `layer` with a time axis (recurrent nets only)."""
    if not is_sequential(net):
        return False
    want = tuple(layer.output_shape)
    if tuple(y.shape[2:]) == want:
        return True
    return has_decoder(net) and not y.is_floating_point() and y.dim() == 2 and len(want) == 1


def input_ok(net: Model, layer: Any, x: torch.Tensor) -> bool:
    """Whether `x` is a sequence `(N, T, *step)` for Input `layer` of a recurrent net."""
    return is_sequential(net) and x.dim() >= 3 and tuple(x.shape[2:]) == tuple(layer.output_shape)


@torch.no_grad()
def decode(graph: Any, net: Model, xs: Sequence[torch.Tensor], steps: int) -> list[torch.Tensor]:
    """Greedy step-by-step decoding: outputs (N, steps, *out) for the inputs `xs`."""
    if steps <= 0:
        raise ValueError(f"decoding needs a positive number of steps, got {steps}")
    n = int(xs[0].shape[0])
    device = xs[0].device
    words = [torch.zeros(n, 1, *layer.output_shape, device=device) for layer in net.decoder_inputs]
    cache: dict = {}
    outs: list[list[torch.Tensor]] = [[] for _ in net.outputs]
    for _ in range(steps):
        res = graph(*xs, *words, cache=cache)
        for i, o in enumerate(res):
            outs[i].append(o.reshape(n, 1, *o.shape[-len(net.outputs[i].output_shape) :]))
        best = res[0].reshape(n, -1).argmax(-1)
        words = [_feed_back(layer, best, n, device) for layer in net.decoder_inputs]
    return [torch.cat(o, dim=1) for o in outs]


def _feed_back(layer: Any, best: torch.Tensor, n: int, device: torch.device) -> torch.Tensor:
    step = tuple(layer.output_shape)
    if step == (1,):
        return best.float().view(n, 1, 1)
    return torch.nn.functional.one_hot(best, step[0]).float().view(n, 1, *step).to(device)
