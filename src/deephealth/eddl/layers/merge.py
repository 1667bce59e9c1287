"""Merge and operator layers (unary layers are in `unary.py`, reductions in `reductions.py`).

- Merge: Add, Subtract, Mult, Div, Pow, Maximum, Minimum, Average (element-wise over 2+ parents of
  broadcast-compatible shapes), MatMul and Concat(axis).
- Operators with a number: pyeddl's `Sum(l, 2.0)`, `Diff(1.0, l)`, `Mult`, `Div`, `Pow(l, 2.0)` are
  one kind, `ScalarOp` (`op`, `value`, `reverse` = the number comes first).

pyeddl functions taking "a layer or a float" pick the kind from their arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from deephealth.eddl.layers._util import norm_axis
from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, ShapeError, register, single


def _broadcast(shapes: list[Shape]) -> Shape:
    try:
        return tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        raise ShapeError(f"shapes {[list(s) for s in shapes]} do not broadcast together") from None


class Binary(nn.Module):
    """Applies a torch function to two tensors."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], op: str):
        super().__init__()
        self.fn, self.op = fn, op

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.fn(a, b)

    def extra_repr(self) -> str:
        return self.op


class AddN(nn.Module):
    """Sum of any number of tensors."""

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0] + xs[1]
        for x in xs[2:]:
            out = out + x
        return out


class Fold(nn.Module):
    """Folds a binary function over any number of tensors (max, min), optionally averaging."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], op: str):
        super().__init__()
        self.fn, self.op = fn, op

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = self.fn(out, x)
        if self.op == "average":
            out = out / len(xs)
        return out

    def extra_repr(self) -> str:
        return self.op


_ELEMENTWISE: dict[str, tuple[int | None, Callable[[], nn.Module]]] = {
    # kind -> (max parents, module factory)
    "Add": (None, AddN),
    "Subtract": (2, lambda: Binary(torch.sub, "sub")),
    "Mult": (2, lambda: Binary(torch.mul, "mul")),
    "Div": (2, lambda: Binary(torch.div, "div")),
    "Pow": (2, lambda: Binary(torch.pow, "pow")),
    "Maximum": (None, lambda: Fold(torch.maximum, "maximum")),
    "Minimum": (None, lambda: Fold(torch.minimum, "minimum")),
    "Average": (None, lambda: Fold(torch.add, "average")),
}


class _ElementwiseSpec(LayerSpec):
    min_parents = 2

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return _broadcast(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return _ELEMENTWISE[self.kind][1]()


for _kind, (_most, _) in _ELEMENTWISE.items():
    register(
        type(
            f"{_kind}Spec",
            (_ElementwiseSpec,),
            {"kind": _kind, "max_parents": _most, "__doc__": f"Element-wise {_kind.lower()}."},
        )
    )


class MatMulModule(nn.Module):
    """Matrix product of two tensors (batched over leading axes)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


@register
class MatMulSpec(LayerSpec):
    """Matrix product of the last two axes of two parents, (..., n, k) @ (..., k, m)."""

    kind = "MatMul"
    min_parents = 2
    max_parents = 2

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        a, b = in_shapes
        if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
            raise ShapeError(f"MatMul needs (..., n, k) and (..., k, m), got {a} and {b}")
        return (*_broadcast([a[:-2], b[:-2]]), a[-2], b[-1])

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return MatMulModule()


