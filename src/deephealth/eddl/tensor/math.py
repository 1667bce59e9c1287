"""Element-wise math of pyeddl's Tensor: every op as `t.op()` (a new tensor) and `t.op_()` (in place).

One table (`UNARY`) gives the element-wise functions without parameters; the ops with a scalar or
tensor argument (`add`, `clamp`, `mod`, `logn`, comparisons, ...) are written out below. All work
on the torch tensor behind the Tensor; in-place forms keep its memory, so numpy views stay valid.
Called on the class with the tensor first (`Tensor.sqrt(t)`), they behave as pyeddl's statics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from deephealth.eddl.tensor._base import TensorError, as_torch, operand

# name: (in-place on a torch tensor, out-of-place, what it computes)
UNARY: dict[
    str, tuple[Callable[[torch.Tensor], Any], Callable[[torch.Tensor], torch.Tensor], str]
] = {
    "abs": (torch.Tensor.abs_, torch.abs, "absolute value"),
    "acos": (torch.Tensor.acos_, torch.acos, "arc cosine"),
    "asin": (torch.Tensor.asin_, torch.asin, "arc sine"),
    "atan": (torch.Tensor.atan_, torch.atan, "arc tangent"),
    "ceil": (torch.Tensor.ceil_, torch.ceil, "ceiling"),
    "cos": (torch.Tensor.cos_, torch.cos, "cosine"),
    "cosh": (torch.Tensor.cosh_, torch.cosh, "hyperbolic cosine"),
    "exp": (torch.Tensor.exp_, torch.exp, "exponential"),
    "floor": (torch.Tensor.floor_, torch.floor, "floor"),
    "log": (torch.Tensor.log_, torch.log, "natural logarithm"),
    "log2": (torch.Tensor.log2_, torch.log2, "base-2 logarithm"),
    "log10": (torch.Tensor.log10_, torch.log10, "base-10 logarithm"),
    "neg": (torch.Tensor.neg_, torch.neg, "negation"),
    "reciprocal": (torch.Tensor.reciprocal_, torch.reciprocal, "reciprocal 1/x"),
    "round": (torch.Tensor.round_, torch.round, "rounding (halves to even, as numpy)"),
    "rsqrt": (torch.Tensor.rsqrt_, torch.rsqrt, "reciprocal square root"),
    "sigmoid": (torch.Tensor.sigmoid_, torch.sigmoid, "logistic sigmoid"),
    "sign": (torch.Tensor.sign_, torch.sign, "sign (-1, 0, 1)"),
    "sin": (torch.Tensor.sin_, torch.sin, "sine"),
    "sinh": (torch.Tensor.sinh_, torch.sinh, "hyperbolic sine"),
    "sqr": (torch.Tensor.square_, torch.square, "square"),
    "sqrt": (torch.Tensor.sqrt_, torch.sqrt, "square root"),
    "tan": (torch.Tensor.tan_, torch.tan, "tangent"),
    "tanh": (torch.Tensor.tanh_, torch.tanh, "hyperbolic tangent"),
    "trunc": (torch.Tensor.trunc_, torch.trunc, "truncation toward zero"),
}

# element-wise tests returning 1.0 / 0.0 (EDDL's tensors are float)
PREDICATES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "isfinite": torch.isfinite,
    "isinf": torch.isinf,
    "isnan": torch.isnan,
    "isneginf": torch.isneginf,
    "isposinf": torch.isposinf,
    "logical_not": torch.logical_not,
}

COMPARISONS: dict[str, Callable[[torch.Tensor, Any], torch.Tensor]] = {
    "equal": torch.eq,
    "not_equal": torch.ne,
    "greater": torch.gt,
    "greater_equal": torch.ge,
    "less": torch.lt,
    "less_equal": torch.le,
}

LOGICAL: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "logical_and": torch.logical_and,
    "logical_or": torch.logical_or,
    "logical_xor": torch.logical_xor,
}


def _float(t: torch.Tensor) -> torch.Tensor:
    return t.to(torch.float32) if t.dtype != torch.float32 else t


def _unary_methods(name: str, inplace_fn: Callable, fn: Callable, what: str) -> tuple[Any, Any]:
    def op_(self: Any) -> None:
        inplace_fn(self.torch)

    def op(self: Any) -> Any:
        return self.wrap(fn(self.torch))

    op_.__name__, op.__name__ = f"{name}_", name
    op_.__doc__ = f"Element-wise {what}, in place."
    op.__doc__ = f"Element-wise {what}, as a new tensor."
    return op_, op


def _predicate_method(name: str, fn: Callable) -> Any:
    def op(self: Any) -> Any:
        return self.wrap(_float(fn(self.torch)))

    op.__name__ = name
    op.__doc__ = f"`{fn.__name__}` element-wise, as 1.0/0.0 in a new tensor."
    return op


def _comparison_methods(name: str, fn: Callable) -> tuple[Any, Any]:
    def op_(self: Any, other: Any) -> None:
        self.torch.copy_(fn(self.torch, operand(other)))

    def op(self: Any, other: Any) -> Any:
        return self.wrap(_float(fn(self.torch, operand(other))))

    op_.__name__, op.__name__ = f"{name}_", name
    op.__doc__ = f"`self {name} other` element-wise (scalar or tensor), as 1.0/0.0."
    op_.__doc__ = f"`self {name} other` element-wise, as 1.0/0.0 in place."
    return op_, op


def _logical_method(name: str, fn: Callable) -> Any:
    def op(cls: Any, A: Any, B: Any) -> Any:
        return cls.wrap(_float(fn(as_torch(A) != 0, as_torch(B) != 0)))

    op.__name__ = name
    op.__doc__ = f"`{name}` of two tensors (non-zero is true), as 1.0/0.0."
    return classmethod(op)


class MathMixin:
    """Element-wise and linear-algebra methods; the class sets `torch` and `wrap`."""

    torch: torch.Tensor

    # -- arithmetic with a scalar or a tensor ---------------------------------------------------
    def add_(self, other: float | Any) -> None:
        """Add a scalar or a tensor in place."""
        self.torch.add_(operand(other))

    def add(self, other: float | Any) -> Any:
        """`self + other` (scalar or tensor) as a new tensor; `Tensor.add(A, B)` as pyeddl."""
        return self.wrap(torch.add(self.torch, operand(other)))

    def sub_(self, other: float | Any) -> None:
        """Subtract a scalar or a tensor in place."""
        self.torch.sub_(operand(other))

    def sub(self, other: float | Any) -> Any:
        """`self - other` as a new tensor."""
        return self.wrap(torch.sub(self.torch, operand(other)))

    def mult_(self, other: float | Any) -> None:
        """Multiply element-wise by a scalar or a tensor in place."""
        self.torch.mul_(operand(other))

    def mult(self, other: float | Any) -> Any:
        """`self * other` element-wise as a new tensor."""
        return self.wrap(torch.mul(self.torch, operand(other)))

    def div_(self, other: float | Any) -> None:
        """Divide element-wise by a scalar or a tensor in place."""
        self.torch.div_(operand(other))

    def div(self, other: float | Any) -> Any:
        """`self / other` element-wise as a new tensor."""
        return self.wrap(torch.div(self.torch, operand(other)))

    def pow_(self, exp: float) -> None:
        """Raise every element to the power `exp`, in place."""
        self.torch.pow_(operand(exp))

    def pow(self, exp: float) -> Any:
        """Every element to the power `exp`, as a new tensor."""
        return self.wrap(torch.pow(self.torch, operand(exp)))

    def powb_(self, base: float) -> None:
        """`base ** x` for every element x, in place."""
        self.torch.copy_(torch.pow(float(base), self.torch))

    def powb(self, base: float) -> Any:
        """`base ** x` for every element x, as a new tensor."""
        return self.wrap(torch.pow(float(base), self.torch))

    def mod_(self, v: float) -> None:
        """Remainder of the division by `v` (sign of the dividend, C's fmod), in place."""
        self.torch.fmod_(float(v))

    def mod(self, v: float) -> Any:
        """Remainder of the division by `v` (C's fmod), as a new tensor."""
        return self.wrap(torch.fmod(self.torch, float(v)))

    def remainder_(self, v: float) -> None:
        """Remainder of the division by `v` with the divisor's sign (Python's %), in place."""
        self.torch.remainder_(float(v))

    def remainder(self, v: float) -> Any:
        """Remainder with the divisor's sign (Python's %), as a new tensor."""
        return self.wrap(torch.remainder(self.torch, float(v)))

    def logn_(self, n: float) -> None:
        """Logarithm in base `n`, in place."""
        self.torch.log_().div_(math.log(float(n)))

    def logn(self, n: float) -> Any:
        """Logarithm in base `n`, as a new tensor."""
        return self.wrap(torch.log(self.torch).div_(math.log(float(n))))

    def inv_(self, v: float = 1.0) -> None:
        """`v / x` for every element x, in place."""
        self.torch.reciprocal_().mul_(float(v))

    def inv(self, v: float = 1.0) -> Any:
        """`v / x` for every element x, as a new tensor."""
        return self.wrap(torch.reciprocal(self.torch).mul_(float(v)))

    # -- clamping and normalization -------------------------------------------------------------
    def clamp_(self, min: float, max: float) -> None:  # noqa: A002 (pyeddl names)
        """Clip the values to [min, max], in place."""
        self.torch.clamp_(float(min), float(max))

    def clamp(self, min: float, max: float) -> Any:  # noqa: A002
        """The values clipped to [min, max], as a new tensor."""
        return self.wrap(torch.clamp(self.torch, float(min), float(max)))

    def clampmax_(self, max: float) -> None:  # noqa: A002
        """Clip the values above `max`, in place."""
        self.torch.clamp_(max=float(max))

    def clampmax(self, max: float) -> Any:  # noqa: A002
        """The values clipped above `max`, as a new tensor."""
        return self.wrap(torch.clamp(self.torch, max=float(max)))

    def clampmin_(self, min: float) -> None:  # noqa: A002
        """Clip the values below `min`, in place."""
        self.torch.clamp_(min=float(min))

    def clampmin(self, min: float) -> Any:  # noqa: A002
        """The values clipped below `min`, as a new tensor."""
        return self.wrap(torch.clamp(self.torch, min=float(min)))

    def maximum(self, other: float | Any) -> Any:
        """Element-wise maximum with a scalar (a lower bound) or a tensor."""
        other = operand(other)
        if isinstance(other, float):
            return self.wrap(torch.clamp(self.torch, min=other))
        return self.wrap(torch.maximum(self.torch, other))

    def minimum(self, other: float | Any) -> Any:
        """Element-wise minimum with a scalar (an upper bound) or a tensor."""
        other = operand(other)
        if isinstance(other, float):
            return self.wrap(torch.clamp(self.torch, max=other))
        return self.wrap(torch.minimum(self.torch, other))

    def normalize_(self, min: float = 0.0, max: float = 1.0) -> None:  # noqa: A002
        """Rescale linearly in place: the minimum becomes `min`, the maximum `max`.

        `v' = (max - min) / (A_max - A_min) * (v - A_min) + min`; a constant tensor becomes `min`.
        """
        t = self.torch
        lo, hi = torch.aminmax(t)
        span = float(hi - lo)
        if span == 0.0:
            t.fill_(float(min))
            return
        t.sub_(lo).mul_((float(max) - float(min)) / span)
        if float(min) != 0.0:
            t.add_(float(min))

    def normalize(self, min: float = 0.0, max: float = 1.0) -> Any:  # noqa: A002
        """A copy rescaled linearly to [min, max] (see `normalize_`)."""
        out = self.clone()
        out.normalize_(min, max)
        return out

    # -- matrices -------------------------------------------------------------------------------
    def diag_(self, k: int = 0) -> None:
        """Keep the k-th diagonal of a square matrix and set the rest to zero, in place."""
        self.torch.copy_(self._diag(k))

    def diag(self, k: int = 0) -> Any:
        """A copy keeping only the k-th diagonal (0 main, >0 above, <0 below)."""
        return self.wrap(self._diag(k))

    def _diag(self, k: int) -> torch.Tensor:
        t = self.torch
        if t.dim() != 2 or t.shape[0] != t.shape[1]:
            raise TensorError(f"diag needs a square matrix, got shape {list(t.shape)}")
        return torch.diagflat(torch.diagonal(t, int(k)), int(k))

    def trace(self, k: int = 0) -> float:
        """Sum of the k-th diagonal of a matrix."""
        if self.torch.dim() != 2:
            raise TensorError(f"trace needs a matrix, got shape {list(self.torch.shape)}")
        return float(torch.diagonal(self.torch, int(k)).sum())

    @classmethod
    def mult2D(cls, A: Any, B: Any) -> Any:  # noqa: N802 (EDDL names)
        """Matrix product of two 2-D tensors."""
        a, b = as_torch(A), as_torch(B)
        if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
            raise TensorError(
                f"mult2D needs matrices (n×k)(k×m), got {list(a.shape)} and {list(b.shape)}"
            )
        return cls.wrap(torch.mm(a, b))

    @classmethod
    def interpolate(cls, factor1: float, A: Any, factor2: float, B: Any) -> Any:
        """`factor1 * A + factor2 * B` as a new tensor."""
        return cls.wrap(torch.add(as_torch(A) * float(factor1), as_torch(B), alpha=float(factor2)))

    @classmethod
    def where(cls, condition: Any, A: Any, B: Any) -> Any:
        """Elements of `A` where `condition` is non-zero, else of `B`."""
        return cls.wrap(torch.where(as_torch(condition) != 0, as_torch(A), as_torch(B)))

    def allclose(
        self,
        A: Any,
        rtol: float = 1e-5,
        atol: float = 1e-8,
        equal_nan: bool = False,
    ) -> bool:
        """True when every element is close to `A`'s (numpy's rule)."""
        return bool(torch.allclose(self.torch, as_torch(A).to(self.torch), rtol, atol, equal_nan))

    def isclose(
        self,
        A: Any,
        rtol: float = 1e-5,
        atol: float = 1e-8,
        equal_nan: bool = False,
    ) -> Any:
        """Element-wise closeness to `A`, as 1.0/0.0."""
        out = torch.isclose(self.torch, as_torch(A).to(self.torch), rtol, atol, equal_nan)
        return self.wrap(_float(out))


for _name, (_inplace, _fn, _what) in UNARY.items():
    _op_, _op = _unary_methods(_name, _inplace, _fn, _what)
    setattr(MathMixin, f"{_name}_", _op_)
    setattr(MathMixin, _name, _op)
for _name, _fn in PREDICATES.items():
    setattr(MathMixin, _name, _predicate_method(_name, _fn))
for _name, _fn in COMPARISONS.items():
    _op_, _op = _comparison_methods(_name, _fn)
    setattr(MathMixin, f"{_name}_", _op_)
    setattr(MathMixin, _name, _op)
for _name, _fn in LOGICAL.items():
    setattr(MathMixin, _name, _logical_method(_name, _fn))
