"""The ECVL Image: an n-dimensional numpy array with a layout string, colour type, spacings, metadata.

``Image.data`` is a numpy array whose axes follow the layout string ``Image.channels`` letter by
letter (``"xyc"`` → shape ``(W, H, C)``), with any strides. An OpenCV array ``(H, W, C)`` is wrapped
without a copy as ``arr.transpose(1, 0, 2)`` (:meth:`Image.from_cv`), and :meth:`Image.to_cv` gives
the ``(H, W[, C])`` view back for OpenCV. ``np.array(img)`` returns ``img.data`` without a copy. The
pyecvl names (``dims_``, ``elemtype_``, ``channels_``, ``colortype_``, ``spacings_``, ``Width()``,
``ConvertTo`` ...) are provided on top, so pyecvl scripts run unchanged.
"""

from __future__ import annotations

import copy as _copy
import enum
from collections.abc import Sequence
from typing import Any

import numpy as np

from deephealth.ecvl.errors import EcvlError

LAYOUT_LETTERS = frozenset("xyzcto")


class DataType(enum.Enum):
    """Pixel data types (pyecvl ``DataType``); ``none`` means "no data" or "keep the source type"."""

    none = "none"
    uint8 = "uint8"
    uint16 = "uint16"
    int8 = "int8"
    int16 = "int16"
    int32 = "int32"
    int64 = "int64"
    float32 = "float32"
    float64 = "float64"

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of this data type (``none`` has none and raises)."""
        if self is DataType.none:
            raise EcvlError("DataType.none has no numpy dtype")
        return np.dtype(self.value)

    @classmethod
    def from_dtype(cls, dtype: Any) -> DataType:
        """The DataType of a numpy dtype (``bool`` maps to ``uint8``).

        Raises:
            EcvlError: The dtype is not one ECVL supports (e.g. complex, uint32).
        """
        dt = np.dtype(dtype)
        found = _BY_DTYPE.get(dt)  # a dict lookup: numpy's dtype.name costs microseconds
        if found is None:
            raise EcvlError(f"unsupported pixel type {dt.name!r}")
        return found


class ColorType(enum.Enum):
    """Colour types (pyecvl ``ColorType``)."""

    none = "none"
    GRAY = "GRAY"
    RGB = "RGB"
    RGBA = "RGBA"
    BGR = "BGR"
    HSV = "HSV"
    YCbCr = "YCbCr"


class Device(enum.Enum):
    """Where image data lives (pyecvl ``Device``); ECVL for Python keeps everything on the CPU."""

    NONE = "NONE"
    CPU = "CPU"
    GPU = "GPU"
    FPGA = "FPGA"


_BY_DTYPE: dict[np.dtype, DataType] = {
    np.dtype(t.value): t for t in DataType if t is not DataType.none
}
_BY_DTYPE[np.dtype(np.bool_)] = DataType.uint8
_WIDEN = {"uint32": np.int64, "uint64": np.float64, "float16": np.float32}


def as_supported(array: np.ndarray) -> np.ndarray:
    """``array`` itself when ECVL supports its type, else a native-endian supported equivalent.

    bool → uint8 (a view), non-native byte order → native, uint32 → int64, uint64 / float16 →
    float64 / float32.

    Raises:
        EcvlError: The type has no lossless ECVL equivalent (complex, object, strings).
    """
    dt = array.dtype
    if dt in _BY_DTYPE and dt != np.bool_:
        return array  # the common case: one dict lookup
    if dt == np.bool_:
        return array.view(np.uint8)
    if not dt.isnative:
        array = array.astype(dt.newbyteorder("="))
        dt = array.dtype
    if dt.kind not in "uif":
        raise EcvlError(f"unsupported pixel type {dt}")
    target = _WIDEN.get(dt.name)
    return array.astype(target) if target is not None else array


def _elemtype(elemtype: DataType | Any) -> DataType:
    if isinstance(elemtype, DataType):
        return elemtype
    if isinstance(elemtype, str) and elemtype == "none":
        return DataType.none
    return DataType.from_dtype(elemtype)


_VALID_LAYOUTS: set[tuple[str, int]] = set()


def _check_layout(channels: str, ndim: int) -> str:
    if (channels, ndim) in _VALID_LAYOUTS:  # hot path: layouts seen before
        return channels
    if not isinstance(channels, str):
        raise EcvlError(f"layout must be a string such as 'xyc', got {channels!r}")
    if len(channels) != ndim:
        raise EcvlError(f"layout {channels!r} has {len(channels)} letters but data has {ndim} axes")
    bad = set(channels) - LAYOUT_LETTERS
    named = channels.replace("o", "")  # ECVL allows several "other" axes ("xyzoo")
    if bad or len(set(named)) != len(named):
        raise EcvlError(f"invalid layout {channels!r}: letters among 'xyzcto', distinct except 'o'")
    _VALID_LAYOUTS.add((channels, ndim))
    return channels


def saturate_cast(array: np.ndarray, dtype: Any) -> np.ndarray:
    """Convert an array to ``dtype`` as OpenCV's ``saturate_cast`` does.

    Floats going to integers are rounded to nearest (half to even) and clipped to the target range
    (NaN becomes 0); integers going to a narrower integer type are clipped. A conversion that
    cannot overflow is a plain ``astype``. Returns ``array`` itself when the type already matches.

    Args:
        array: Source array.
        dtype: Target numpy dtype (or :class:`DataType`).

    Returns:
        The converted array.
    """
    dt = _elemtype(dtype).dtype if isinstance(dtype, DataType) else np.dtype(dtype)
    src = array.dtype
    if src == dt:
        return array
    if dt.kind in "ui":
        info = np.iinfo(dt)
        if src.kind == "f":
            out = np.rint(array)
            if isinstance(out, np.ndarray) and out.ndim:
                np.clip(out, info.min, info.max, out=out)
                np.nan_to_num(out, copy=False, nan=0.0)
            else:  # 0-d input: numpy returns scalars, which cannot be written in place
                out = np.nan_to_num(np.clip(out, info.min, info.max), nan=0.0)
            return np.asarray(out).astype(dt)
        if src.kind == "b":
            return array.astype(dt)
        sinfo = np.iinfo(src)
        if sinfo.min >= info.min and sinfo.max <= info.max:
            return array.astype(dt)
        lo = max(info.min, sinfo.min)
        hi = min(info.max, sinfo.max)
        return np.clip(array, lo, hi).astype(dt)
    return array.astype(dt)


# The module behind Image's arithmetic methods and operators (Add, Sub, Mul, Div, Neg):
# `deephealth.ecvl.imgproc.arithmetic` registers itself when imported (`deephealth.ecvl` imports
# it), so the image core does not import the processing built on it.
_ARITHMETIC: list[Any] = []


def register_arithmetic(module: Any) -> None:
    """Set the module whose ``Add``/``Sub``/``Mul``/``Div``/``Neg`` Image's operators call."""
    _ARITHMETIC[:] = [module]


