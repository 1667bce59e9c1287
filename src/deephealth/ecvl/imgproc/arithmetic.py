"""Pixel-wise arithmetic on Images with saturation and type promotion (pyecvl Add/Sub/Mul/Div/Neg).

The result type is ``dst_type`` when given; otherwise the numpy promotion of two image types, or the
image's type for an image and a scalar. Values are computed in float64 (int64 for 64-bit integer
results) and converted with OpenCV's saturation rule (round to nearest, clip); integer division by
zero gives 0, as ``cv2.divide``; integer by integer division truncates toward zero, as ECVL. When
``dst`` is one of the operands and the result fits its buffer, the buffer is written in place.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import (
    DataType,
    Image,
    rearranged,
    register_arithmetic,
    saturate_cast,
)


def _result_dtype(a: Any, b: Any, dst_type: DataType) -> np.dtype:
    if dst_type is not DataType.none:
        return dst_type.dtype
    if isinstance(a, Image) and isinstance(b, Image):
        dt = np.result_type(a.data.dtype, b.data.dtype)
        return DataType.from_dtype(dt).dtype
    img = a if isinstance(a, Image) else b
    return img.data.dtype


def _operands(a: Any, b: Any) -> tuple[Image, np.ndarray | float, np.ndarray | float]:
    if not isinstance(a, Image) and not isinstance(b, Image):
        raise EcvlError("at least one operand must be an Image")
    ref = a if isinstance(a, Image) else b
    vals = []
    for x in (a, b):
        if isinstance(x, Image):
            if x is not ref and x.channels != ref.channels:
                x = rearranged(x, ref.channels, copy=False)
            if x.data.shape != ref.data.shape:
                raise EcvlError(f"image sizes differ: {ref.dims_} vs {x.dims_}")
            vals.append(x.data)
        else:
            vals.append(x)
    return ref, vals[0], vals[1]


def _apply(op: str, a: Any, b: Any, dst: Image, dst_type: DataType, saturate: bool) -> None:
    ref, x, y = _operands(a, b)
    out_dt = _result_dtype(a, b, dst_type)
    work = np.int64 if out_dt == np.int64 and op != "div" else np.float64
    xa = np.asarray(x, dtype=work)
    ya = np.asarray(y, dtype=work)
    if op == "add":
        res = np.add(xa, ya)
    elif op == "sub":
        res = np.subtract(xa, ya)
    elif op == "mul":
        res = np.multiply(xa, ya)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            res = np.divide(xa, ya)
        if out_dt.kind in "ui":
            res[np.broadcast_to(ya == 0, res.shape)] = 0
            if _is_integer(x) and _is_integer(y):
                np.trunc(res, out=res)  # integer division truncates toward zero, as ECVL (C++)
    data = saturate_cast(res, out_dt) if saturate else res.astype(out_dt)
    if (dst is a or dst is b) and _same_buffer_shape(dst, ref, data):
        np.copyto(dst.data, data)  # in place: views and arrays taken before stay valid (ECVL)
        return
    dst._assign(ref._like(data))


def _is_integer(v: Any) -> bool:
    if isinstance(v, np.ndarray):
        return v.dtype.kind in "uib"
    return isinstance(v, (int, np.integer))


def _same_buffer_shape(dst: Image, ref: Image, data: np.ndarray) -> bool:
    d = dst.data
    return d.shape == data.shape and d.dtype == data.dtype and dst.channels == ref.channels


def Add(
    src1: Any, src2: Any, dst: Image, dst_type: DataType = DataType.none, saturate: bool = True
) -> None:
    """``dst = src1 + src2``; either operand may be a scalar.

    Args:
        src1: Image or scalar.
        src2: Image or scalar.
        dst: Receives the result (may be ``src1`` or ``src2``).
        dst_type: Result type; ``none`` promotes as described in the module docstring.
        saturate: Clip and round to the result type (False wraps like numpy ``astype``).
    """
    _apply("add", src1, src2, dst, dst_type, saturate)


def Sub(
    src1: Any, src2: Any, dst: Image, dst_type: DataType = DataType.none, saturate: bool = True
) -> None:
    """``dst = src1 - src2``; arguments as :func:`Add`."""
    _apply("sub", src1, src2, dst, dst_type, saturate)


def Mul(
    src1: Any, src2: Any, dst: Image, dst_type: DataType = DataType.none, saturate: bool = True
) -> None:
    """``dst = src1 * src2``; arguments as :func:`Add`."""
    _apply("mul", src1, src2, dst, dst_type, saturate)


def Div(
    src1: Any, src2: Any, dst: Image, dst_type: DataType = DataType.none, saturate: bool = True
) -> None:
    """``dst = src1 / src2`` (true division, then saturated; integer x/0 → 0); arguments as :func:`Add`."""
    _apply("div", src1, src2, dst, dst_type, saturate)


def Neg(src: Image, dst: Image, dst_type: DataType = DataType.none, saturate: bool = True) -> None:
    """``dst = -src`` (unsigned types saturate to 0)."""
    _apply("sub", 0, src, dst, dst_type, saturate)


register_arithmetic(sys.modules[__name__])  # Image's operators call these functions
