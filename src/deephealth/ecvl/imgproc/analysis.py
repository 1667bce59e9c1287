"""Measurements and labelling with pyecvl names: ConnectedComponentsLabeling, FindContours,
Moments, CentralMoments, MeanStdDev, GetMaxN (OpenCV and numpy).

Coordinates are returned as ``[x, y]``. Moment images are ``"xy"`` Images with
``moments.data[p, q] = sum x**p * y**q * I(x, y)`` for ``p, q <= order``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from deephealth.ecvl.errors import EcvlError
from deephealth.ecvl.image import DataType, Image
from deephealth.ecvl.imgproc._common import cv_view, single_channel, wrap

_ANY = frozenset({"uint8", "int8", "uint16", "int16", "int32", "float32", "float64"})


def _gray(src: Image, name: str, dtypes: frozenset[str] | None = None) -> np.ndarray:
    """The one-channel view ECVL would use (colour images: luminance; see ``single_channel``)."""
    arr = cv_view(src, name) if dtypes is None else cv_view(src, name, dtypes)
    return single_channel(src, arr)


def ConnectedComponentsLabeling(src: Image, dst: Image) -> int:
    """Label the 8-connected non-zero regions of a binary image (``cv2.connectedComponents``);
    ``dst`` gets int32 labels (0 = background). Returns the number of labels, background included."""
    arr = _gray(
        src,
        "ConnectedComponentsLabeling",
        _ANY,
    )
    binary = (arr != 0).astype(np.uint8)
    n, labels = cv2.connectedComponents(binary, connectivity=8, ltype=cv2.CV_32S)
    dst._assign(wrap(src, labels, colortype=src.colortype))
    return int(n)


def FindContours(src: Image) -> list[np.ndarray]:
    """The outer contours of the non-zero regions of a binary image (``cv2.findContours``,
    ``RETR_EXTERNAL``, every point kept): a list of ``(N, 2)`` int arrays of ``[x, y]``."""
    arr = _gray(
        src,
        "FindContours",
        _ANY,
    )
    binary = (arr != 0).astype(np.uint8)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return [c.reshape(-1, 2) for c in contours]


def _powers(n: int, order: int, center: float, dtype: type) -> np.ndarray:
    coord = np.arange(n, dtype=dtype) - dtype(center)
    return np.stack([coord**k for k in range(order + 1)])  # (order+1, n)


def _moments(
    src: Image, moments: Image, cx: float, cy: float, order: int, type_: DataType, name: str
) -> None:
    arr = _gray(src, name, _ANY)
    if order < 0:
        raise EcvlError(f"{name}: order must be >= 0")
    dt = DataType(type_)
    if dt not in (DataType.float32, DataType.float64):
        raise EcvlError(f"{name}: type must be float32 or float64")
    ft = dt.dtype.type
    h, w = arr.shape
    img = arr.astype(np.float64)
    px = _powers(w, order, cx, np.float64)  # (P, W)
    py = _powers(h, order, cy, np.float64)  # (Q, H)
    m = px @ img.T @ py.T  # (P, Q): sum_x sum_y x^p y^q I(y, x)
    out = Image.fromarray(m.astype(ft), "xy")
    moments._assign(out)


def Moments(src: Image, dst: Image, order: int = 3, type_: DataType = DataType.float64) -> None:
    """Raw image moments up to ``order`` of a single-channel image into ``dst`` (colour images:
    their luminance, as ECVL reads them)."""
    _moments(src, dst, 0.0, 0.0, order, type_, "Moments")


def CentralMoments(
    src: Image,
    moments: Image,
    center: Sequence[float] | None = None,
    order: int = 3,
    type_: DataType = DataType.float64,
) -> None:
    """Central moments about ``center = [x, y]`` (default the intensity centroid)."""
    if center is None or len(center) == 0:
        arr = _gray(
            src,
            "CentralMoments",
            _ANY,
        ).astype(np.float64)
        total = arr.sum()
        if total == 0:
            raise EcvlError("CentralMoments: the image sums to 0, its centroid is undefined")
        cy = float((arr.sum(axis=1) * np.arange(arr.shape[0])).sum() / total)
        cx = float((arr.sum(axis=0) * np.arange(arr.shape[1])).sum() / total)
    else:
        cx, cy = float(center[0]), float(center[1])
    _moments(src, moments, cx, cy, order, type_, "CentralMoments")


def MeanStdDev(src: Image) -> tuple[list[float], list[float]]:
    """Per-channel mean and (population) standard deviation, in channel order."""
    if src.IsEmpty():
        raise EcvlError("MeanStdDev: the image is empty")
    data = src.data.astype(np.float64)
    if "c" in src.channels:
        data = np.moveaxis(data, src.channels.index("c"), -1).reshape(-1, src.Channels())
    else:
        data = data.reshape(-1, 1)
    return data.mean(axis=0).tolist(), data.std(axis=0).tolist()


def GetMaxN(src: Image, n: int) -> list[list[int]]:
    """The ``[x, y]`` positions of the ``n`` largest pixels of a single-channel image, largest
    first (ties in row-major order)."""
    arr = _gray(
        src,
        "GetMaxN",
        _ANY,
    )
    if not 0 < n <= arr.size:
        raise EcvlError(f"GetMaxN: n must be in [1, {arr.size}], got {n}")
    flat = arr.ravel()
    order = np.argsort(-flat.astype(np.float64), kind="stable")[:n]
    ys, xs = np.unravel_index(order, arr.shape)
    return [[int(x), int(y)] for x, y in zip(xs, ys)]
