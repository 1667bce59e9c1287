"""Reductions of pyeddl's Tensor: over all elements (a Python number) or over `axis` (a Tensor).

`t.max()` is a float as in pyeddl; `t.max([1])` or `t.max(axis=[1], keepdims=True)` reduces the
given axes and returns a Tensor, as EDDL's C++ overloads do. Sorting and element tests live here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from deephealth.eddl.tensor._base import TensorError

# the whole-tensor reductions, looked up once (they run per call on small tensors too)
_sum, _mean, _max, _min = torch.sum, torch.mean, torch.max, torch.min


def _axes(axis: int | Sequence[int] | None, ndim: int) -> list[int] | None:
    if axis is None:
        return None
    axes = [int(axis)] if isinstance(axis, int) else [int(a) for a in axis]
    for a in axes:
        if not -ndim <= a < ndim:
            raise TensorError(f"axis {a} is outside a {ndim}-D tensor")
    return sorted({a % ndim for a in axes})


class ReduceMixin:
    """Reductions, sorting and truth tests; the class sets `torch` and `wrap`."""

    __slots__ = ()  # Tensor instances hold only `torch`: no __dict__ (faster to make)

    torch: torch.Tensor

    def _reduce(self, fn: Any, axis: Any, keepdims: bool, *args: Any) -> Any:
        axes = _axes(axis, self.torch.dim())
        if axes is None:
            return float(fn(self.torch, *args))
        return self.wrap(fn(self.torch, axes, *args, keepdim=bool(keepdims)))

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
        """Sum of all elements (float), or over `axis` (Tensor)."""
        if axis is None:
            return float(_sum(self.torch))
        return self._reduce(torch.sum, axis, keepdims)

    def sum_abs(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
        """Sum of the absolute values (float), or over `axis` (Tensor)."""
        if axis is None:
            return float(self.torch.abs().sum())
        return self.wrap(self.torch.abs().sum(_axes(axis, self.torch.dim()), keepdim=keepdims))

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
        """Mean of all elements (float), or over `axis` (Tensor)."""
        if axis is None:
            return float(_mean(self.torch))
        return self._reduce(torch.mean, axis, keepdims)

    def prod(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
        """Product of all elements (float), or over one `axis` (Tensor)."""
        axes = _axes(axis, self.torch.dim())
        if axes is None:
            return float(torch.prod(self.torch))
        out = self.torch
        for a in reversed(axes):
            out = torch.prod(out, a, keepdim=bool(keepdims))
        return self.wrap(out)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
        """Largest element (float), or the maxima over `axis` (Tensor)."""
        if axis is None:
            return float(_max(self.torch))
        return self._reduce(torch.amax, axis, keepdims)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Any:
        """Smallest element (float), or the minima over `axis` (Tensor)."""
        if axis is None:
            return float(_min(self.torch))
        return self._reduce(torch.amin, axis, keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Any:
        """Flat index of the largest element (int), or the indices along `axis` (Tensor)."""
        if axis is None:
            return int(torch.argmax(self.torch))
        return self.wrap(torch.argmax(self.torch, int(axis), keepdim=keepdims).float())

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Any:
        """Flat index of the smallest element (int), or the indices along `axis` (Tensor)."""
        if axis is None:
            return int(torch.argmin(self.torch))
        return self.wrap(torch.argmin(self.torch, int(axis), keepdim=keepdims).float())

    def std(self, unbiased: bool = True) -> float:
        """Standard deviation of all elements (n-1 divisor when `unbiased`)."""
        return float(torch.std(self.torch, correction=1 if unbiased else 0))

    def var(self, unbiased: bool = True) -> float:
        """Variance of all elements (n-1 divisor when `unbiased`)."""
        return float(torch.var(self.torch, correction=1 if unbiased else 0))

    def median(self) -> float:
        """Median of all elements (the mean of the two middle ones for an even count, as EDDL)."""
        flat = torch.sort(self.torch.reshape(-1)).values
        n = flat.numel()
        if n == 0:
            raise TensorError("median of an empty tensor")
        mid = n // 2
        return float(flat[mid]) if n % 2 else float((flat[mid - 1] + flat[mid]) / 2)

    def mode(self) -> int:
        """The most frequent value (as an int; EDDL's mode is for integer labels)."""
        return int(torch.mode(self.torch.reshape(-1)).values)

    def all(self) -> bool:
        """True when every element is non-zero."""
        return bool(torch.all(self.torch != 0))

    def any(self) -> bool:
        """True when some element is non-zero."""
        return bool(torch.any(self.torch != 0))

    def anynan(self) -> bool:
        """True when some element is NaN."""
        return bool(torch.isnan(self.torch).any())

    def sort_(self, descending: bool = False, stable: bool = True) -> None:
        """Sort all elements (flattened order kept in the shape), in place."""
        flat = torch.sort(self.torch.reshape(-1), descending=descending, stable=stable).values
        self.torch.copy_(flat.reshape(self.torch.shape))

    def sort(self, descending: bool = False, stable: bool = True) -> Any:
        """A sorted copy (flattened order, same shape)."""
        out = self.clone()
        out.sort_(descending, stable)
        return out

    def argsort(self, descending: bool = False, stable: bool = True) -> Any:
        """Indices that sort the flattened tensor (as floats, same shape)."""
        idx = torch.sort(self.torch.reshape(-1), descending=descending, stable=stable).indices
        return self.wrap(idx.float().reshape(self.torch.shape))
