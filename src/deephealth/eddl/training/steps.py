"""One training or evaluation step, and pyeddl's fine-grained API built on it.

`train_step` is the hot path shared by `fit` and `train_batch`: forward (under autocast when asked),
losses (+ regularization), backward, optimizer step, and accumulation of the loss/metric sums as
device tensors, with no host synchronization. The pyeddl names (`train_batch`, `eval_batch`,
`forward`, `backward`, `update`, `zeroGrads`, `next_batch`, `random_indices`, `reset_loss`,
`get_losses`, `get_metrics`, `print_loss`, `set_mode`, `getOutput`) are thin wrappers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deephealth.eddl.layers import _pyeddl_attrs
from deephealth.eddl.tensor import Tensor
from deephealth.eddl.training.data import (
    DataError,
    as_list,
    check_counts,
    check_inputs,
    check_targets,
    to_torch,
)
from deephealth.eddl.training.sequence import align, decoder_feed, output_steps
from deephealth.eddl.training.state import TrainState, get_state
from deephealth.errors import EddlError

if TYPE_CHECKING:
    from deephealth.eddl.layers.base import Layer
    from deephealth.eddl.model import Model

TRMODE = 1
TSMODE = 0


class NonFiniteLossError(EddlError, FloatingPointError):
    """The training loss became NaN or infinite; training stops."""


def _penalty(st: TrainState) -> torch.Tensor | None:
    if not st.reg_layers:
        return None
    from deephealth.eddl.layers.regularizers import regularization_penalty

    return regularization_penalty(st.reg_layers)


def to_device(st: TrainState, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Move a batch to the state's device (channels-last for 4-D inputs when asked)."""
    if st.on_cpu and not st.cs.channels_last and all(t.is_cpu for t in tensors):
        return list(tensors)
    out = []
    for t in tensors:
        if t.device != st.device:
            t = t.to(st.device, non_blocking=True)
        if st.cs.channels_last and t.dim() == 4:
            t = t.contiguous(memory_format=torch.channels_last)
        out.append(t)
    return out


def compute_losses(
    st: TrainState, outs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(total loss to minimize, per-output loss terms) for training outputs `outs`."""
    if not st.losses:
        raise ValueError(
            f"model '{st.net.name}' was built without losses; give losses to build() "
            "or use newloss/compute_loss"
        )
    terms = []
    for loss, fuse, o, y in zip(st.losses, st.fused, outs, ys):
        terms.append(loss.from_logits(o, y, fuse[1]) if fuse else loss(o, y))
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    penalty = _penalty(st)
    if penalty is not None:
        total = total + penalty
    return total, terms


def activated(st: TrainState, outs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The network outputs from training outputs (apply fused activations, detached)."""
    res = []
    for fuse, o in zip(st.fused, outs):
        o = o.detach()
        if fuse is not None:
            o = torch.softmax(o, fuse[1]) if fuse[0] == "softmax" else torch.sigmoid(o)
        res.append(o)
    return res


def accumulate(
    st: TrainState,
    outs: Sequence[torch.Tensor],
    ys: Sequence[torch.Tensor],
    terms: Sequence[torch.Tensor],
) -> None:
    """Add one batch's losses and metric sums to the state's device-side counters.

    Everything here works on detached tensors, so no autograd graph is recorded.
    """
    n = int(ys[0].shape[0]) if ys else int(outs[0].shape[0])
    if terms:
        vals = terms[0].detach().reshape(1) if len(terms) == 1 else torch.stack(terms).detach()
        st.loss_sum.add_(vals, alpha=n)
    if st.metrics:
        if st.metrics_need_activation:
            probs = activated(st, outs)
        else:
            probs = [o.detach() for o in outs]
        vals = [m(probs[i], ys[i]) for i, m in st.metrics]
        st.metric_sum.add_(vals[0].reshape(1) if len(vals) == 1 else torch.stack(vals))
    st.seen += n
    st.batches += 1


def train_step(
    st: TrainState, xs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor]
) -> torch.Tensor:
    """Forward, loss, backward and update on one batch already on the device; returns the loss."""
    opt = st.optimizer
    if opt is None:
        raise ValueError(f"model '{st.net.name}' was built without an optimizer; cannot train")
    n = int(xs[0].shape[0])
    opt.zero_grad(set_to_none=True)
    feed = [*xs, *decoder_feed(st.net, ys)]
    with st.autocast(), output_steps(st, ys):
        outs = st.train_graph(*feed)
    outs, ys = align(st.net, outs, ys)
    total, terms = compute_losses(st, outs, ys)
    st.strategy.before_backward(st, n)
    if st.scaler is not None:
        st.scaler.scale(total).backward()
        st.strategy.after_backward(st, n)
        st.scaler.step(opt)
        st.scaler.update()
    else:
        total.backward()
        st.strategy.after_backward(st, n)
        opt.step()
    accumulate(st, outs, ys, terms)
    st.last_outputs = [o.detach() for o in outs]  # getOutput after train_batch, as pyeddl
    st.last_feed = feed  # getOutput of an inner layer recomputes it from this batch
    return total.detach()


