"""IDX files (the MNIST / Fashion-MNIST format) and Debian's Fashion-MNIST package.

`read_idx` reads one gzipped IDX file; `load_fashion_mnist` gives the training and test arrays in
pyeddl's layout. Used by the Fashion-MNIST example and by the pipelines' demo dataset.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def read_idx(path: Path) -> np.ndarray:
    """Read one (gzipped) IDX file into a numpy array.

    Raises:
        FileNotFoundError: naming the file and the Debian package that provides it.
        ValueError: when the file is not IDX.
    """
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: install Debian's dataset-fashion-mnist "
            "(apt-get install dataset-fashion-mnist) or pass --data DIR"
        )
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(data_dir: Path, limit: int | None = None) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test): images N×1×28×28 in [0, 1], one-hot labels."""
    parts = []
    for split in ("train", "t10k"):
        x = read_idx(data_dir / f"{split}-images-idx3-ubyte.gz")
        y = read_idx(data_dir / f"{split}-labels-idx1-ubyte.gz")
        if limit:
            x, y = x[:limit], y[:limit]
        parts += [(x.astype(np.float32) / 255.0)[:, None], np.eye(10, dtype=np.float32)[y]]
    return tuple(parts)
