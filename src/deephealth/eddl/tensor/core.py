"""The `Tensor` class: one float32 torch tensor (`t.torch`) with pyeddl's API.

Creation, device moves, data access, copies, files and Python operators are here; element-wise math,
reductions, shape ops and image transforms come from the mixins of `math`, `reduce`, `shape` and
`image`. On the CPU `np.array(t, copy=False)` and `np.asarray(t)` are views of the same memory, so
in-place numpy edits show in the tensor and vice versa.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from deephealth.eddl.tensor import io
from deephealth.eddl.tensor._base import (
    DEV_CPU,
    DEV_GPU,
    TensorError,
    as_torch,
    device_of,
    new,
    operand,
    shape_list,
)
from deephealth.eddl.tensor.image import ImageMixin
from deephealth.eddl.tensor.math import ARITHMETIC, UNARY, MathMixin
from deephealth.eddl.tensor.reduce import ReduceMixin
from deephealth.eddl.tensor.shape import ShapeMixin


def host_copy(array: np.ndarray) -> torch.Tensor:
    """A float32 copy of `array` in memory allocated by numpy, shared with torch.

    numpy advises the kernel to back large arrays with transparent huge pages, torch's CPU
    allocator does not; reading a large tensor in huge pages is measurably faster (fewer TLB
    misses), so tensors made from data (`fromarray`, `Tensor(shape)`) use numpy's allocator.
    """
    return torch.from_numpy(np.array(array, dtype=np.float32, order="C", copy=True))


class Tensor(MathMixin, ReduceMixin, ShapeMixin, ImageMixin):
    """An n-dimensional float32 array with pyeddl's API.

    Args:
        shape: Shape of a new zero-filled tensor, or an array-like to copy (as `fromarray`).
        dev: `DEV_CPU` or `DEV_GPU` (+ GPU index).
    """

    __slots__ = ("torch",)
    __array_priority__ = 10

    def __init__(
        self, shape: Sequence[int] | np.ndarray | torch.Tensor | Tensor = (), dev: int = DEV_CPU
    ):
        device = device_of(dev)
        if isinstance(shape, (np.ndarray, torch.Tensor, Tensor)):
            src = as_torch(shape).detach()
            if device.type == "cpu":
                self.torch = host_copy(src.cpu().numpy())
            else:
                self.torch = src.to(device, torch.float32, copy=True)
        elif device.type == "cpu":
            self.torch = torch.from_numpy(np.zeros(shape_list(shape), np.float32))
        else:
            self.torch = torch.zeros(shape_list(shape), dtype=torch.float32, device=device)

    @classmethod
    def wrap(cls, t: torch.Tensor) -> Tensor:
        """A Tensor sharing `t`'s memory (no copy, no dtype change)."""
        obj = cls.__new__(cls)
        obj.torch = t
        return obj

    # -- creation -------------------------------------------------------------------------------
    @staticmethod
    def fromarray(array: Any, dev: int = DEV_CPU) -> Tensor:
        """A float32 copy of a numpy array (or array-like)."""
        return Tensor(np.asarray(array, dtype=np.float32), dev)

    @staticmethod
    def zeros(shape: Sequence[int], dev: int = DEV_CPU) -> Tensor:
        """A tensor filled with 0."""
        return Tensor.full(shape, 0.0, dev)

    @staticmethod
    def ones(shape: Sequence[int], dev: int = DEV_CPU) -> Tensor:
        """A tensor filled with 1."""
        return Tensor.full(shape, 1.0, dev)

    @staticmethod
    def full(shape: Sequence[int], value: float, dev: int = DEV_CPU) -> Tensor:
        """A tensor filled with `value`."""
        device = device_of(dev)
        if device.type == "cpu":
            return Tensor.wrap(torch.from_numpy(np.full(shape_list(shape), value, np.float32)))
        return Tensor.wrap(torch.full(shape_list(shape), float(value), device=device))

    @staticmethod
    def empty(shape: Sequence[int], dev: int = DEV_CPU) -> Tensor:
        """An uninitialized tensor."""
        return Tensor.wrap(torch.empty(shape_list(shape), device=device_of(dev)))

    @staticmethod
    def zeros_like(A: Tensor) -> Tensor:
        """Zeros with `A`'s shape and device."""
        return Tensor.wrap(torch.zeros_like(as_torch(A), dtype=torch.float32))

    @staticmethod
    def ones_like(A: Tensor) -> Tensor:
        """Ones with `A`'s shape and device."""
        return Tensor.wrap(torch.ones_like(as_torch(A), dtype=torch.float32))

    @staticmethod
    def full_like(A: Tensor, value: float) -> Tensor:
        """`value` with `A`'s shape and device."""
        return Tensor.wrap(torch.full_like(as_torch(A), float(value), dtype=torch.float32))

    @staticmethod
    def empty_like(A: Tensor) -> Tensor:
        """Uninitialized, with `A`'s shape and device."""
        return Tensor.wrap(torch.empty_like(as_torch(A), dtype=torch.float32))

    @staticmethod
    def arange(start: float, end: float, step: float = 1.0, dev: int = DEV_CPU) -> Tensor:
        """Values from `start` to `end` (excluded) every `step`."""
        if step == 0:
            raise TensorError("arange needs a non-zero step")
        return Tensor.wrap(
            torch.arange(start, end, step, dtype=torch.float32, device=device_of(dev))
        )

    @staticmethod
    def range(start: float, end: float, step: float = 1.0, dev: int = DEV_CPU) -> Tensor:
        """`floor((end - start) / step) + 1` values from `start` every `step` (EDDL's `range`)."""
        if step == 0:
            raise TensorError("range needs a non-zero step")
        n = int(np.floor((end - start) / step + 1e-6)) + 1
        return Tensor.wrap(start + step * torch.arange(max(n, 0), device=device_of(dev)).float())

    @staticmethod
    def linspace(start: float, end: float, steps: int = 100, dev: int = DEV_CPU) -> Tensor:
        """`steps` evenly spaced values from `start` to `end` (both included)."""
        return Tensor.wrap(torch.linspace(start, end, int(steps), device=device_of(dev)))

    @staticmethod
    def logspace(
        start: float, end: float, steps: int = 100, base: float = 10.0, dev: int = DEV_CPU
    ) -> Tensor:
        """`steps` values from `base**start` to `base**end`, evenly spaced on a log scale."""
        return Tensor.wrap(torch.logspace(start, end, int(steps), base, device=device_of(dev)))

    @staticmethod
    def geomspace(start: float, end: float, steps: int = 100, dev: int = DEV_CPU) -> Tensor:
        """`steps` values from `start` to `end` in a geometric progression."""
        if start <= 0 or end <= 0:
            raise TensorError(f"geomspace needs positive ends, got {start} and {end}")
        return Tensor.logspace(float(np.log10(start)), float(np.log10(end)), steps, 10.0, dev)

    @staticmethod
    def eye(size: int, offset: int = 0, dev: int = DEV_CPU) -> Tensor:
        """A `size`×`size` matrix with ones on the diagonal `offset`."""
        t = torch.zeros(int(size), int(size), device=device_of(dev))
        t.diagonal(int(offset)).fill_(1.0)
        return Tensor.wrap(t)

    @staticmethod
    def identity(size: int, dev: int = DEV_CPU) -> Tensor:
        """The `size`×`size` identity matrix."""
        return Tensor.eye(size, 0, dev)

    @staticmethod
    def randu(shape: Sequence[int], dev: int = DEV_CPU) -> Tensor:
        """Uniform random values in [0, 1) (torch's global generator)."""
        return Tensor.wrap(torch.rand(shape_list(shape)).to(device_of(dev)))

    @staticmethod
    def randn(shape: Sequence[int], dev: int = DEV_CPU) -> Tensor:
        """Standard normal random values (torch's global generator)."""
        return Tensor.wrap(torch.randn(shape_list(shape)).to(device_of(dev)))

    @staticmethod
    def onehot(in_: Tensor | Any, vocs: int) -> Tensor:
        """One-hot encode integer class labels: shape S → S + [vocs]."""
        labels = as_torch(in_)
        flat = labels.reshape(-1)
        if flat.numel() and (flat.min() < 0 or flat.max() >= vocs or (flat != flat.round()).any()):
            raise TensorError(
                f"onehot needs integer labels in [0, {vocs}), got values in "
                f"[{flat.min().item()}, {flat.max().item()}]"
            )
        out = torch.nn.functional.one_hot(flat.long(), int(vocs)).float()
        return Tensor.wrap(out.reshape(*labels.shape, int(vocs)).to(labels.device))

    # -- random fills ---------------------------------------------------------------------------
    def fill_rand_uniform_(self, v: float = 1.0) -> None:
        """Uniform random values in [0, v), in place."""
        self.torch.uniform_(0.0, float(v))

    def fill_rand_signed_uniform_(self, v: float = 1.0) -> None:
        """Uniform random values in [-v, v), in place."""
        self.torch.uniform_(-float(v), float(v))

    def fill_rand_normal_(self, m: float = 0.0, s: float = 1.0, fast_math: bool = True) -> None:
        """Normal random values of mean `m` and deviation `s`, in place."""
        self.torch.normal_(float(m), float(s))

    def fill_rand_binary_(self, v: float = 0.5) -> None:
        """1.0 with probability `v`, else 0.0, in place."""
        self.torch.copy_(torch.rand_like(self.torch) < float(v))

    def fill_(self, v: float) -> None:
        """Set every element to `v`."""
        self.torch.fill_(float(v))

    def fill(self, v: float) -> Tensor:
        """A tensor of this shape filled with `v`."""
        return Tensor.wrap(torch.full_like(self.torch, float(v)))

    # -- data access ----------------------------------------------------------------------------
    def getdata(self) -> np.ndarray:
        """A numpy copy of the data."""
        return self.torch.detach().cpu().numpy().copy()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if self.torch.device.type != "cpu":
            if copy is False:
                raise ValueError("a GPU Tensor cannot be viewed as numpy without a copy")
            arr = self.torch.detach().cpu().numpy()
        else:
            arr = self.torch.detach().numpy()
            if copy:
                arr = arr.copy()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def numpy(self) -> np.ndarray:
        """The data as numpy (a view on the CPU)."""
        return np.asarray(self)

    @property
    def shape(self) -> list[int]:
        """The shape as a list (pyeddl's `t.shape`)."""
        return list(self.torch.shape)

    def getShape(self) -> list[int]:
        """The shape as a list."""
        return self.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.torch.dim()

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.torch.numel()

    def numel(self) -> int:
        """Number of elements."""
        return self.torch.numel()

    @property
    def stride(self) -> list[int]:
        """Elements to skip per step along each axis (row-major, as EDDL)."""
        return list(self.torch.contiguous().stride())

    @property
    def device(self) -> int:
        """The EDDL device number: `DEV_CPU` or `DEV_GPU` + index."""
        t = self.torch
        return DEV_CPU if t.device.type == "cpu" else DEV_GPU + (t.device.index or 0)

    def isCPU(self) -> bool:
        """True when the data lives in host memory."""
        return self.torch.device.type == "cpu"

    def isGPU(self) -> bool:
        """True when the data lives on a CUDA device."""
        return self.torch.device.type == "cuda"

    def isFPGA(self) -> bool:
        """Always False: no FPGA back-end."""
        return False

    def toCPU(self) -> None:
        """Move the data to the CPU (in place, as pyeddl)."""
        self.torch = self.torch.cpu()

    def toGPU(self, dev: int = DEV_GPU) -> None:
        """Move the data to a CUDA GPU (in place); raises when none exists."""
        self.torch = self.torch.to(device_of(dev))

    def toDevice(self, dev: int) -> None:
        """Move the data to the EDDL device `dev` (in place)."""
        self.torch = self.torch.to(device_of(dev))

    @staticmethod
    def getDeviceID(dev: str) -> int:
        """The device number of a device name: "cpu" or "cuda"/"gpu"."""
        name = str(dev).lower()
        if name == "cpu":
            return DEV_CPU
        if name in ("cuda", "gpu", "cudnn"):
            return DEV_GPU
        raise TensorError(f"unknown device name {dev!r}; use 'cpu' or 'cuda'")

    @staticmethod
    def hardware_supported() -> list[str]:
        """The back-ends this installation can run: "cpu", plus "cuda" with a CUDA GPU."""
        return ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]

    @staticmethod
    def is_hardware_supported(hardware: str) -> bool:
        """True when `hardware` ("cpu", "cuda", "cudnn", "fpga") can run here."""
        name = str(hardware).lower()
        return name in Tensor.hardware_supported() or (
            name == "cudnn" and torch.cuda.is_available()
        )

    def clone(self) -> Tensor:
        """A deep copy on the same device."""
        return Tensor.wrap(self.torch.clone())

    @staticmethod
    def copy(A: Tensor, B: Tensor) -> None:
        """Copy the data of `A` into `B` (same number of elements)."""
        a, b = as_torch(A), as_torch(B)
        if a.numel() != b.numel():
            raise TensorError(f"copy: {list(a.shape)} and {list(b.shape)} differ in size")
        b.copy_(a.reshape(b.shape))

    def sameShape(self, A: Tensor) -> bool:  # noqa: N802
        """True when `A` has this shape."""
        return list(as_torch(A).shape) == self.shape

    def sameSize(self, A: Tensor) -> bool:  # noqa: N802
        """True when `A` has this number of elements."""
        return as_torch(A).numel() == self.size

    def sameDevice(self, A: Tensor) -> bool:  # noqa: N802
        """True when `A` lives on this device."""
        return as_torch(A).device == self.torch.device

    @staticmethod
    def eqsize(A: Tensor, B: Tensor) -> bool:
        """True when `A` and `B` have the same shape."""
        return list(as_torch(A).shape) == list(as_torch(B).shape)

    def isSquared(self) -> bool:
        """True when every dimension has the same size."""
        return len(set(self.shape)) <= 1

    # -- linear algebra (a static method here, where the class is known: no bound method) ----
    @staticmethod
    def mult2D(A: Tensor, B: Tensor) -> Tensor:  # noqa: N802 (EDDL name)
        """Matrix product of two 2-D tensors, as a new tensor."""
        try:  # two Tensors: no conversion, shapes checked by torch (errors explained below)
            a, b = A.torch, B.torch
        except AttributeError:  # numpy arrays, torch tensors, ...
            a, b = as_torch(A), as_torch(B)
        try:
            result = torch.mm(a, b)
        except RuntimeError as err:
            if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
                raise TensorError(
                    f"mult2D needs matrices (n×k)(k×m), got {list(a.shape)} and {list(b.shape)}"
                ) from None
            raise TensorError(f"mult2D of {list(a.shape)} and {list(b.shape)}: {err}") from err
        out = new(Tensor)
        out.torch = result
        return out

    # -- Python operators -----------------------------------------------------------------------
    def __neg__(self) -> Tensor:
        return Tensor.wrap(-self.torch)

    def __add__(self, other: float | Tensor) -> Tensor:
        return Tensor.wrap(self.torch + operand(other))

    def __sub__(self, other: float | Tensor) -> Tensor:
        return Tensor.wrap(self.torch - operand(other))

    def __rsub__(self, other: float | Tensor) -> Tensor:
        return Tensor.wrap(operand(other) - self.torch)

    def __mul__(self, other: float | Tensor) -> Tensor:
        return Tensor.wrap(self.torch * operand(other))

    def __truediv__(self, other: float | Tensor) -> Tensor:
        return Tensor.wrap(self.torch / operand(other))

    def __rtruediv__(self, other: float | Tensor) -> Tensor:
        return Tensor.wrap(operand(other) / self.torch)

    __radd__ = __add__
    __rmul__ = __mul__

    def __len__(self) -> int:
        return self.torch.shape[0] if self.torch.dim() else 0

    # -- printing -------------------------------------------------------------------------------
    def info(self) -> None:
        """Print shape, device and value range."""
        lo, hi = (self.min(), self.max()) if self.size else (float("nan"), float("nan"))
        print(
            f"Tensor shape={self.shape} stride={self.stride} device={self.torch.device} "
            f"min={lo:.4g} max={hi:.4g}"
        )

    def print(self, precision: int = 6, raw: bool = False) -> None:
        """Print the values."""
        with np.printoptions(precision=int(precision)):
            print(self.getdata())

    def __repr__(self) -> str:
        return f"Tensor(shape={self.shape}, device={self.torch.device})"

    # -- files ----------------------------------------------------------------------------------
    @staticmethod
    def load(filename: str | os.PathLike, format: str = "") -> Tensor:  # noqa: A002 (pyeddl name)
        """Read a tensor from `.npy`, EDDL `.bin`, `.csv/.tsv/.txt` or an image file.

        Raises:
            FileNotFoundError: naming the file.
            TensorError: for an unknown format or a truncated/corrupt `.bin` file.
        """
        return Tensor.wrap(torch.from_numpy(io.load_array(filename, format)))

    def save(self, filename: str | os.PathLike, format: str = "") -> None:  # noqa: A002
        """Write the tensor as `.npy`, EDDL `.bin`, `.csv/.tsv/.txt` (2-D) or an image (C×H×W)."""
        io.save_array(self.getdata(), filename, format)


def _install_fast_ops(cls: type[Tensor]) -> None:
    """Give the new-tensor ops their C path (`_fastcall.FastOp`) when the extension is built.

    Each op keeps its Python function as the fallback (`op.__wrapped__`): the C path only handles
    the common call, all arguments exactly `Tensor`, and returns what that function would.
    """
    try:
        from deephealth.eddl.tensor._fastcall import FastOp
    except ImportError:  # built without a C compiler: the Python functions stay
        return
    for name, (_inplace, fn, _what) in UNARY.items():
        setattr(cls, name, FastOp(fn, getattr(MathMixin, name), cls, 1))
    for name, (_inplace, fn, _symbol) in ARITHMETIC.items():
        setattr(cls, name, FastOp(fn, getattr(MathMixin, name), cls, 2))
    mult2d = FastOp(torch.mm, cls.__dict__["mult2D"].__func__, cls, 2)
    setattr(cls, "mult2D", staticmethod(mult2d))  # noqa: B010 (mypy: no assignment to a method)


_install_fast_ops(Tensor)
