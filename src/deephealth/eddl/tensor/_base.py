"""Shared helpers of the Tensor modules: devices, shapes, operands, EDDL's string indices."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from deephealth.errors import EddlError

DEV_CPU = 0
DEV_GPU = 1000

# `new(cls)`: an instance without `__init__`; result-returning ops set `.torch` on it directly
# (cheaper than a classmethod call per result, which is most of the cost on small tensors)
new = object.__new__


class TensorError(EddlError, ValueError):
    """A Tensor operation got input it cannot handle (shape, file, format)."""


def device_of(dev: int) -> torch.device:
    """The torch device of an EDDL device number (`DEV_CPU`, `DEV_GPU` + index)."""
    if dev == DEV_CPU:
        return torch.device("cpu")
    if DEV_GPU <= dev < DEV_GPU + 100:
        if not torch.cuda.is_available():
            raise TensorError(
                "a GPU tensor was asked for (dev=DEV_GPU) but no CUDA GPU is available"
            )
        return torch.device("cuda", dev - DEV_GPU)
    raise TensorError(f"unknown device {dev}; use DEV_CPU ({DEV_CPU}) or DEV_GPU ({DEV_GPU})")


def shape_list(shape: Sequence[int] | int) -> list[int]:
    """A validated shape as a list of non-negative ints."""
    dims = [int(shape)] if isinstance(shape, (int, np.integer)) else [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise TensorError(f"a tensor shape needs non-negative sizes, got {dims}")
    return dims


def as_torch(value: Any) -> torch.Tensor:
    """The torch tensor behind a `Tensor`, numpy array, torch tensor or nested list (no copy if able)."""
    inner = getattr(value, "torch", None)
    if isinstance(inner, torch.Tensor):
        return inner
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return torch.as_tensor(np.asarray(value))


def operand(other: Any) -> torch.Tensor | float:
    """A scalar as float, anything else as a torch tensor.

    Hot paths first try `getattr(other, "torch", other)` (a Tensor's data, or a Python number or
    torch tensor as is) and call this only when torch rejects that with a `TypeError`.
    """
    if isinstance(other, (int, float, np.integer, np.floating)):
        return float(other)
    return as_torch(other)


def parse_index(text: str, size: int, keep_dims: bool) -> slice | int:
    """One of EDDL's string indices (`"2"`, `"1:3"`, `":"`, `"::2"`, `"-1"`) for a dimension.

    With `keep_dims` a single index `"i"` becomes the slice `i:i+1`, as EDDL keeps the dimension.
    """
    text = str(text).strip()
    if ":" not in text:
        try:
            i = int(text)
        except ValueError:
            raise TensorError(f"select: {text!r} is not an index like '2', '1:3' or ':'") from None
        if not -size <= i < size:
            raise TensorError(f"select: index {i} is outside a dimension of size {size}")
        i %= size
        return slice(i, i + 1) if keep_dims else i
    try:
        parts = [int(p) if p.strip() else None for p in text.split(":")]
    except ValueError:
        raise TensorError(f"select: {text!r} is not an index like '2', '1:3' or ':'") from None
    if len(parts) > 3:
        raise TensorError(f"select: {text!r} has more than two ':'")
    return slice(*parts)


def index_key(indices: Sequence[str], shape: Sequence[int], keep_dims: bool = True) -> Any:
    """A torch indexing key from EDDL's string indices (missing trailing dimensions: all).

    Keys are cached by (indices, shape): a loop selecting the same part of same-shaped tensors
    parses its strings once. Indices made only of ranges (`"1:3"`, `":"`) do not depend on the
    sizes and are cached by the strings alone (`slice_key`).
    """
    if isinstance(indices, str):
        indices = [indices]
    try:
        return _cached_key(tuple(indices), tuple(shape), keep_dims)
    except TypeError:  # unhashable indices (e.g. a list inside): parse without the cache
        return _parse_key(indices, shape, keep_dims)


# keys of indices by their strings: the key when they are all ranges, False when not
SLICE_KEYS: dict[tuple, Any] = {}


def slice_key(indices: tuple) -> Any:
    """The key of indices that are all ranges (`"a:b:c"`), whatever the sizes; False otherwise.

    Such a key does not depend on the tensor's sizes; torch raises `IndexError` when it has more
    parts than the tensor has dimensions (the caller then takes the general path, `index_key`).
    """
    key = SLICE_KEYS.get(indices)
    if key is None:
        key = False
        if indices and all(isinstance(s, str) and ":" in s for s in indices):
            parts = tuple(parse_index(s, 0, True) for s in indices)
            key = parts[0] if len(parts) == 1 else parts
        if len(SLICE_KEYS) < 1024:
            SLICE_KEYS[indices] = key
    return key


def _parse_key(indices: Sequence[str], shape: Sequence[int], keep_dims: bool) -> tuple:
    if len(indices) > len(shape):
        raise TensorError(
            f"select: {len(indices)} indices for a {len(shape)}-D tensor {list(shape)}"
        )
    return tuple(parse_index(s, n, keep_dims) for s, n in zip(indices, shape))


@functools.lru_cache(maxsize=1024)
def _cached_key(indices: tuple, shape: tuple, keep_dims: bool) -> tuple:
    return _parse_key(indices, shape, keep_dims)
