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

from deephealth.eddl.tensor._base import TensorError, as_torch, new, operand

# name: (in-place on a torch tensor, out-of-place, what it computes); the out-of-place forms are
# torch's methods called unbound, a few % cheaper per call than the `torch.*` functions (which
# also parse an `out=`): that shows on small tensors (bench/bench_tensor.py)
UNARY: dict[
    str, tuple[Callable[[torch.Tensor], Any], Callable[[torch.Tensor], torch.Tensor], str]
] = {
    "abs": (torch.Tensor.abs_, torch.Tensor.abs, "absolute value"),
    "acos": (torch.Tensor.acos_, torch.Tensor.acos, "arc cosine"),
    "asin": (torch.Tensor.asin_, torch.Tensor.asin, "arc sine"),
    "atan": (torch.Tensor.atan_, torch.Tensor.atan, "arc tangent"),
    "ceil": (torch.Tensor.ceil_, torch.Tensor.ceil, "ceiling"),
    "cos": (torch.Tensor.cos_, torch.Tensor.cos, "cosine"),
    "cosh": (torch.Tensor.cosh_, torch.Tensor.cosh, "hyperbolic cosine"),
    "exp": (torch.Tensor.exp_, torch.Tensor.exp, "exponential"),
    "floor": (torch.Tensor.floor_, torch.Tensor.floor, "floor"),
    "log": (torch.Tensor.log_, torch.Tensor.log, "natural logarithm"),
    "log2": (torch.Tensor.log2_, torch.Tensor.log2, "base-2 logarithm"),
    "log10": (torch.Tensor.log10_, torch.Tensor.log10, "base-10 logarithm"),
    "neg": (torch.Tensor.neg_, torch.Tensor.neg, "negation"),
    "reciprocal": (torch.Tensor.reciprocal_, torch.Tensor.reciprocal, "reciprocal 1/x"),
    "round": (torch.Tensor.round_, torch.Tensor.round, "rounding (halves to even, as numpy)"),
    "rsqrt": (torch.Tensor.rsqrt_, torch.Tensor.rsqrt, "reciprocal square root"),
    "sigmoid": (torch.Tensor.sigmoid_, torch.Tensor.sigmoid, "logistic sigmoid"),
    "sign": (torch.Tensor.sign_, torch.Tensor.sign, "sign (-1, 0, 1)"),
    "sin": (torch.Tensor.sin_, torch.Tensor.sin, "sine"),
    "sinh": (torch.Tensor.sinh_, torch.Tensor.sinh, "hyperbolic sine"),
    "sqr": (torch.Tensor.square_, torch.Tensor.square, "square"),
    "sqrt": (torch.Tensor.sqrt_, torch.Tensor.sqrt, "square root"),
    "tan": (torch.Tensor.tan_, torch.Tensor.tan, "tangent"),
    "tanh": (torch.Tensor.tanh_, torch.Tensor.tanh, "hyperbolic tangent"),
    "trunc": (torch.Tensor.trunc_, torch.Tensor.trunc, "truncation toward zero"),
}

# name: (in-place torch method, out-of-place torch function, the operator) for a scalar or a tensor
ARITHMETIC: dict[str, tuple[Callable[..., Any], Callable[..., torch.Tensor], str]] = {
    "add": (torch.Tensor.add_, torch.add, "+"),
    "sub": (torch.Tensor.sub_, torch.sub, "-"),
    "mult": (torch.Tensor.mul_, torch.mul, "*"),
    "div": (torch.Tensor.div_, torch.div, "/"),
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
        result = fn(self.torch)
        out = new(type(self))
        out.torch = result
        return out

    op_.__name__, op.__name__ = f"{name}_", name
    op_.__doc__ = f"Element-wise {what}, in place."
    op.__doc__ = f"Element-wise {what}, as a new tensor."
    return op_, op


def _arithmetic_methods(
    name: str, inplace_fn: Callable, fn: Callable, symbol: str
) -> tuple[Any, Any]:
    """`name_(other)` in place and `name(other)` new, other a scalar or a tensor.

    A Tensor of the same class is recognised by its type (cheaper than `getattr`); a Python
    number or a torch tensor goes to torch as is; only what torch rejects (numpy arrays, lists,
    ...) goes through `operand`. Each call costs a Python frame, one type test and one new
    object over the torch call (bench/bench_tensor.py).
    """

    def op_(self: Any, other: Any) -> None:
        if type(other) is type(self):
            inplace_fn(self.torch, other.torch)
            return
        try:
            inplace_fn(self.torch, other)
        except TypeError:
            inplace_fn(self.torch, operand(other))

    def op(self: Any, other: Any) -> Any:
        cls = type(self)
        if type(other) is cls:
            result = fn(self.torch, other.torch)
        else:
            try:
                result = fn(self.torch, other)
            except TypeError:
                result = fn(self.torch, operand(other))
        out = new(cls)
        out.torch = result
        return out

    op_.__name__, op.__name__ = f"{name}_", name
    op_.__doc__ = f"`self {symbol}= other` element-wise (a scalar or a tensor), in place."
    op.__doc__ = (
        f"`self {symbol} other` element-wise as a new tensor; `Tensor.{name}(A, B)` as pyeddl."
    )
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

    __slots__ = ()  # Tensor instances hold only `torch`: no __dict__ (faster to make)

    torch: torch.Tensor

    # -- arithmetic with a scalar or a tensor: `add`, `sub`, `mult`, `div` (see ARITHMETIC) ------
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
for _name, (_inplace, _fn, _what) in ARITHMETIC.items():
    _op_, _op = _arithmetic_methods(_name, _inplace, _fn, _what)
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
