"""Shape, indexing and joining of pyeddl's Tensor: select, permute, squeeze, concat, repeat, ...

Indices are EDDL's strings (`"1:3"`, `":"`, `"2"`); a single index keeps its dimension with
size 1, as EDDL does (`t.select(["1:3", "2"])` of a 3×4 tensor is 2×1). Functions that EDDL
declares static (`concat`, `stack`, `repeat`, `tile`, `broadcast`) are class methods taking the
tensors first; the optional `output` tensor, when given, receives the result as in EDDL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from deephealth.eddl.tensor._base import (
    SLICE_KEYS,
    TensorError,
    as_torch,
    index_key,
    new,
    slice_key,
)


def _into(cls: Any, result: torch.Tensor, output: Any) -> Any:
    """The result as a new (contiguous) Tensor, or written into `output` (which is returned).

    `result` may be a view (a permutation, an expansion): into `output` it is copied once,
    with no intermediate tensor.
    """
    if output is None:
        return cls.wrap(result.contiguous())
    out = as_torch(output)
    if out.shape != result.shape:
        raise TensorError(f"output has shape {list(out.shape)}, the result {list(result.shape)}")
    if out.untyped_storage().data_ptr() == result.untyped_storage().data_ptr():
        result = result.clone()  # a view of the output itself (in-place transpose): copy first
    out.copy_(result)
    return output


def _join_into(join: Any, parts: list[torch.Tensor], axis: int, output: Any, shape: list) -> bool:
    """Write `join(parts, axis)` straight into `output` when its shape is `shape`.

    False (nothing written) when the shapes differ or torch refuses (an output that overlaps an
    input): the caller then joins into a new tensor and reports or copies as usual.
    """
    out = as_torch(output)
    if list(out.shape) != shape:
        return False
    try:
        join(parts, axis, out=out)
    except RuntimeError:
        return False
    return True


def _axis(axis: int, ndim: int, what: str) -> int:
    if not -ndim <= int(axis) < ndim:
        raise TensorError(f"{what}: axis {axis} is outside a {ndim}-D tensor")
    return int(axis) % ndim


# `select` copies tensors up to this many elements with `narrow_copy` (cheapest per call, one
# thread), larger ones with `clone` (threaded): 1M floats, 2 threads: 156 vs 75 µs; 1,024: 2.2 vs
# 3.9 µs (torch copies below its 32,768-element grain with one thread anyway)
NARROW_COPY_MAX = 32_768


class ShapeMixin:
    """Indexing, reshaping and joining; the class sets `torch` and `wrap`."""

    __slots__ = ()  # Tensor instances hold only `torch`: no __dict__ (faster to make)

    torch: torch.Tensor

    # -- indexing -------------------------------------------------------------------------------
    def select(self, indices: Sequence[str]) -> Any:
        """A copy of the part given by EDDL string indices, e.g. `t.select([":100", "2"])`.

        One range on the first dimension (`["1:-1"]`, the batch slices of training loops) of a
        small tensor is copied by `narrow_copy`, one copy without an intermediate view; larger
        tensors and other ranges by a view and `clone` (which uses torch's threads); single
        indices keep their dimension (EDDL's rule, `index_key`).
        """
        t = self.torch
        try:  # ranges only ("1:-1", ":"): a cached key whatever the sizes, checked by torch
            strings = tuple(indices) if indices.__class__ is not str else (indices,)
            key = SLICE_KEYS.get(strings)
            if key is None:
                key = slice_key(strings)
            if key.__class__ is slice:
                start, stop, step = key.indices(t.shape[0])
                if step == 1 and t.numel() <= NARROW_COPY_MAX:
                    part = t.narrow_copy(0, start, stop - start if stop > start else 0)
                else:  # `clone` copies with torch's threads, `narrow_copy` with one
                    part = t[key].clone()
            elif key is not False:
                part = t[key].clone()
            else:
                part = None
        except (TypeError, IndexError):  # unhashable parts, too many indices: said below
            part = None
        if part is None:
            part = t[index_key(indices, t.shape, keep_dims=True)].clone()
        out = new(type(self))
        out.torch = part
        return out

    def set_select(self, indices: Sequence[str], A: Any) -> None:
        """Write tensor (or scalar) `A` into the part given by EDDL string indices."""
        key = index_key(indices, self.torch.shape, keep_dims=True)
        region = self.torch[key]
        if isinstance(A, (int, float)):
            region.fill_(float(A))
        else:
            src = as_torch(A).to(self.torch)
            if src.numel() != region.numel():
                raise TensorError(
                    f"set_select: {list(src.shape)} does not fit the selected "
                    f"{list(region.shape)} of {list(self.torch.shape)}"
                )
            region.copy_(src.reshape(region.shape))

    # -- reshaping ------------------------------------------------------------------------------
    def reshape_(self, new_shape: Sequence[int]) -> None:
        """Change the shape in place (same number of elements; -1 infers one size)."""
        try:
            self.torch = self.torch.view(list(new_shape))
        except RuntimeError:
            try:
                self.torch = self.torch.reshape(list(new_shape))
            except RuntimeError as err:
                raise TensorError(
                    f"cannot reshape {list(self.torch.shape)} to {list(new_shape)}: {err}"
                ) from None

    def reshape(self, new_shape: Sequence[int]) -> Any:
        """A reshaped copy (see `reshape_`)."""
        out = self.clone()
        out.reshape_(new_shape)
        return out

    def flatten_(self) -> None:
        """Make the tensor 1-D in place."""
        self.reshape_([-1])

    def flatten(self) -> Any:
        """A 1-D copy."""
        return self.wrap(self.torch.reshape(-1).clone())

    def squeeze_(self, axis: int = -1) -> None:
        """Remove the dimensions of size 1 (only `axis` when it is >= 0), in place."""
        self.torch = self._squeezed(axis)

    def squeeze(self, axis: int = -1) -> Any:
        """A copy without the dimensions of size 1 (only `axis` when it is >= 0)."""
        return self.wrap(self._squeezed(axis).clone())

    def _squeezed(self, axis: int) -> torch.Tensor:
        if int(axis) < 0:
            return self.torch.squeeze()
        a = _axis(axis, self.torch.dim(), "squeeze")
        if self.torch.shape[a] != 1:
            raise TensorError(f"squeeze: axis {a} has size {self.torch.shape[a]}, not 1")
        return self.torch.squeeze(a)

    def unsqueeze_(self, axis: int = 0) -> None:
        """Insert a dimension of size 1 at `axis`, in place."""
        self.torch = self.torch.unsqueeze(int(axis))

    def unsqueeze(self, axis: int = 0) -> Any:
        """A copy with a dimension of size 1 inserted at `axis`."""
        return self.wrap(self.torch.unsqueeze(int(axis)).clone())

    def permute_(self, dims: Sequence[int]) -> None:
        """Reorder the dimensions in place (data rearranged, contiguous)."""
        self.torch = self._permuted(dims)

    def permute(self, dims: Sequence[int]) -> Any:
        """A copy with the dimensions reordered; `Tensor.permute(t, dims)` as pyeddl."""
        return self.wrap(self._permuted(dims))

    @classmethod
    def permute_static(cls, A: Any, dims: Sequence[int]) -> Any:
        """A copy of `A` with the dimensions reordered."""
        return cls.wrap(cls.wrap(as_torch(A))._permuted(dims))

    def _permuted(self, dims: Sequence[int], contiguous: bool = True) -> torch.Tensor:
        dims = [int(d) for d in dims]
        if sorted(d % max(self.torch.dim(), 1) for d in dims) != list(range(self.torch.dim())):
            raise TensorError(f"permute: {dims} is not a permutation of {self.torch.dim()} axes")
        view = self.torch.permute(dims)
        return view.contiguous() if contiguous else view

    @classmethod
    def transpose(cls, A: Any, B: Any = None, dims: Sequence[int] | None = None) -> Any:
        """`A` with its axes permuted by `dims` (default: reversed), into `B` when given."""
        a = as_torch(A)
        order = list(dims) if dims is not None else list(range(a.dim()))[::-1]
        return _into(cls, cls.wrap(a)._permuted(order, contiguous=B is None), B)

    def moveaxis_(self, source: int, destination: int) -> None:
        """Move axis `source` to position `destination`, in place."""
        self.torch = torch.movedim(self.torch, int(source), int(destination)).contiguous()

    def moveaxis(self, source: int, destination: int) -> Any:
        """A copy with axis `source` moved to position `destination`."""
        return self.wrap(torch.movedim(self.torch, int(source), int(destination)).contiguous())

    def swapaxis_(self, axis1: int, axis2: int) -> None:
        """Swap two axes, in place."""
        self.torch = self.torch.transpose(int(axis1), int(axis2)).contiguous()

    def swapaxis(self, axis1: int, axis2: int) -> Any:
        """A copy with two axes swapped."""
        return self.wrap(self.torch.transpose(int(axis1), int(axis2)).contiguous())

    def expand(self, size: int) -> Any:
        """A copy with every dimension of size 1 repeated `size` times."""
        shape = [int(size) if d == 1 else d for d in self.torch.shape]
        return self.wrap(self.torch.expand(shape).contiguous())

    def resize(self, b: int) -> None:
        """Change the first (batch) dimension to `b`, keeping the leading rows; new rows are 0."""
        old = self.torch
        new = torch.zeros([int(b), *old.shape[1:]], dtype=old.dtype, device=old.device)
        n = min(int(b), old.shape[0])
        new[:n] = old[:n]
        self.torch = new

    # -- joining and repeating ------------------------------------------------------------------
    @classmethod
    def concat(cls, A: Sequence[Any], axis: int = 0, output: Any = None) -> Any:
        """Join tensors along an existing `axis`."""
        parts = [as_torch(a) for a in A]
        if not parts:
            raise TensorError("concat needs at least one tensor")
        if output is not None and -parts[0].dim() <= int(axis) < parts[0].dim():
            shape = list(parts[0].shape)
            ax = int(axis) % len(shape)
            shape[ax] = sum(p.shape[ax] if p.dim() == len(shape) else -1 for p in parts)
            if _join_into(torch.cat, parts, int(axis), output, shape):
                return output
        try:
            return _into(cls, torch.cat(parts, int(axis)), output)
        except (RuntimeError, IndexError) as err:  # sizes, or an axis out of range
            shapes = [list(p.shape) for p in parts]
            raise TensorError(f"concat along axis {axis} of shapes {shapes}: {err}") from None

    @classmethod
    def stack(cls, A: Sequence[Any], axis: int = 0, output: Any = None) -> Any:
        """Join same-shape tensors along a new `axis`."""
        parts = [as_torch(a) for a in A]
        if not parts:
            raise TensorError("stack needs at least one tensor")
        if output is not None and -parts[0].dim() - 1 <= int(axis) <= parts[0].dim():
            shape = list(parts[0].shape)
            shape.insert(int(axis) % (len(shape) + 1), len(parts))
            if _join_into(torch.stack, parts, int(axis), output, shape):
                return output
        try:
            return _into(cls, torch.stack(parts, int(axis)), output)
        except (RuntimeError, IndexError) as err:  # sizes, or an axis out of range
            shapes = [list(p.shape) for p in parts]
            raise TensorError(f"stack along axis {axis} of shapes {shapes}: {err}") from None

    @classmethod
    def repeat(
        cls,
        A: Any,
        repeats: int | Sequence[int],
        axis: int = 0,
        output: Any = None,
        derivative: bool = False,
    ) -> Any:
        """Repeat each element `repeats` times along `axis` (numpy's `repeat`)."""
        a = as_torch(A)
        ax = _axis(axis, a.dim(), "repeat")
        if isinstance(repeats, int):
            counts: int | torch.Tensor = int(repeats)
        else:
            counts = torch.as_tensor(list(repeats), device=a.device)
            if counts.numel() != a.shape[ax]:
                raise TensorError(
                    f"repeat: {counts.numel()} counts for axis {ax} of size {a.shape[ax]}"
                )
        return _into(cls, torch.repeat_interleave(a, counts, dim=ax), output)

    @classmethod
    def tile(cls, A: Any, repeats: Sequence[int]) -> Any:
        """Repeat the whole tensor `repeats[i]` times along each axis (numpy's `tile`)."""
        return cls.wrap(torch.tile(as_torch(A), [int(r) for r in repeats]))

    @classmethod
    def broadcast(cls, A: Any, B: Any, output: Any = None) -> Any:
        """`A` repeated to the shape of `B`: numpy's rule, else A's axes matched inside B's."""
        a, target = as_torch(A), list(as_torch(B).shape)
        try:
            return _into(cls, a.expand(target), output)
        except RuntimeError:
            pass
        shape = list(a.shape)
        for start in range(len(target) - len(shape) + 1):
            if target[start : start + len(shape)] == shape:
                view = [1] * start + shape + [1] * (len(target) - start - len(shape))
                return _into(cls, a.reshape(view).expand(target), output)
        raise TensorError(f"broadcast: shape {shape} cannot be broadcast to {target}")