@torch.no_grad()
def eval_step(st: TrainState, xs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor]) -> None:
    """Losses and metrics of one batch (no update)."""
    feed = [*xs, *decoder_feed(st.net, ys)]
    with st.autocast(), output_steps(st, ys):
        outs = st.train_graph(*feed)
    outs, ys = align(st.net, outs, ys)
    terms = compute_losses(st, outs, ys)[1] if st.losses else []
    accumulate(st, outs, ys, terms)
    st.last_feed = feed


def check_finite(loss: torch.Tensor, where: str) -> None:
    """Raise `NonFiniteLossError` naming `where` when `loss` is NaN or infinite (reads the value)."""
    value = float(loss)
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"the training loss is {value} at {where}; training stopped (lower the learning "
            "rate, check the data for NaN/inf, or normalize the inputs)"
        )


# -- pyeddl's finer methods -----------------------------------------------------------------------
def _select(data: Any, indices: Any, what: str) -> list[torch.Tensor]:
    arrays = [to_torch(a, f"{what} {i}") for i, a in enumerate(as_list(data))]
    if indices is None:
        return arrays
    idx = torch.as_tensor(np.asarray(indices), dtype=torch.long).reshape(-1)
    n = int(arrays[0].shape[0])
    if idx.numel() == 0:
        raise DataError("indices is empty")
    if int(idx.min()) < -n or int(idx.max()) >= n:
        raise DataError(
            f"indices must be in [0, {n}) for {what} data with {n} samples, got "
            f"[{int(idx.min())}, {int(idx.max())}]"
        )
    return [a.index_select(0, idx) for a in arrays]


def _batch(net: Model, in_: Any, out: Any, indices: Any) -> tuple[list[torch.Tensor], ...]:
    xs, ys = _select(in_, indices, "input"), _select(out, indices, "target")
    check_inputs(net, xs)
    check_targets(net, ys)
    check_counts(xs, ys)
    st = get_state(net)
    return to_device(st, xs), to_device(st, ys)


def train_batch(net: Model, in_: Any, out: Any, indices: Sequence[int] | None = None) -> None:
    """Train on one batch: the samples of `in_`/`out` at `indices` (all of them when None)."""
    st = get_state(net)
    xs, ys = _batch(net, in_, out, indices)
    if st.mode != TRMODE:
        st.set_mode(TRMODE)
    loss = train_step(st, xs, ys)
    mark_layers(net)  # getOutput(layer) reads this batch's values
    if st.device.type == "cpu":
        check_finite(loss, f"batch {st.batches} (train_batch)")


def eval_batch(net: Model, in_: Any, out: Any, indices: Sequence[int] | None = None) -> None:
    """Accumulate losses and metrics of one batch in inference mode (no update)."""
    st = get_state(net)
    xs, ys = _batch(net, in_, out, indices)
    mode = st.mode
    st.set_mode(TSMODE)
    eval_step(st, xs, ys)
    st.set_mode(mode)


def random_indices(batch_size: int, num_samples: int) -> list[int]:
    """`batch_size` random sample indices in [0, num_samples) (torch's global generator)."""
    if batch_size <= 0 or num_samples <= 0:
        raise ValueError(
            f"random_indices needs positive sizes, got batch_size={batch_size}, "
            f"num_samples={num_samples}"
        )
    return torch.randint(0, int(num_samples), (int(batch_size),)).tolist()


def next_batch(in_: Sequence[Tensor], out: Sequence[Tensor]) -> None:
    """Copy random samples of the tensors `in_` into the batch tensors `out` (same order).

    As EDDL, a sample is copied value by value in memory order: a source sample of another shape
    with as many values fits (pyeddl's `nlp_text_generation` copies H×W×C images into a C×H×W
    batch this way).
    """
    if len(in_) != len(out):
        raise ValueError(f"next_batch: {len(in_)} source tensor(s) but {len(out)} destination(s)")
    n = int(as_list(in_)[0].shape[0])
    idx = torch.randint(0, n, (int(out[0].shape[0]),))
    for src, dst in zip(in_, out):
        s, d = to_torch(src, "next_batch source"), dst.torch
        if tuple(s.shape[1:]) != tuple(d.shape[1:]) and s[0].numel() == d[0].numel():
            d.copy_(s.index_select(0, idx).reshape(d.shape))
            continue
        if tuple(s.shape[1:]) != tuple(d.shape[1:]):
            raise DataError(
                f"next_batch: source samples {list(s.shape[1:])} do not fit the batch "
                f"tensor {list(d.shape)}"
            )
        d.copy_(s.index_select(0, idx))


