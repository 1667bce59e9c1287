"""Tensor files: EDDL's `.bin` layout, `.npy`, delimited text and images.

`.bin` is EDDL's binary layout: int32 ndim, int32 shape, float32 row-major data (little-endian).
Text files (`.csv`, `.tsv`, `.txt`) hold 2-D tensors. Images (`.png`, `.jpg`, `.bmp`, ...) load as
C×H×W floats in [0, 255] and save from H×W, C×H×W or 1×C×H×W, as EDDL does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from deephealth.eddl.tensor._base import TensorError

IMAGE_FORMATS = {"png", "jpg", "jpeg", "bmp", "tga", "tif", "tiff"}
TEXT_DELIMITERS = {"csv": ",", "tsv": "\t", "txt": " "}


def file_format(path: Path, format: str) -> str:  # noqa: A002 (pyeddl name)
    """The format name: `format` if given, else the file suffix, lower case."""
    return (format or path.suffix.lstrip(".")).lower()


def load_array(filename: str | os.PathLike, format: str = "") -> np.ndarray:  # noqa: A002
    """Read a float32 array from a tensor file.

    Raises:
        FileNotFoundError: naming the file.
        TensorError: for an unknown format or a truncated/corrupt `.bin` file.
    """
    path = Path(filename)
    fmt = file_format(path, format)
    if not path.is_file():
        raise FileNotFoundError(f"Tensor.load: no file {str(path)!r}")
    if fmt == "npy":
        return np.asarray(np.load(path, allow_pickle=False), dtype=np.float32)
    if fmt == "bin":
        return read_bin(path)
    if fmt in TEXT_DELIMITERS:
        data = np.loadtxt(path, delimiter=TEXT_DELIMITERS[fmt] if fmt != "txt" else None)
        return np.atleast_2d(data).astype(np.float32)
    if fmt in IMAGE_FORMATS:
        from PIL import Image

        with Image.open(path) as img:
            arr = np.asarray(img, dtype=np.float32)
        return np.ascontiguousarray(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
    raise TensorError(f"Tensor.load: unknown format {fmt!r} for {str(path)!r}")


def save_array(data: np.ndarray, filename: str | os.PathLike, format: str = "") -> None:  # noqa: A002
    """Write an array as `.npy`, EDDL `.bin`, `.csv/.tsv/.txt` (2-D) or an image (C×H×W)."""
    path = Path(filename)
    fmt = file_format(path, format)
    if not path.parent.exists():
        raise FileNotFoundError(f"Tensor.save: folder {str(path.parent)!r} does not exist")
    if fmt == "npy":
        with open(path, "wb") as fh:
            np.save(fh, data)
    elif fmt == "bin":
        write_bin(path, data)
    elif fmt in TEXT_DELIMITERS:
        if data.ndim != 2:
            raise TensorError(f"Tensor.save: {fmt} needs a 2-D tensor, got {list(data.shape)}")
        np.savetxt(path, data, delimiter=TEXT_DELIMITERS[fmt], fmt="%.9g")
    elif fmt in IMAGE_FORMATS:
        _save_image(path, data)
    else:
        raise TensorError(f"Tensor.save: unknown format {fmt!r} for {str(path)!r}")


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
    """One `.bin` array starting at `offset` of `raw`, and the offset after it."""
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
    data = np.frombuffer(raw, "<f4", count, start).reshape(shape).astype(np.float32)
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
