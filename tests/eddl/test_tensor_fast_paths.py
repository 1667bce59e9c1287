"""The Tensor's fast paths give pyeddl's results: new-tensor ops, `select`, outputs written in place.

The per-call work of `add`/`sqrt`/`mult2D`/`select` was cut (bench/bench_tensor.py); these tests
pin what must not change with it: values against numpy, result types, copies that do not alias
their inputs, every kind of operand, and `output` tensors filled without a new allocation
(counted by torch's profiler).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from deephealth.eddl import Tensor
from deephealth.eddl.tensor import TensorError

A = np.arange(1, 31, dtype=np.float32).reshape(5, 6)


class Sub(Tensor):
    """A user subclass: new-tensor ops keep its class (as before the fast paths)."""

    __slots__ = ()


def _allocated(fn) -> int:
    """Bytes torch allocated on the CPU while `fn` ran (frees not subtracted)."""
    # the legacy (non-kineto) profiler: kineto's first start takes seconds
    with torch.autograd.profiler.profile(profile_memory=True, use_kineto=False) as prof:
        fn()
    return sum(max(e.self_cpu_memory_usage, 0) for e in prof.function_events)


@pytest.mark.parametrize(
    "indices",
    [
        ["1:-1"],
        [":"],
        ["3:1"],
        ["-2:"],
        ["10:20"],
        ["::2"],
        ["1::2"],
        "1:3",
        ["1:3", "2"],
        ["2"],
        ["-1"],
        ["1:4", "::2"],
        [":", "2:5"],
    ],
)
def test_select_matches_numpy_and_copies(indices):
    t = Tensor.fromarray(A)
    parts = [indices] if isinstance(indices, str) else indices
    key = tuple(
        slice(int(p), int(p) + 1 or None)
        if ":" not in p
        else slice(*[int(x) if x else None for x in p.split(":")])
        for p in parts
    )
    got = t.select(indices)
    assert type(got) is Tensor and got.torch.is_contiguous()
    np.testing.assert_array_equal(got.getdata(), A[key])
    if got.size:
        got.torch.fill_(-1.0)  # a copy: the source keeps its values
        np.testing.assert_array_equal(t.getdata(), A)


def test_select_of_a_large_tensor_copies_as_a_small_one():
    from deephealth.eddl.tensor.shape import NARROW_COPY_MAX

    big = np.arange(NARROW_COPY_MAX * 2, dtype=np.float32).reshape(256, -1)  # the `clone` path
    t = Tensor.fromarray(big)
    for indices, expected in ((["1:-1"], big[1:-1]), (["3:3"], big[3:3]), (["-2:"], big[-2:])):
        got = t.select(indices)
        np.testing.assert_array_equal(got.getdata(), expected)
        assert got.torch.is_contiguous() and got.torch.data_ptr() != t.torch.data_ptr()


def test_select_errors_and_other_ranks():
    t = Tensor.fromarray(A)
    with pytest.raises(TensorError, match="3 indices for a 2-D tensor"):
        t.select(["1:2", ":", ":"])
    with pytest.raises(TensorError, match="index 7 is outside a dimension of size 5"):
        t.select(["7"])
    with pytest.raises(TensorError, match="1 indices for a 0-D tensor"):
        Tensor.fromarray(np.float32(3.0)).select(["0:1"])
    v = Tensor.fromarray(np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(v.select(["1:3"]).getdata(), [1, 2])
    assert type(Sub.fromarray(A).select(["1:3"])) is Tensor  # fromarray makes a Tensor
    assert type(Sub.wrap(torch.ones(4, 2)).select(["1:3"])) is Sub


@pytest.mark.parametrize("name", ["add", "sub", "mult", "div"])
def test_arithmetic_new_tensor_with_every_operand(name):
    ref = {"add": np.add, "sub": np.subtract, "mult": np.multiply, "div": np.divide}[name]
    t, b = Tensor.fromarray(A), A[::-1].copy()
    for other in (
        Tensor.fromarray(b),
        b,
        torch.from_numpy(b.copy()),
        b.tolist(),
        2,
        2.5,
        np.float32(2.5),
        Sub.wrap(torch.from_numpy(b.copy())),
    ):
        expected = ref(A, np.asarray(other, np.float32) if not isinstance(other, Tensor) else b)
        for got in (getattr(t, name)(other), getattr(Tensor, name)(t, other)):
            assert type(got) is Tensor
            np.testing.assert_allclose(got.getdata(), expected, rtol=1e-6)
    np.testing.assert_array_equal(t.getdata(), A)  # operands untouched
    s = getattr(Sub.wrap(torch.from_numpy(A.copy())), name)(Tensor.fromarray(b))
    assert type(s) is Sub


@pytest.mark.parametrize("name", ["add_", "sub_", "mult_", "div_"])
def test_arithmetic_in_place_keeps_the_buffer(name):
    ref = {"add_": np.add, "sub_": np.subtract, "mult_": np.multiply, "div_": np.divide}[name]
    b = A[::-1].copy()
    for other in (Tensor.fromarray(b), b, 2.0, Sub.wrap(torch.from_numpy(b.copy()))):
        t = Tensor.fromarray(A)
        view = np.asarray(t)
        assert getattr(t, name)(other) is None
        np.testing.assert_allclose(view, ref(A, np.asarray(other, np.float32)), rtol=1e-6)


def test_unary_new_tensors():
    t = Tensor.fromarray(A)
    for name, ref in (("sqrt", np.sqrt), ("exp", np.exp), ("abs", np.abs), ("sqr", np.square)):
        for got in (getattr(t, name)(), getattr(Tensor, name)(t)):
            assert type(got) is Tensor and got.torch.data_ptr() != t.torch.data_ptr()
            np.testing.assert_allclose(got.getdata(), ref(A), rtol=1e-6)
    assert type(Sub.wrap(torch.ones(3)).sqrt()) is Sub


def test_mult2d_is_static_and_accepts_arrays():
    assert isinstance(inspect.getattr_static(Tensor, "mult2D"), staticmethod)
    b = A.T.copy()
    for left, right in (
        (Tensor.fromarray(A), Tensor.fromarray(b)),
        (A, b),
        (Tensor.fromarray(A), b),
    ):
        got = Tensor.mult2D(left, right)
        assert type(got) is Tensor
        np.testing.assert_allclose(got.getdata(), A @ b, rtol=1e-6)
    with pytest.raises(
        TensorError, match=r"mult2D needs matrices \(n×k\)\(k×m\), got \[5, 6\] and \[5, 6\]"
    ):
        Tensor.mult2D(Tensor.fromarray(A), Tensor.fromarray(A))


def test_outputs_are_filled_without_allocating():
    t = Tensor.fromarray(A)
    cases = [
        (lambda out: Tensor.concat([t, t], 0, out), [10, 6], np.concatenate([A, A], 0)),
        (lambda out: Tensor.concat([t, t], -1, out), [5, 12], np.concatenate([A, A], 1)),
        (lambda out: Tensor.stack([t, t], 1, out), [5, 2, 6], np.stack([A, A], 1)),
        (lambda out: Tensor.stack([t, t], -1, out), [5, 6, 2], np.stack([A, A], -1)),
        (lambda out: Tensor.transpose(t, out, [1, 0]), [6, 5], A.T),
        (
            lambda out: Tensor.broadcast(Tensor.fromarray(A[0]), Tensor([5, 6]), out),
            [5, 6],
            np.broadcast_to(A[0], (5, 6)),
        ),
    ]
    outs = []
    for fill, shape, expected in cases:
        out = Tensor(shape)
        view, ptr = np.asarray(out), out.torch.data_ptr()
        assert fill(out) is out
        assert out.torch.data_ptr() == ptr
        np.testing.assert_array_equal(view, expected)
        outs.append((fill, out))
    assert _allocated(lambda: [fill(out) for fill, out in outs]) == 0
    assert _allocated(lambda: Tensor.concat([t, t], 0)) > 0  # the counter does see allocations


def test_outputs_that_overlap_their_inputs():
    s = np.arange(16, dtype=np.float32).reshape(4, 4)
    sq = Tensor.fromarray(s)
    assert Tensor.transpose(sq, sq, [1, 0]) is sq  # in place: copied before being overwritten
    np.testing.assert_array_equal(sq.getdata(), s.T)
    out = Tensor.fromarray(np.concatenate([A, A]))
    head = Tensor.wrap(out.torch[:5])  # an input that is a view of the output
    Tensor.concat([head, Tensor.fromarray(A)], 0, out)
    np.testing.assert_array_equal(out.getdata(), np.concatenate([A, A]))
    with pytest.raises(TensorError, match=r"output has shape \[9, 6\], the result \[10, 6\]"):
        Tensor.concat([Tensor.fromarray(A)] * 2, 0, Tensor([9, 6]))
    with pytest.raises(TensorError, match="concat along axis 0 of shapes"):
        Tensor.concat([Tensor.fromarray(A), Tensor([2, 2])], 0, Tensor([7, 6]))
    with pytest.raises(TensorError, match="concat along axis 5"):
        Tensor.concat([Tensor.fromarray(A)] * 2, 5, Tensor([10, 6]))
    with pytest.raises(TensorError, match=r"output has shape \[5, 5\], the result \[6, 5\]"):
        Tensor.transpose(Tensor.fromarray(A), Tensor([5, 5]), [1, 0])