def _arithmetic() -> Any:
    if not _ARITHMETIC:
        raise EcvlError("image arithmetic needs deephealth.ecvl.imgproc: import deephealth.ecvl")
    return _ARITHMETIC[0]


_MEMORY_ORDER = "otzyxc"  # slowest → fastest: OpenCV's interleaved (H, W, C) for 2D images


def zeros(dims: Sequence[int], elemtype: DataType | Any, channels: str) -> np.ndarray:
    """A zero array of shape ``dims`` in layout ``channels``, laid out in memory as OpenCV expects.

    Channels vary fastest, then x, y, z: an ``"xyc"`` image's :meth:`Image.to_cv` view is then
    C-contiguous ``(H, W, C)`` and an ``"xyzc"`` volume is a C-contiguous ``(Z, H, W, C)`` in memory.
    """
    dt = _elemtype(elemtype).dtype
    mem = sorted(range(len(channels)), key=lambda i: _MEMORY_ORDER.index(channels[i]))
    buf = np.zeros([int(dims[i]) for i in mem], dtype=dt)
    return buf.transpose(np.argsort(mem))


class Image:
    """An n-dimensional image (pyecvl ``Image``).

    Attributes:
        data: The pixels; axes follow ``channels``.
        channels: Layout string, one letter per axis among ``x y z c t o``.
        colortype: The :class:`ColorType`.
        spacings: Physical size of a step along each axis (mm for x/y/z), in layout order.
        meta: Metadata map (DICOM tags, NIfTI affine, anything the caller stores).

    Example:
        >>> import numpy as np
        >>> img = Image([4, 3, 1], DataType.uint8, "xyc", ColorType.GRAY)
        >>> img.Width(), img.Height(), img.Channels(), img.data.shape
        (4, 3, 1, (4, 3, 1))
    """

    __slots__ = ("data", "channels", "colortype", "spacings", "meta", "dev", "owner_")

    def __init__(
        self,
        dims: Sequence[int] | np.ndarray | Image | None = None,
        elemtype: DataType | Any = DataType.uint8,
        channels: str = "",
        colortype: ColorType = ColorType.none,
        spacings: Sequence[float] | None = None,
        dev: Device = Device.CPU,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Allocate a zero-filled image (``Image()`` is the empty image).

        pyecvl's core overloads are accepted too: ``Image(other)`` is a deep copy of ``other`` and
        ``Image(array, channels, colortype, spacings)`` is :meth:`fromarray`.

        Args:
            dims: Size of each axis, in layout order (or an Image, or a numpy array).
            elemtype: Pixel type (:class:`DataType` or a numpy dtype).
            channels: Layout string with one letter per axis.
            colortype: Colour type.
            spacings: Spacing per axis (default 1 for each).
            dev: Accepted for pyecvl compatibility; data always lives on the CPU.
            meta: Initial metadata (plain values or :class:`MetaData`).

        Raises:
            EcvlError: ``dims`` and ``channels`` disagree, or the type is unsupported.
        """
        self.owner_ = True
        if isinstance(dims, Image):
            self._assign(dims.copy())
            return
        if isinstance(dims, np.ndarray):  # core overload: (array, channels, colortype, spacings)
            if not isinstance(elemtype, str):
                raise EcvlError("Image(array, channels, colortype, spacings) needs a layout string")
            ct = channels if isinstance(channels, ColorType) else ColorType.none
            sp = colortype if isinstance(colortype, (list, tuple)) else spacings
            self._assign(Image.fromarray(dims, str(elemtype), ct, sp))
            return
        self.dev = dev
        self.meta: dict[str, Any] = {}
        for key, value in (meta or {}).items():
            self.SetMeta(key, value)
        self.colortype = ColorType(colortype)
        if dims is None or len(dims) == 0:
            self.data = np.empty((0,), dtype=np.uint8)
            self.channels = ""
            self.spacings = []
            return
        et = _elemtype(elemtype)
        if et is DataType.none:
            raise EcvlError("cannot allocate an image of DataType.none")
        dims = [int(d) for d in dims]
        if any(d < 0 for d in dims):
            raise EcvlError(f"negative image size {dims}")
        self.channels = _check_layout(channels, len(dims))
        self.data = zeros(dims, et, self.channels)
        self.spacings = self._check_spacings(spacings)

    # ----------------------------------------------------------------------------- construction
    @staticmethod
    def empty() -> Image:
        """The empty image (pyecvl ``Image.empty()``)."""
        return Image()

    def To(self, dev: Device) -> None:
        """Move the image to ``dev`` (pyecvl ``Image.To``): only the CPU is available.

        Raises:
            EcvlError: for ``Device.GPU`` or ``Device.FPGA``: ECVL for Python keeps images on the
                CPU; batches reach the GPU as torch tensors through the dataset loader.
        """
        dev = Device(dev)
        if dev in (Device.GPU, Device.FPGA):
            raise EcvlError(
                f"Image.To({dev}): images stay on the CPU in ECVL for Python; batches reach the GPU "
                "as torch tensors through DLDataset and EDDL's computing service (CS_GPU)"
            )
        self.dev = dev

    def _check_spacings(self, spacings: Sequence[float] | None) -> list[float]:
        n = self.data.ndim
        if spacings is None or len(spacings) == 0:
            return [1.0] * n
        if len(spacings) > n:
            raise EcvlError(f"{len(spacings)} spacings given for layout {self.channels!r}")
        # fewer than the axes (ECVL accepts that): the others get 1
        return [float(s) for s in spacings] + [1.0] * (n - len(spacings))

    @classmethod
    def fromarray(
        cls,
        array: Any,
        channels: str,
        colortype: ColorType = ColorType.none,
        spacings: Sequence[float] | None = None,
    ) -> Image:
        """Wrap a numpy array (no copy when it already has a supported type).

        Args:
            array: Pixels whose axes follow ``channels``.
            channels: Layout string, e.g. ``"xyc"`` for an array of shape ``(W, H, C)``.
            colortype: Colour type.
            spacings: Spacing per axis.

        Returns:
            An Image sharing memory with ``array``.

        Raises:
            EcvlError: The layout does not match the array or the type is unsupported.
        """
        arr = array if type(array) is np.ndarray else np.asarray(array)
        if arr.dtype not in _BY_DTYPE:
            DataType.from_dtype(arr.dtype)  # raises with the type's name
        if arr.dtype == np.bool_:
            arr = arr.view(np.uint8)
        img = cls.__new__(cls)
        img.owner_ = True
        img.dev = Device.CPU
        img.meta = {}
        img.colortype = colortype if isinstance(colortype, ColorType) else ColorType(colortype)
        img.channels = _check_layout(channels, arr.ndim)
        img.data = arr
        img.spacings = img._check_spacings(spacings)
        return img

    @classmethod
    def from_cv(
        cls,
        array: np.ndarray,
        colortype: ColorType | None = None,
        spacings: Sequence[float] | None = None,
    ) -> Image:
        """Wrap an OpenCV array ``(H, W)`` or ``(H, W, C)`` as an ``"xyc"`` Image, without a copy.

        Args:
            array: OpenCV-ordered pixels.
            colortype: Colour type; by default GRAY for one channel, BGR for three, RGBA for four
                (OpenCV's BGRA is reported as RGBA only if the caller says so; default is BGR-like
                order kept as is).
            spacings: Spacing per axis of the result (x, y, c).

        Returns:
            The wrapping Image.
        """
        if array.ndim == 2:
            array = array[:, :, None]
        elif array.ndim != 3:
            raise EcvlError(f"an OpenCV image has 2 or 3 axes, got shape {array.shape}")
        if colortype is None:
            colortype = {1: ColorType.GRAY, 3: ColorType.BGR, 4: ColorType.RGBA}.get(
                array.shape[2], ColorType.none
            )
        return cls.fromarray(array.transpose(1, 0, 2), "xyc", colortype, spacings)

    def to_cv(self) -> np.ndarray:
        """The OpenCV view ``(H, W)`` (one channel) or ``(H, W, C)`` of a 2D image, without a copy.

        Raises:
            EcvlError: The image is not 2D (a layout of x, y and optionally c).
        """
        ch = self.channels
        if set(ch) - {"x", "y", "c"} or "x" not in ch or "y" not in ch:
            raise EcvlError(f"to_cv needs a 2D layout of x, y[, c]; got {ch!r}")
        if "c" in ch:
            view = self.data.transpose(ch.index("y"), ch.index("x"), ch.index("c"))
            if view.shape[2] == 1:
                return view[:, :, 0]
            return view
        return self.data.transpose(ch.index("y"), ch.index("x"))

    # ------------------------------------------------------------------------------- numpy side
    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The pixel data itself: ``np.array(img)`` never copies (the ECVL contract, as the issue
        asks), whatever numpy passes as ``copy``; only a dtype change makes a new array (and raises
        ``ValueError`` under ``copy=False``). Use ``img.data.copy()`` for an independent array."""
        data = self.data
        if dtype is not None and np.dtype(dtype) != data.dtype:
            if copy is False:
                raise ValueError("a dtype change needs a copy, but copy=False was requested")
            return data.astype(dtype)
        return data

    # --------------------------------------------------------------------------- pyecvl fields
    @property
    def dims_(self) -> list[int]:
        """Size of each axis, in layout order (``[]`` for the empty image, as ECVL)."""
        if not self.channels:
            return []
        return list(self.data.shape)

    @property
    def strides_(self) -> list[int]:
        """Byte step of each axis in the pixel buffer (``[]`` for the empty image).

        As ECVL's ``strides_``: ``np.array(img).strides`` equals it. Images allocated here keep the
        colour channels interleaved (OpenCV's order) where ECVL stores planes; see the migration
        guide.
        """
        if not self.channels:
            return []
        return list(self.data.strides)

    @property
    def dev_(self) -> Device:
        """The device recorded for the image (pyecvl ``dev_``); data always lives on the CPU."""
        return self.dev

    @property
    def elemtype_(self) -> DataType:
        """Pixel :class:`DataType` (``none`` for an empty image)."""
        if self.data.size == 0 and not self.channels:
            return DataType.none
        return DataType.from_dtype(self.data.dtype)

    @property
    def elemsize_(self) -> int:
        """Bytes per pixel value."""
        return int(self.data.dtype.itemsize)

    @property
    def datasize_(self) -> int:
        """Total bytes of pixel data."""
        return int(self.data.nbytes)

    @property
    def contiguous_(self) -> bool:
        """Whether the data occupies one dense block of memory (in any axis order)."""
        d = self.data
        order = np.argsort(d.strides)[::-1]
        return bool(d.transpose(order).flags.c_contiguous)

    @property
    def channels_(self) -> str:
        """Layout string (pyecvl name of :attr:`channels`)."""
        return self.channels

    @channels_.setter
    def channels_(self, value: str) -> None:
        self.channels = _check_layout(value, self.data.ndim)

    @property
    def colortype_(self) -> ColorType:
        """Colour type (pyecvl name of :attr:`colortype`)."""
        return self.colortype

    @colortype_.setter
    def colortype_(self, value: ColorType) -> None:
        self.colortype = ColorType(value)

    @property
    def spacings_(self) -> list[float]:
        """Spacing per axis (pyecvl name of :attr:`spacings`)."""
        return self.spacings

    @spacings_.setter
    def spacings_(self, value: Sequence[float]) -> None:
        self.spacings = self._check_spacings(value)

    @property
    def meta_(self) -> dict[str, Any]:
        """Metadata map with each value as a :class:`MetaData` (pyecvl ``meta_``; a new dict:
        change metadata with :meth:`SetMeta`)."""
        from deephealth.ecvl.metadata import MetaData

        return {k: MetaData(v) for k, v in self.meta.items()}

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of :attr:`data`."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """Numpy dtype of :attr:`data`."""
        return self.data.dtype

    def _size_of(self, letter: str) -> int:
        i = self.channels.find(letter)
        return int(self.data.shape[i]) if i >= 0 else 1

    def Width(self) -> int:
        """Size along x."""
        return self._size_of("x")

    def Height(self) -> int:
        """Size along y."""
        return self._size_of("y")

    def Depth(self) -> int:
        """Size along z."""
        return self._size_of("z")

    def Channels(self) -> int:
        """Number of colour channels (size along c; 1 when the layout has no c)."""
        return self._size_of("c")

    def IsEmpty(self) -> bool:
        """Whether the image holds no pixels."""
        return self.data.size == 0

    def IsOwner(self) -> bool:
        """Whether the image owns its pixels (False for ``View_*``, ``ShallowCopyImage``,
        ``TensorToView``), as ECVL."""
        return self.owner_

    def GetMeta(self, key: str) -> Any:
        """The metadata stored under ``key``, as a :class:`MetaData` (``.Get()`` gives the value).

        Raises:
            EcvlError: No such key.
        """
        from deephealth.ecvl.metadata import MetaData

        try:
            return MetaData(self.meta[key])
        except KeyError:
            raise EcvlError(f"image has no metadata {key!r}") from None

    def SetMeta(self, key: str, value: Any) -> bool:
        """Store ``value`` (or a MetaData's value) under ``key``; True when the key was new."""
        from deephealth.ecvl.metadata import unwrap

        new = key not in self.meta
        self.meta[key] = unwrap(value)
        return new

    # --------------------------------------------------------------------------------- copies
    def copy(self) -> Image:
        """A deep copy: data (same memory order), spacings and metadata are independent."""
        out = Image.fromarray(self.data.copy(order="K"), self.channels, self.colortype)
        out.spacings = list(self.spacings)
        out.meta = _copy.deepcopy(self.meta)
        out.dev = self.dev
        return out

    __copy__ = copy

    def __deepcopy__(self, memo: dict) -> Image:
        return self.copy()

    def _assign(self, other: Image) -> Image:
        """Make this image take ``other``'s content (used for pyecvl's ``dst`` arguments)."""
        if other is not self:
            self.data = other.data
            self.channels = other.channels
            self.colortype = other.colortype
            self.spacings = list(other.spacings)
            self.meta = other.meta
            self.dev = other.dev
            self.owner_ = other.owner_
        return self

    def _like(self, data: np.ndarray, channels: str | None = None, **kw: Any) -> Image:
        """A new Image with ``data`` and this image's other attributes (metadata shared copy)."""
        out = Image.fromarray(
            data,
            self.channels if channels is None else channels,
            kw.get("colortype", self.colortype),
        )
        out.spacings = list(kw.get("spacings", self.spacings))
        out.meta = dict(self.meta)
        return out

    def ConvertTo(self, dtype: DataType | Any, saturate: bool = True) -> None:
        """Change the pixel type in place, saturating by default (as ECVL).

        Args:
            dtype: Target :class:`DataType` (or numpy dtype).
            saturate: Clip to the target range and round floats; False gives numpy's plain cast.
        """
        dt = _elemtype(dtype).dtype
        self.data = saturate_cast(self.data, dt) if saturate else self.data.astype(dt)

    def RearrangeChannels(self, channels: str) -> None:
        """Permute the axes in place to the layout ``channels`` (a view: no pixels move)."""
        self._assign(rearranged(self, channels, copy=False))

    # ----------------------------------------------------------------------------- arithmetic
    def _arith(self, op: str, other: Any, saturate: bool = True) -> Image:
        # the result keeps this image's type and buffer (arrays taken before see the change)
        getattr(_arithmetic(), op)(self, other, self, self.elemtype_, saturate)
        return self

    def Add(self, other: Any, saturate: bool = True) -> Image:
        """In-place ``self += other`` keeping this image's type (saturating)."""
        return self._arith("Add", other, saturate)

    def Sub(self, other: Any, saturate: bool = True) -> Image:
        """In-place ``self -= other`` keeping this image's type (saturating)."""
        return self._arith("Sub", other, saturate)

    def Mul(self, other: Any, saturate: bool = True) -> Image:
        """In-place ``self *= other`` keeping this image's type (saturating)."""
        return self._arith("Mul", other, saturate)

    def Div(self, other: Any, saturate: bool = True) -> Image:
        """In-place ``self /= other`` keeping this image's type (saturating; x/0 → 0 for ints)."""
        return self._arith("Div", other, saturate)

    def _binop(self, op: str, other: Any, reverse: bool = False) -> Image:
        out = Image()
        a, b = (other, self) if reverse else (self, other)
        getattr(_arithmetic(), op)(a, b, out)
        return out

    def __add__(self, other: Any) -> Image:
        return self._binop("Add", other)

    def __radd__(self, other: Any) -> Image:
        return self._binop("Add", other, reverse=True)

    def __sub__(self, other: Any) -> Image:
        return self._binop("Sub", other)

    def __rsub__(self, other: Any) -> Image:
        return self._binop("Sub", other, reverse=True)

    def __mul__(self, other: Any) -> Image:
        return self._binop("Mul", other)

    def __rmul__(self, other: Any) -> Image:
        return self._binop("Mul", other, reverse=True)

    def __truediv__(self, other: Any) -> Image:
        return self._binop("Div", other)

    def __rtruediv__(self, other: Any) -> Image:
        return self._binop("Div", other, reverse=True)

    def __neg__(self) -> Image:
        out = Image()
        _arithmetic().Neg(self, out)
        return out

    def __iadd__(self, other: Any) -> Image:
        return self.Add(other)

    def __isub__(self, other: Any) -> Image:
        return self.Sub(other)

    def __imul__(self, other: Any) -> Image:
        return self.Mul(other)

    def __itruediv__(self, other: Any) -> Image:
        return self.Div(other)

    def __repr__(self) -> str:
        return (
            f"Image(dims={self.dims_}, elemtype={self.elemtype_.name}, channels={self.channels!r}, "
            f"colortype={self.colortype.name}, spacings={self.spacings})"
        )


def rearranged(src: Image, channels: str, copy: bool = True) -> Image:
    """``src`` with its axes permuted to the layout ``channels``.

    Args:
        src: Source image.
        channels: Target layout, a permutation of ``src.channels``.
        copy: Copy the pixels (keeping their memory order) instead of returning a view.

    Returns:
        The rearranged image; spacings follow their axes.

    Raises:
        EcvlError: ``channels`` is not a permutation of the source layout.
    """
    if sorted(channels) != sorted(src.channels):
        raise EcvlError(f"cannot rearrange layout {src.channels!r} to {channels!r}")
    perm = [src.channels.index(ch) for ch in channels]
    data = src.data.transpose(perm)
    if copy:
        data = data.copy(order="K")
    out = src._like(data, channels, spacings=[src.spacings[i] for i in perm])
    out.meta = _copy.deepcopy(src.meta) if copy else dict(src.meta)
    return out


def RearrangeChannels(
    src: Image, dst: Image, channels: str, new_type: DataType | None = None
) -> None:
    """pyecvl ``RearrangeChannels``: ``dst`` gets ``src`` with its axes in the order ``channels``
    (converted to ``new_type`` when given)."""
    out = rearranged(src, channels, copy=True)
    if new_type is not None and new_type is not DataType.none:
        out.ConvertTo(new_type)
    dst._assign(out)


def CopyImage(src: Image, dst: Image, new_type: DataType | None = None) -> None:
    """pyecvl ``CopyImage``: ``dst`` becomes a deep copy of ``src``, converted to ``new_type``."""
    out = src.copy()
    if new_type is not None and new_type is not DataType.none:
        out.ConvertTo(new_type)
    dst._assign(out)


def ShallowCopyImage(src: Image, dst: Image) -> None:
    """pyecvl ``ShallowCopyImage``: ``dst`` shares ``src``'s pixels (attributes are copied)."""
    out = src._like(src.data)
    out.meta = src.meta
    out.owner_ = False
    dst._assign(out)


def DropColorChannel(src: Image) -> None:
    """pyecvl ``DropColorChannel``: remove the c axis in place.

    As ECVL, a GRAY image keeps its first channel whatever the size of c (ECVL reads the first
    plane); other colour types need a single channel.

    Raises:
        EcvlError: The image has no c axis, or several channels and a colour type other than GRAY.
    """
    if "c" not in src.channels:
        raise EcvlError(f"DropColorChannel: no colour axis in layout {src.channels!r}")
    if src.Channels() != 1 and src.colortype is not ColorType.GRAY:
        raise EcvlError(
            f"DropColorChannel: {src.Channels()} channels of a {src.colortype.name} image; "
            "use ChangeColorSpace to GRAY first"
        )
    i = src.channels.index("c")
    src.data = np.take(src.data, 0, axis=i)
    src.channels = src.channels[:i] + src.channels[i + 1 :]
    src.spacings = src.spacings[:i] + src.spacings[i + 1 :]
    src.colortype = ColorType.none


def DataTypeSize(dt: DataType | None = None) -> int:
    """Bytes per value of ``dt``; without argument, the number of DataType members (pyecvl)."""
    if dt is None:
        return len(DataType) - 1
    return 0 if DataType(dt) is DataType.none else DataType(dt).dtype.itemsize


def DataTypeSignedSize() -> int:
    """The number of signed DataType members (pyecvl ``DataTypeSignedSize``)."""
    return sum(1 for t in DataType if t is not DataType.none and t.dtype.kind in "if")


def ConvertTo(src: Image, dst: Image, dtype: DataType, saturate: bool = True) -> None:
    """``dst`` becomes a copy of ``src`` with pixel type ``dtype`` (saturating by default)."""
    out = src.copy()
    out.ConvertTo(dtype, saturate)
    dst._assign(out)
