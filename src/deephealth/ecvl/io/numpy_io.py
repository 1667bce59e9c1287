"""NumPy files: ``.npz`` as ECVL's lossless format, ``.npy`` as a plain array.

``.npz`` files written by ECVL hold the data in layout order plus ``channels``, ``colortype``,
``spacings`` and the JSON-encodable metadata, so write → read restores the Image exactly. A ``.npy``
file (or an ``.npz`` without these keys) is read in the numpy/OpenCV convention: ``(H, W)`` and
``(H, W, C)`` arrays become ``"xyc"`` images, ``(D, H, W)`` and ``(D, H, W, C)`` become ``"xyzc"``.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

from deephealth.ecvl.errors import ImageReadError, ImageWriteError
from deephealth.ecvl.image import ColorType, Image, as_supported, rearranged

_KEYS = ("data", "channels", "colortype", "spacings", "meta")


def sniff(head: bytes) -> bool:
    """Whether ``head`` starts like a ``.npy`` file (``.npz`` is a zip: chosen by extension)."""
    return head.startswith(b"\x93NUMPY")


def _from_numpy_order(arr: np.ndarray, path: str) -> Image:
    arr = as_supported(arr)
    if arr.ndim == 2:
        return Image.from_cv(arr, ColorType.GRAY)
    if arr.ndim == 3 and arr.shape[2] <= 4:
        return Image.from_cv(arr, ColorType.none)
    if arr.ndim == 3:
        return Image.fromarray(arr.transpose(2, 1, 0)[..., None], "xyzc", ColorType.GRAY)
    if arr.ndim == 4:
        return Image.fromarray(arr.transpose(2, 1, 0, 3), "xyzc", ColorType.none)
    raise ImageReadError(path, f"cannot interpret a {arr.ndim}-dimensional array as an image")


def read(path: str | os.PathLike, flags: Any = None) -> Image:
    """Read a ``.npy`` or ``.npz`` file (see the module docstring).

    Raises:
        ImageReadError: Missing, truncated or corrupt file, pickled objects or an empty archive.
    """
    path = os.fspath(path)
    _check_inflation(path)
    try:
        with np.load(path, allow_pickle=False) as loaded:
            if isinstance(loaded, np.lib.npyio.NpzFile):
                return _read_npz(path, loaded)
    except TypeError:  # a .npy: np.load returned an ndarray, which is no context manager
        pass
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except ImageReadError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ImageReadError(path, f"corrupt or truncated NumPy file ({e})") from None
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ImageReadError(path, f"corrupt or truncated NumPy file ({e})") from None
    return _from_numpy_order(arr, path)


MAX_RATIO = 200  # the dataset-upload zip-bomb ratio of the server
_RATIO_FREE_BYTES = 64 * 1024 * 1024


def _check_inflation(path: str) -> None:
    """Refuse a ``.npz`` member above 64 MiB that inflates more than :data:`MAX_RATIO` times
    (2 MB of deflated zeros declaring 2 GiB would otherwise be allocated whole)."""
    try:
        if not zipfile.is_zipfile(path):
            return
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (OSError, zipfile.BadZipFile):
        return  # np.load reports it
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FREE_BYTES and ratio > MAX_RATIO:
            raise ImageReadError(
                path, f"member {info.filename!r} inflates {ratio:.0f}:1 to {info.file_size} bytes "
                f"(over {MAX_RATIO}:1 above {_RATIO_FREE_BYTES >> 20} MiB: a zip bomb?)",
            )  # fmt: skip


def _read_npz(path: str, z: Any) -> Image:
    if "data" in z and "channels" in z:
        img = Image.fromarray(
            as_supported(z["data"]), str(z["channels"]), ColorType(str(z["colortype"]))
        )
        img.spacings = [float(s) for s in z["spacings"]]
        img.meta = json.loads(str(z["meta"])) if "meta" in z else {}
        for key in ("affine",):
            if key in img.meta:
                img.meta[key] = np.asarray(img.meta[key], dtype=np.float64)
        return img
    names = list(z.keys())
    if not names:
        raise ImageReadError(path, "empty .npz archive")
    return _from_numpy_order(z[names[0]], path)


def _jsonable(meta: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in meta.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        try:
            json.dumps(v)
        except TypeError:
            continue
        out[k] = v
    return out


def write(path: str, img: Image) -> bool:
    """Write ``.npz`` (lossless, with layout and metadata) or ``.npy`` (numpy order, pixels only).

    Raises:
        ImageWriteError: A ``.npy`` of a layout other than 2D/3D images, or an OS error.
    """
    try:
        if path.lower().endswith(".npz"):
            np.savez_compressed(
                path,
                data=img.data,
                channels=np.str_(img.channels),
                colortype=np.str_(img.colortype.value),
                spacings=np.asarray(img.spacings, dtype=np.float64),
                meta=np.str_(json.dumps(_jsonable(img.meta))),
            )
            return True
        ch = img.channels
        if set(ch) == set("xyc"):
            arr = rearranged(img, "yxc", copy=False).data
            arr = arr[:, :, 0] if arr.shape[2] == 1 else arr
        elif set(ch) == set("xyzc"):
            arr = rearranged(img, "zyxc", copy=False).data
            arr = arr[..., 0] if arr.shape[3] == 1 else arr
        elif set(ch) == set("xy"):
            arr = rearranged(img, "yx", copy=False).data
        else:
            raise ImageWriteError(path, f".npy holds xyc or xyzc layouts, not {ch!r}; use .npz")
        np.save(path, np.ascontiguousarray(arr))
    except ImageWriteError:
        raise
    except OSError as e:
        raise ImageWriteError(path, e.strerror or str(e)) from None
    return True