def set_mode(net: Model, mode: int) -> None:
    """1 (TRMODE): training behaviour; 0 (TSMODE): inference behaviour."""
    get_state(net).set_mode(mode)


def reset_loss(net: Model) -> None:
    """Zero the accumulated losses and metrics."""
    get_state(net).reset()


def get_losses(net: Model) -> list[float]:
    """Mean loss per sample, per output, since the last reset."""
    return get_state(net).losses_now()


def get_metrics(net: Model) -> list[float]:
    """Mean metric per sample, per metric, since the last reset."""
    return get_state(net).metrics_now()


def print_loss(net: Model, batch: int) -> None:
    """Print the running losses and metrics as pyeddl does (`Batch N loss(=x) metric(=y)`)."""
    st = get_state(net)
    parts = [f"{k}(={v:.4f})" for k, v in st.summary().items()]
    print(f"Batch {batch} " + " ".join(parts), end="")


def forward(net: Model, in_: Sequence[Any] | None = None, b: int | None = None) -> list[Layer]:
    """Run the network on the input tensors (keeping the graph for `backward`).

    Returns the output layers, as pyeddl; their values are read with `getOutput(layer)`.
    """
    st = get_state(net)
    if in_ is None:
        if st.last_inputs is None:
            raise ValueError("forward(net) without inputs needs a previous forward(net, [x])")
        xs = st.last_inputs
    else:
        xs = [to_torch(a, f"input {i}") for i, a in enumerate(as_list(in_))]
        check_inputs(net, xs)
        xs = to_device(st, xs)
    with st.autocast():
        st.last_outputs = list(st.train_graph(*xs))
    st.last_inputs = xs
    st.last_feed = list(xs)
    st.last_total = None
    mark_layers(net)
    for layer, x in zip(net.inputs, xs):
        layer._last_value = x  # lets newloss graphs read the batch
    return list(net.outputs)


def mark_layers(net: Model) -> None:
    """Let `getOutput` find the network of each of its layers (after forward/fit/evaluate)."""
    for layer in net.layers:
        layer._last_model = net


@torch.no_grad()
def getOutput(layer: Layer) -> Tensor:
    """The value of a layer for the last batch of `forward`/`train_batch`/`fit`/`evaluate` (a
    Tensor). An output's value is kept; an inner layer's is recomputed from that batch, as EDDL
    layers hold their last output (pyeddl's `getOutput(layer)` / `layer.output`)."""
    net = getattr(layer, "_last_model", None)
    st = get_state(net) if net is not None else None
    if st is None or (st.last_outputs is None and st.last_feed is None):
        raise ValueError(f"getOutput: layer '{layer.name}' has no value yet; call forward first")
    for i, out in enumerate(net.outputs):
        if out is layer and st.last_outputs is not None:
            return Tensor.wrap(activated(st, st.last_outputs)[i])
    slot = next((i for i, x in enumerate(net.layers) if x is layer), None)
    if slot is None or st.last_feed is None:
        raise ValueError(f"getOutput: layer '{layer.name}' is not in '{net.name}'")
    capture: dict[int, Any] = {slot: None}
    with st.autocast():
        st.graph(*st.last_feed, capture=capture)
    return Tensor.wrap(capture[slot])


def backward(net: Any, target: Sequence[Any] | None = None) -> None:
    """Back-propagate the losses of the last `forward` against `target` (or a `newloss`)."""
    from deephealth.eddl.training.netloss import NetLoss

    if isinstance(net, NetLoss):
        net.optimize()
        return
    st = get_state(net)
    if st.last_outputs is None:
        raise ValueError(f"backward: call forward(net, [x]) on '{net.name}' first")
    if target is None:
        raise ValueError("backward(net) needs the targets: backward(net, [y])")
    ys = [to_torch(a, f"target {i}") for i, a in enumerate(as_list(target))]
    check_targets(net, ys)
    ys = to_device(st, ys)
    outs, ys = align(net, st.last_outputs, ys)
    total, terms = compute_losses(st, outs, ys)
    total.backward()
    st.strategy.after_backward(st)
    accumulate(st, outs, ys, terms)


def update(net: Model) -> None:
    """Apply the optimizer step with the current gradients."""
    st = get_state(net)
    if st.optimizer is None:
        raise ValueError(f"model '{net.name}' was built without an optimizer")
    st.optimizer.step()


def zeroGrads(net: Model) -> None:
    """Set every gradient to zero."""
    st = get_state(net)
    if st.optimizer is not None:
        st.optimizer.zero_grad(set_to_none=True)
    else:
        st.graph.zero_grad(set_to_none=True)


_pyeddl_attrs.OUTPUT_READER = getOutput  # Layer.output reads values through it