class ConcatModule(nn.Module):
    """torch.cat along a fixed (batch-included) dimension."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


@register
class ConcatSpec(LayerSpec):
    """Concatenation along `axis` (batch excluded; 0 = channels, negative from the end)."""

    kind = "Concat"
    min_parents = 1
    max_parents = None

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        first = in_shapes[0]
        axis = norm_axis(params["axis"], len(first), "Concat axis")
        total = 0
        for s in in_shapes:
            if len(s) != len(first) or any(
                a != b for i, (a, b) in enumerate(zip(s, first)) if i != axis
            ):
                raise ShapeError(
                    f"Concat on axis {params['axis']} needs equal sizes on the other axes, got "
                    f"{[list(x) for x in in_shapes]}"
                )
            total += s[axis]
        return (*first[:axis], total, *first[axis + 1 :])

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return ConcatModule(norm_axis(params["axis"], len(in_shapes[0])) + 1)


def _add(x: torch.Tensor, k: float) -> torch.Tensor:
    return x + k


def _sub(x: torch.Tensor, k: float) -> torch.Tensor:
    return x - k


def _rsub(x: torch.Tensor, k: float) -> torch.Tensor:
    return k - x


def _mul(x: torch.Tensor, k: float) -> torch.Tensor:
    return x * k


def _div(x: torch.Tensor, k: float) -> torch.Tensor:
    return x / k


def _rdiv(x: torch.Tensor, k: float) -> torch.Tensor:
    return k / x


# named functions (not lambdas) so that the modules pickle
_SCALAR: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "add": _add,
    "sub": _sub,
    "rsub": _rsub,
    "mul": _mul,
    "div": _div,
    "rdiv": _rdiv,
    "pow": torch.pow,
}


class ScalarModule(nn.Module):
    """x (op) value, or value (op) x for the "r" ops."""

    def __init__(self, op: str, value: float):
        super().__init__()
        self.op, self.value, self.fn = op, value, _SCALAR[op]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, self.value)

    def extra_repr(self) -> str:
        return f"{self.op} {self.value}"


@register
class ScalarOpSpec(LayerSpec):
    """An arithmetic operation between a layer and a number (`op` in add/sub/rsub/mul/...)."""

    kind = "ScalarOp"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return single(in_shapes)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return ScalarModule(params["op"], params["value"])


# ---- constructors ----------------------------------------------------------------------------


def _layers(layers: Sequence[Layer] | Layer, kind: str) -> list[Layer]:
    if isinstance(layers, Layer):
        return [layers]
    out = list(layers)
    if not out:
        raise ValueError(f"{kind} needs a list of layers")
    return out


def _merge(kind: str, layers: Sequence[Layer], name: str) -> Layer:
    return Layer(kind, _layers(layers, kind), {}, name or None)


def _scalar(op: str, x: Layer, value: float, name: str) -> Layer:
    return Layer("ScalarOp", [x], {"op": op, "value": float(value)}, name or None)


def _arith(kind: str, op: str, rop: str, a: Layer | float, b: Layer | float, name: str) -> Layer:
    """Layer-layer -> `kind`; layer-number -> ScalarOp `op`; number-layer -> ScalarOp `rop`."""
    if isinstance(a, Layer) and isinstance(b, Layer):
        return Layer(kind, [a, b], {}, name or None)
    if isinstance(a, Layer) and isinstance(b, (int, float)):
        return _scalar(op, a, b, name)
    if isinstance(b, Layer) and isinstance(a, (int, float)):
        return _scalar(rop, b, a, name)
    raise TypeError(
        f"{kind} takes two layers or a layer and a number, got {type(a).__name__} and "
        f"{type(b).__name__}"
    )


def Add(
    layers: Sequence[Layer] | Layer | float, l2: Layer | float | None = None, name: str = ""
) -> Layer:
    """Sum: `Add([l1, l2, ...], name)` of layers, or pyeddl's `Add(l1, l2)` with a layer or number."""
    if isinstance(l2, str) and not name:  # pyeddl: Add(layers, name)
        l2, name = None, l2
    if l2 is None:
        return _merge("Add", layers, name)  # type: ignore[arg-type]
    return _arith("Add", "add", "add", layers, l2, name)  # type: ignore[arg-type]


def Sum(l1: Layer | float, l2: Layer | float, name: str = "") -> Layer:
    """l1 + l2 (layers or numbers)."""
    return _arith("Add", "add", "add", l1, l2, name)


def Subtract(layers: Sequence[Layer], name: str = "") -> Layer:
    """layers[0] - layers[1]."""
    return _merge("Subtract", layers, name)


def Diff(l1: Layer | float, l2: Layer | float, name: str = "") -> Layer:
    """l1 - l2 (layers or numbers)."""
    return _arith("Subtract", "sub", "rsub", l1, l2, name)


Sub = Diff


def Mult(l1: Layer | float, l2: Layer | float, name: str = "") -> Layer:
    """Element-wise l1 * l2 (layers or numbers)."""
    return _arith("Mult", "mul", "mul", l1, l2, name)


def Div(l1: Layer | float, l2: Layer | float, name: str = "") -> Layer:
    """Element-wise l1 / l2 (layers or numbers)."""
    return _arith("Div", "div", "rdiv", l1, l2, name)


def Pow(l1: Layer, l2: Layer | float, name: str = "") -> Layer:
    """Element-wise l1 ** l2 (l2 a layer or a number)."""
    if not isinstance(l1, Layer):
        raise TypeError(f"Pow's base must be a layer, got {type(l1).__name__}")
    return _arith("Pow", "pow", "pow", l1, l2, name)


def Maximum(layers: Sequence[Layer], name: str = "") -> Layer:
    """Element-wise maximum of the layers."""
    return _merge("Maximum", layers, name)


def Minimum(layers: Sequence[Layer], name: str = "") -> Layer:
    """Element-wise minimum of the layers."""
    return _merge("Minimum", layers, name)


def Average(layers: Sequence[Layer], name: str = "") -> Layer:
    """Element-wise mean of the layers."""
    return _merge("Average", layers, name)


def MatMul(layers: Sequence[Layer], name: str = "") -> Layer:
    """Matrix product layers[0] @ layers[1] over the last two axes."""
    return _merge("MatMul", layers, name)


def Concat(layers: Sequence[Layer], axis: int = 0, name: str = "") -> Layer:
    """Concatenate along `axis` (batch excluded: 0 is the channel axis; -1 the last)."""
    return Layer("Concat", _layers(layers, "Concat"), {"axis": int(axis)}, name or None)
