"""The C path of the new-tensor ops (`_fastcall.FastOp`) gives exactly what the Python ops give.

Each fast op keeps its Python function as `__wrapped__`; these tests compare the two on every op,
check that errors, keywords, subclasses and unset tensors go to the Python function, that no
reference leaks (counts of the class, the operands and the result), and that the package still
works when the extension cannot be imported (a new process where it is blocked).
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from deephealth.eddl import Tensor
from deephealth.eddl.tensor import TensorError
from deephealth.eddl.tensor._fastcall import FastOp  # built by `make install` (gcc: system deps)
from deephealth.eddl.tensor.math import ARITHMETIC, UNARY

A = np.linspace(0.5, 3.0, 24, dtype=np.float32).reshape(4, 6)
B = np.linspace(2.0, -1.0, 24, dtype=np.float32).reshape(4, 6)


def _fast(name: str) -> FastOp:
    op = inspect.getattr_static(Tensor, name)
    op = op.__func__ if isinstance(op, staticmethod) else op
    assert type(op) is FastOp, f"Tensor.{name} has no C path"
    return op


def test_every_new_tensor_op_has_the_c_path_and_its_python_twin():
    names = [*UNARY, *ARITHMETIC, "mult2D"]
    for name in names:
        op = _fast(name)
        assert op.__name__ == name and op.__doc__ == op.__wrapped__.__doc__
        assert inspect.signature(op) == inspect.signature(op.__wrapped__)
    assert str(inspect.signature(Tensor.fromarray(A).add)) == "(other: 'Any') -> 'Any'"
    assert isinstance(inspect.getattr_static(Tensor, "mult2D"), staticmethod)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops_equal_their_python_function(name):
    t = Tensor.fromarray(A)
    op = _fast(name)
    for got in (getattr(t, name)(), getattr(Tensor, name)(t), op(t)):
        want = op.__wrapped__(t)
        assert type(got) is Tensor and got.torch.data_ptr() != t.torch.data_ptr()
        torch.testing.assert_close(got.torch, want.torch, rtol=0, atol=0, equal_nan=True)
    np.testing.assert_array_equal(t.getdata(), A)


@pytest.mark.parametrize("name", sorted(ARITHMETIC))
def test_binary_ops_equal_their_python_function(name):
    t, u = Tensor.fromarray(A), Tensor.fromarray(B)
    op = _fast(name)
    want = op.__wrapped__(t, u)
    for got in (getattr(t, name)(u), getattr(Tensor, name)(t, u)):
        assert type(got) is Tensor
        torch.testing.assert_close(got.torch, want.torch, rtol=0, atol=0)
    # what the C path does not take goes to the Python function: numbers, arrays, keywords
    np.testing.assert_allclose(getattr(t, name)(2.0).getdata(), op.__wrapped__(t, 2.0).getdata())
    np.testing.assert_allclose(getattr(t, name)(B).getdata(), want.getdata())
    np.testing.assert_allclose(getattr(t, name)(other=u).getdata(), want.getdata())


def test_mult2d_equals_its_python_function_and_explains_bad_shapes():
    a, b = Tensor.fromarray(A), Tensor.fromarray(B.T.copy())
    got = Tensor.mult2D(a, b)
    assert type(got) is Tensor
    np.testing.assert_allclose(got.getdata(), A @ B.T, rtol=1e-6)
    # torch's error in the C path is dropped; the Python function words it for pyeddl users
    with pytest.raises(TensorError, match=r"mult2D needs matrices \(n×k\)\(k×m\)"):
        Tensor.mult2D(a, a)
    with pytest.raises(TypeError):
        Tensor.mult2D(a)


def test_errors_and_unusual_operands_behave_as_the_python_functions():
    t = Tensor.fromarray(A)
    with pytest.raises(RuntimeError, match="must match the size"):
        Tensor.add(t, Tensor([3, 3]))
    with pytest.raises(TypeError):
        Tensor.add(t)
    unset = object.__new__(Tensor)  # no `torch` slot yet: the Python function's AttributeError
    with pytest.raises(AttributeError):
        Tensor.add(unset, t)

    class Sub(Tensor):
        __slots__ = ()

    s = Sub.wrap(torch.from_numpy(A.copy()))
    assert type(s.sqrt()) is Sub and type(Sub.add(s, s)) is Sub  # subclasses keep their class


def test_no_reference_leaks():
    t, u = Tensor.fromarray(A), Tensor.fromarray(B)
    before = (sys.getrefcount(Tensor), sys.getrefcount(t.torch), sys.getrefcount(u.torch))
    for _ in range(2000):
        Tensor.add(t, u)
        t.sqrt()
        Tensor.mult2D(t, Tensor.fromarray(B.T.copy()))
        try:
            Tensor.add(t, Tensor([2, 2]))
        except RuntimeError:
            pass
    after = (sys.getrefcount(Tensor), sys.getrefcount(t.torch), sys.getrefcount(u.torch))
    assert after == before
    r = Tensor.add(t, u)
    held = sys.getrefcount(r.torch)  # outside `assert`: pytest's rewrite holds one more
    assert held == 2  # the result's slot and the call's argument


def test_the_package_works_without_the_extension():
    code = textwrap.dedent(
        """
        import sys, inspect
        sys.modules["deephealth.eddl.tensor._fastcall"] = None  # as if it was never built
        import numpy as np
        from deephealth.eddl import Tensor
        assert inspect.isfunction(inspect.getattr_static(Tensor, "add"))
        t = Tensor.fromarray(np.array([[1.0, 4.0], [9.0, 16.0]], np.float32))
        print(Tensor.add(t, t).getdata().tolist(), t.sqrt().getdata().tolist(),
              Tensor.mult2D(t, t).getdata().tolist())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert (
        out.stdout.split()
        == (
            "[[2.0, 8.0], [18.0, 32.0]] [[1.0, 2.0], [3.0, 4.0]] [[37.0, 68.0], [153.0, 292.0]]"
        ).split()
    )
