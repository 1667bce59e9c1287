"""Fast reading of sample files into canonical arrays for the loader.

Common 2D formats (PNG, JPEG, BMP, TIFF ...) are decoded straight with OpenCV (which releases the
GIL, so worker threads run in parallel); every other format goes through ECVL's ``ImRead`` (whose
NIfTI reader memory-maps uncompressed files, so a random crop reads only the cropped voxels). Several
locations are merged as channels. Results are canonical arrays (``(H, W, C)``, ``(D, H, W, C)``).
"""

from __future__ import annotations

import os
from typing import Any

import cv2
import numpy as np

from deephealth.ecvl.dataset.errors import SampleLoadError
from deephealth.ecvl.dataset.remote import fetch, is_url

CV_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm")


def color_name(ctype: Any) -> str:
    """Normalise a ColorType (or its name) to ``RGB``, ``BGR``, ``GRAY`` or ``none``."""
    name = getattr(ctype, "name", None) or getattr(ctype, "value", None) or str(ctype)
    name = str(name)
    return {"rgb": "RGB", "bgr": "BGR", "gray": "GRAY", "grey": "GRAY"}.get(name.lower(), "none")


def _to_color(arr: np.ndarray, color: str, path: str) -> np.ndarray:
    """Convert a BGR(A)/gray OpenCV array (2D or (H,W,C)) to ``color``; returns (H, W, C)."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    c = arr.shape[2]
    if color == "none":
        return arr
    if color == "GRAY":
        if c == 1:
            return arr
        code = cv2.COLOR_BGRA2GRAY if c == 4 else cv2.COLOR_BGR2GRAY
        return cv2.cvtColor(arr, code)[:, :, None]
    if c == 1:
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2RGB if color == "RGB" else cv2.COLOR_GRAY2BGR)
    if c == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2RGB if color == "RGB" else cv2.COLOR_BGRA2BGR)
    if c == 3:
        return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB) if color == "RGB" else arr
    raise ValueError(f"cannot convert {c} channels to {color} ({path})")


def _read_other(path: str, color: str) -> np.ndarray:
    from deephealth.ecvl.augment._arrays import image_to_array
    from deephealth.ecvl.io import ImRead

    img = ImRead(path)
    arr = image_to_array(img)
    if arr.ndim == 3 and color != "none" and arr.shape[2] in (1, 3, 4):
        if getattr(img.colortype, "name", "") in ("RGB", "RGBA") and arr.shape[2] >= 3:
            arr = arr[..., [2, 1, 0, 3][: arr.shape[2]]]  # to OpenCV's BGR(A) order
        return _to_color(np.ascontiguousarray(arr), color, path)
    return arr


def read_location(location: str, color: Any = "RGB", cache_folder: str | None = None) -> np.ndarray:
    """Read one file (or URL) into a canonical array in colour ``color``.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file cannot be decoded.
    """
    color = color_name(color)
    path = fetch(location, cache_folder) if is_url(location) else location
    low = path.lower()
    if low.endswith(CV_EXTENSIONS):
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such file: {path}")
        flags = cv2.IMREAD_GRAYSCALE if color == "GRAY" else cv2.IMREAD_UNCHANGED
        if color == "GRAY" and low.endswith((".png", ".tif", ".tiff")):
            flags = cv2.IMREAD_UNCHANGED  # keep 16-bit masks and label values
        arr = cv2.imread(path, flags)
        if arr is None:
            raise ValueError(f"cannot decode image {path}")
        return _to_color(arr, color, path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    return _read_other(path, color)


def read_locations(locations: list[str], color: Any, cache_folder: str | None = None) -> np.ndarray:
    """Read several files (each in ``color``) and merge them as channels (same spatial size)."""
    arrays = [read_location(loc, color, cache_folder) for loc in locations]
    if len(arrays) == 1:
        return arrays[0]
    shapes = {a.shape[:-1] for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"locations differ in size {sorted(shapes)}; cannot merge as channels")
    return np.concatenate(arrays, axis=-1)


def read_sample_array(
    sample: Any, ctype: Any = "RGB", is_gt: bool = False, cache_folder: str | None = None,
    index: int = -1,
) -> np.ndarray:  # fmt: skip
    """Read a sample's image (or ground truth) as a canonical array.

    Raises:
        SampleLoadError: Missing file, undecodable image, or no ground truth; names the location.
    """
    locs = [sample.label_path_] if is_gt else list(sample.location_)
    if is_gt and sample.label_path_ is None:
        raise SampleLoadError(index, sample.location_, "the sample has no ground-truth image")
    try:
        return read_locations(locs, ctype, cache_folder)
    except SampleLoadError:
        raise
    except Exception as e:
        where = locs[0] if len(locs) == 1 else locs
        raise SampleLoadError(index, where, f"{type(e).__name__}: {e}") from e
