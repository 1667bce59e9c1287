"""pyeddl's `Tensor`, backed by a `torch.Tensor`.

`from deephealth.eddl import Tensor` replaces `from pyeddl.tensor import Tensor`. A `Tensor` wraps
one float32 torch tensor (`t.torch`); on the CPU `np.array(t)` and `np.asarray(t)` return a view of
the same memory, so in-place numpy edits show in the tensor and vice versa. Files: `.npy` (numpy),
`.bin` (EDDL's binary layout: int32 ndim, int32 shape, float32 row-major data), `.csv/.tsv/.txt` (2-D)
and images (`.png`, `.jpg`, `.bmp`, ...; loaded as C×H×W floats in [0, 255], as EDDL does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deephealth.errors import EddlError

DEV_CPU = 0
DEV_GPU = 1000

_IMAGE_FORMATS = {"png", "jpg", "jpeg", "bmp", "tga", "tif", "tiff"}
_TEXT_DELIMITERS = {"csv": ",", "tsv": "\t", "txt": " "}


class TensorError(EddlError, ValueError):
    """A Tensor operation got input it cannot handle (shape, file, format)."""


def _device(dev: int) -> torch.device:
    if dev == DEV_CPU:
        return torch.device("cpu")
    if DEV_GPU <= dev < DEV_GPU + 100:
        if not torch.cuda.is_available():
            raise TensorError(
                "a GPU tensor was asked for (dev=DEV_GPU) but no CUDA GPU is available"
            )
        return torch.device("cuda", dev - DEV_GPU)
    raise TensorError(f"unknown device {dev}; use DEV_CPU ({DEV_CPU}) or DEV_GPU ({DEV_GPU})")


def _shape(shape: Sequence[int] | int) -> list[int]:
    dims = [int(shape)] if isinstance(shape, (int, np.integer)) else [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise TensorError(f"a tensor shape needs non-negative sizes, got {dims}")
    return dims


def as_torch(value: Any) -> torch.Tensor:
    """The torch tensor behind a `Tensor`, numpy array, torch tensor or nested list (no copy if able)."""
    if isinstance(value, Tensor):
        return value.torch
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return torch.as_tensor(np.asarray(value))


class Tensor:
    """An n-dimensional float32 array with pyeddl's API.

    Args:
        shape: Shape of a new zero-filled tensor, or an array-like to copy (as `fromarray`).
        dev: `DEV_CPU` or `DEV_GPU` (+ GPU index).
    """

    __slots__ = ("torch",)
    __array_priority__ = 10

    def __init__(self, shape: Sequence[int] | np.ndarray | torch.Tensor = (), dev: int = DEV_CPU):
        if isinstance(shape, (np.ndarray, torch.Tensor)):
            self.torch = as_torch(shape).detach().to(_device(dev), torch.float32, copy=True)
        else:
            self.torch = torch.zeros(_shape(shape), dtype=torch.float32, device=_device(dev))

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
        return Tensor.wrap(torch.full(_shape(shape), float(value), device=_device(dev)))

    @staticmethod
    def empty(shape: Sequence[int], dev: int = DEV_CPU) -> Tensor:
        """An uninitialized tensor."""
        return Tensor.wrap(torch.empty(_shape(shape), device=_device(dev)))

    @staticmethod
    def arange(start: float, end: float, step: float = 1.0, dev: int = DEV_CPU) -> Tensor:
        """Values from `start` to `end` (excluded) every `step`."""
        if step == 0:
            raise TensorError("arange needs a non-zero step")
        return Tensor.wrap(torch.arange(start, end, step, dtype=torch.float32, device=_device(dev)))

    @staticmethod
    def range(start: float, end: float, step: float = 1.0, dev: int = DEV_CPU) -> Tensor:
        """Values from `start` to `end` (included) every `step` (EDDL's `range`)."""
        if step == 0:
            raise TensorError("range needs a non-zero step")
        n = int(np.floor((end - start) / step)) + 1
        return Tensor.wrap(start + step * torch.arange(max(n, 0), device=_device(dev)).float())

    @staticmethod
    def linspace(start: float, end: float, steps: int = 100, dev: int = DEV_CPU) -> Tensor:
        """`steps` evenly spaced values from `start` to `end` (both included)."""
        return Tensor.wrap(torch.linspace(start, end, int(steps), device=_device(dev)))

    @staticmethod
    def logspace(
        start: float, end: float, steps: int = 100, base: float = 10.0, dev: int = DEV_CPU
    ) -> Tensor:
        """`steps` values from `base**start` to `base**end`, evenly spaced on a log scale."""
        return Tensor.wrap(torch.logspace(start, end, int(steps), base, device=_device(dev)))

    @staticmethod
    def eye(size: int, offset: int = 0, dev: int = DEV_CPU) -> Tensor:
        """A `size`×`size` matrix with ones on the diagonal `offset`."""
        t = torch.zeros(int(size), int(size), device=_device(dev))
        t.diagonal(int(offset)).fill_(1.0)
        return Tensor.wrap(t)

    @staticmethod
    def randu(shape: Sequence[int], dev: int = DEV_CPU) -> Tensor:
        """Uniform random values in [0, 1) (torch's global generator)."""
        return Tensor.wrap(torch.rand(_shape(shape)).to(_device(dev)))

    @staticmethod
    def randn(shape: Sequence[int], dev: int = DEV_CPU) -> Tensor:
        """Standard normal random values (torch's global generator)."""
        return Tensor.wrap(torch.randn(_shape(shape)).to(_device(dev)))

    @staticmethod
    def onehot(t: Tensor | Any, vocs: int) -> Tensor:
        """One-hot encode integer class labels: shape (n,) → (n, vocs)."""
        labels = as_torch(t)
        flat = labels.reshape(-1)
        if flat.numel() and (flat.min() < 0 or flat.max() >= vocs or (flat != flat.round()).any()):
            raise TensorError(
                f"onehot needs integer labels in [0, {vocs}), got values in "
                f"[{flat.min().item()}, {flat.max().item()}]"
            )
        out = torch.nn.functional.one_hot(flat.long(), int(vocs)).float()
        return Tensor.wrap(out.reshape(*labels.shape, int(vocs)).to(labels.device))

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

    def isCPU(self) -> bool:
        """True when the data lives in host memory."""
        return self.torch.device.type == "cpu"

    def isGPU(self) -> bool:
        """True when the data lives on a CUDA device."""
        return self.torch.device.type == "cuda"

    def toCPU(self) -> None:
        """Move the data to the CPU (in place, as pyeddl)."""
        self.torch = self.torch.cpu()

    def toGPU(self, dev: int = DEV_GPU) -> None:
        """Move the data to a CUDA GPU (in place); raises when none exists."""
        self.torch = self.torch.to(_device(dev))

    def clone(self) -> Tensor:
        """A deep copy on the same device."""
        return Tensor.wrap(self.torch.clone())

    @staticmethod
    def copy(a: Tensor, b: Tensor) -> None:
        """Copy the data of `a` into `b` (same number of elements)."""
        if a.size != b.size:
            raise TensorError(f"copy: {a.shape} and {b.shape} differ in size")
        b.torch.copy_(a.torch.reshape(b.torch.shape))

    def select(self, indices: Sequence[str]) -> Tensor:
        """numpy-like slicing with strings, e.g. `t.select([":100", "2"])` (a copy)."""
        key = tuple(_parse_index(s) for s in indices)
        if len(key) > self.ndim:
            raise TensorError(f"select: {len(key)} indices for a {self.ndim}-D tensor {self.shape}")
        return Tensor.wrap(self.torch[key].clone())

    def reshape_(self, shape: Sequence[int]) -> None:
        """Change the shape in place (same number of elements; -1 infers one size)."""
        try:
            self.torch = self.torch.reshape(list(shape))
        except RuntimeError as err:
            raise TensorError(f"cannot reshape {self.shape} to {list(shape)}: {err}") from None

    # -- in-place arithmetic (pyeddl examples: div_, mult_, add_, sub_, normalize_) ---------------
    def add_(self, other: float | Tensor) -> None:
        """Add a scalar or a tensor in place."""
        self.torch.add_(_operand(other))

    def sub_(self, other: float | Tensor) -> None:
        """Subtract a scalar or a tensor in place."""
        self.torch.sub_(_operand(other))

    def mult_(self, other: float | Tensor) -> None:
        """Multiply by a scalar or a tensor in place."""
        self.torch.mul_(_operand(other))

    def div_(self, other: float | Tensor) -> None:
        """Divide by a scalar or a tensor in place."""
        self.torch.div_(_operand(other))

    def fill_(self, value: float) -> None:
        """Set every element to `value`."""
        self.torch.fill_(float(value))

    def clamp_(self, vmin: float, vmax: float) -> None:
        """Clip the values to [vmin, vmax]."""
        self.torch.clamp_(vmin, vmax)

    def normalize_(self, vmin: float = 0.0, vmax: float = 1.0) -> None:
        """Rescale linearly so that the minimum becomes `vmin` and the maximum `vmax`."""
        lo, hi = self.torch.min(), self.torch.max()
        span = hi - lo
        if span == 0:
            self.torch.fill_(vmin)
            return
        self.torch.sub_(lo).div_(span).mul_(vmax - vmin).add_(vmin)

    # -- reductions and element-wise helpers ----------------------------------------------------
    def sum(self) -> float:
        """Sum of all elements."""
        return float(self.torch.sum())

    def mean(self) -> float:
        """Mean of all elements."""
        return float(self.torch.mean())

    def max(self) -> float:
        """Largest element."""
        return float(self.torch.max())

    def min(self) -> float:
        """Smallest element."""
        return float(self.torch.min())

    def __neg__(self) -> Tensor:
        return Tensor.wrap(-self.torch)

    def __add__(self, other: float | Tensor) -> Tensor:
        return Tensor.wrap(self.torch + _operand(other))

    def __sub__(self, other: float | Tensor) -> Tensor:
        return Tensor.wrap(self.torch - _operand(other))

    def __mul__(self, other: float | Tensor) -> Tensor:
        return Tensor.wrap(self.torch * _operand(other))

    def __truediv__(self, other: float | Tensor) -> Tensor:
        return Tensor.wrap(self.torch / _operand(other))

    __radd__ = __add__
    __rmul__ = __mul__

    def info(self) -> None:
        """Print shape, device and value range."""
        print(
            f"Tensor shape={self.shape} device={self.torch.device} "
            f"min={self.min():.4g} max={self.max():.4g}"
        )

    def print(self) -> None:
        """Print the values."""
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
        path = Path(filename)
        fmt = (format or path.suffix.lstrip(".")).lower()
        if not path.is_file():
            raise FileNotFoundError(f"Tensor.load: no file {str(path)!r}")
        if fmt == "npy":
            return Tensor.fromarray(np.load(path, allow_pickle=False))
        if fmt == "bin":
            return Tensor.wrap(torch.from_numpy(read_bin(path)))
        if fmt in _TEXT_DELIMITERS:
            data = np.loadtxt(path, delimiter=_TEXT_DELIMITERS[fmt] if fmt != "txt" else None)
            return Tensor.fromarray(np.atleast_2d(data))
        if fmt in _IMAGE_FORMATS:
            from PIL import Image

            with Image.open(path) as img:
                arr = np.asarray(img, dtype=np.float32)
            arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
            return Tensor.fromarray(arr)
        raise TensorError(f"Tensor.load: unknown format {fmt!r} for {str(path)!r}")

    def save(self, filename: str | os.PathLike, format: str = "") -> None:  # noqa: A002
        """Write the tensor as `.npy`, EDDL `.bin`, `.csv/.tsv/.txt` (2-D) or an image (C×H×W)."""
        path = Path(filename)
        fmt = (format or path.suffix.lstrip(".")).lower()
        if not path.parent.exists():
            raise FileNotFoundError(f"Tensor.save: folder {str(path.parent)!r} does not exist")
        data = self.getdata()
        if fmt == "npy":
            with open(path, "wb") as fh:
                np.save(fh, data)
        elif fmt == "bin":
            write_bin(path, data)
        elif fmt in _TEXT_DELIMITERS:
            if data.ndim != 2:
                raise TensorError(f"Tensor.save: {fmt} needs a 2-D tensor, got {self.shape}")
            np.savetxt(path, data, delimiter=_TEXT_DELIMITERS[fmt], fmt="%.9g")
        elif fmt in _IMAGE_FORMATS:
            _save_image(path, data)
        else:
            raise TensorError(f"Tensor.save: unknown format {fmt!r} for {str(path)!r}")


def _operand(other: float | Tensor | Any) -> torch.Tensor | float:
    if isinstance(other, (int, float)):
        return float(other)
    return as_torch(other)


def _parse_index(text: str) -> slice | int:
    text = str(text).strip()
    if ":" not in text:
        return int(text)
    parts = [int(p) if p.strip() else None for p in text.split(":")]
    return slice(*parts)


def read_bin(path: str | os.PathLike) -> np.ndarray:
    """Read one array in EDDL's `.bin` layout (int32 ndim, int32 shape, float32 data)."""
    raw = Path(path).read_bytes()
    if len(raw) < 4:
        raise TensorError(f"{str(path)!r} is not an EDDL .bin tensor (only {len(raw)} bytes)")
    array, end = parse_bin(raw, 0, str(path))
    if end != len(raw):
        raise TensorError(f"{str(path)!r}: {len(raw) - end} unexpected bytes after the tensor")
    return array


def parse_bin(raw: bytes, offset: int, what: str) -> tuple[np.ndarray, int]:
    """One EDDL `.bin` tensor of `raw` starting at `offset`: (array, offset after it).

    Raises:
        TensorError: naming `what`, for a corrupt header or missing data bytes.
    """
    ndim = int(np.frombuffer(raw, "<i4", 1, offset)[0])
    if not 0 <= ndim <= 16 or offset + 4 + 4 * ndim > len(raw):
        raise TensorError(f"{what}: corrupt EDDL .bin header (ndim={ndim})")
    shape = [int(d) for d in np.frombuffer(raw, "<i4", ndim, offset + 4)]
    start = offset + 4 + 4 * ndim
    count = int(np.prod(shape)) if shape else 1
    if any(d < 0 for d in shape) or start + 4 * count > len(raw):
        raise TensorError(
            f"{what}: EDDL .bin tensor of shape {shape} needs {4 * count} data bytes, "
            f"found {len(raw) - start}"
        )
    data = np.frombuffer(raw, "<f4", count, start).reshape(shape).copy()
    return data, start + 4 * count


def bin_bytes(array: np.ndarray) -> bytes:
    """One array in EDDL's `.bin` layout."""
    arr = np.ascontiguousarray(array, dtype="<f4")
    header = np.array([arr.ndim, *arr.shape], dtype="<i4")
    return header.tobytes() + arr.tobytes()


def write_bin(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write one array in EDDL's `.bin` layout."""
    Path(path).write_bytes(bin_bytes(array))


def _save_image(path: Path, data: np.ndarray) -> None:
    from PIL import Image

    if data.ndim == 4 and data.shape[0] == 1:
        data = data[0]
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3 or data.shape[0] not in (1, 3, 4):
        raise TensorError(
            f"Tensor.save: an image needs shape H×W, C×H×W or 1×C×H×W with C in 1, 3, 4; "
            f"got {list(data.shape)}"
        )
    pixels = np.clip(np.rint(data), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(path)
