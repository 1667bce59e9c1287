"""Turning user data (numpy arrays, torch tensors, `Tensor`s, lists of them) into checked batches.

Every array-like becomes a torch tensor without a copy where possible (float64 is cast to
float32; integer targets stay integer class indices). The checks give errors that name the input or
output layer with the expected and the actual shapes, and the sample counts that disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deephealth.eddl.tensor import Tensor
from deephealth.eddl.training.sequence import input_ok, target_ok
from deephealth.errors import DataError

if TYPE_CHECKING:
    from deephealth.eddl.model import Model


def is_array(x: Any) -> bool:
    """True for the array types `fit` takes as whole datasets."""
    return isinstance(x, (np.ndarray, torch.Tensor, Tensor))


def to_torch(x: Any, what: str) -> torch.Tensor:
    """One dataset array as a torch tensor (float32 for floating data)."""
    if isinstance(x, Tensor):
        t = x.torch
    elif isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, np.ndarray):
        if x.dtype == object:
            raise DataError(f"{what}: an object array cannot be used as data")
        t = torch.from_numpy(np.ascontiguousarray(x)) if x.dtype != np.float64 else None
        if t is None:
            t = torch.from_numpy(x.astype(np.float32))
    else:
        raise DataError(
            f"{what}: expected a numpy array, torch tensor or Tensor, got {type(x).__name__}"
        )
    if t.is_floating_point() and t.dtype != torch.float32:
        t = t.float()
    return t.detach()


def as_list(data: Any) -> list[Any]:
    """pyeddl passes lists of arrays ([x]); accept a bare array too."""
    return list(data) if isinstance(data, (list, tuple)) else [data]


def check_inputs(net: Model, xs: Sequence[torch.Tensor]) -> None:
    """Raise `DataError` unless `xs` match the network's Input layers (count and shapes)."""
    if len(xs) != len(net.inputs):
        raise DataError(
            f"model '{net.name}' has {len(net.inputs)} input(s) "
            f"{[l.name for l in net.inputs]} but {len(xs)} input array(s) were given"
        )
    for layer, x in zip(net.inputs, xs):
        want = tuple(layer.output_shape)
        if x.dim() == 0 or (tuple(x.shape[1:]) != want and not input_ok(net, layer, x)):
            raise DataError(
                f"input '{layer.name}' expects samples of shape {list(want)} (batch first: "
                f"[N, {', '.join(map(str, want))}]), got an array of shape {list(x.shape)}"
            )


def check_targets(net: Model, ys: Sequence[torch.Tensor]) -> None:
    """Raise `DataError` unless `ys` match the network's outputs (count and shapes).

    Integer targets of shape [N] are accepted as class indices for an output of shape [C]. A loss
    may set its own target shape (survival losses take (time, event) pairs).
    """
    if len(ys) != len(net.outputs):
        raise DataError(
            f"model '{net.name}' has {len(net.outputs)} output(s) "
            f"{[l.name for l in net.outputs]} but {len(ys)} target array(s) were given"
        )
    losses = list(net.train_state.losses) if net.train_state is not None else []
    for i, (layer, y) in enumerate(zip(net.outputs, ys)):
        want = tuple(layer.output_shape)
        if i < len(losses):
            want = tuple(losses[i].target_shape(want))
        got = tuple(y.shape[1:])
        index_ok = not y.is_floating_point() and y.dim() == 1 and len(want) == 1
        if y.dim() == 0 or (got != want and not index_ok and not target_ok(net, layer, y)):
            raise DataError(
                f"output '{layer.name}' produces samples of shape {list(want)}, but the targets "
                f"have shape {list(y.shape)} (expected [N, {', '.join(map(str, want))}])"
            )


def check_counts(xs: Sequence[torch.Tensor], ys: Sequence[torch.Tensor]) -> int:
    """The common number of samples; raises `DataError` naming the arrays that disagree."""
    counts = [int(a.shape[0]) for a in (*xs, *ys)]
    if len(set(counts)) > 1:
        names = [f"x[{i}]" for i in range(len(xs))] + [f"y[{i}]" for i in range(len(ys))]
        detail = ", ".join(f"{n}: {c}" for n, c in zip(names, counts))
        raise DataError(f"inputs and targets must have the same number of samples; got {detail}")
    if counts and counts[0] == 0:
        raise DataError("the data has no samples")
    return counts[0] if counts else 0


def prepare(net: Model, x: Any, y: Any | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Convert and check a whole dataset given as (list of) arrays."""
    xs = [to_torch(a, f"input {i}") for i, a in enumerate(as_list(x))]
    check_inputs(net, xs)
    ys: list[torch.Tensor] = []
    if y is not None:
        ys = [to_torch(a, f"target {i}") for i, a in enumerate(as_list(y))]
        check_targets(net, ys)
    check_counts(xs, ys)
    return xs, ys


def split_batch(item: Any) -> tuple[list[Any], list[Any]]:
    """One item of an iterable of batches: (x, y), ([x...], [y...]) or {"x": ..., "y": ...}."""
    if isinstance(item, dict):
        if "x" not in item or "y" not in item:
            raise DataError(f"a batch dict needs keys 'x' and 'y', got {sorted(item)}")
        return as_list(item["x"]), as_list(item["y"])
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return as_list(item[0]), as_list(item[1])
    raise DataError(
        f"each batch must be (x, y), ([x, ...], [y, ...]) or a dict with 'x' and 'y'; "
        f"got {type(item).__name__}"
    )
