"""Short Fashion-MNIST training run: the `make demo` job.

Reads the IDX files of Debian's `dataset-fashion-mnist` package (`/usr/share/datasets/fashion-mnist`,
or `--data DIR`), trains a small convolutional network written with the pyeddl API for a few epochs
with a progress bar, and prints the final test accuracy. Run it with
`python -m deephealth.eddl.examples.fashion_mnist [--epochs N] [--limit N]`.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np

import deephealth.eddl as eddl

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


def load(data_dir: Path, limit: int | None = None) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test): images N×1×28×28 in [0, 1], one-hot labels."""
    parts = []
    for split in ("train", "t10k"):
        x = read_idx(data_dir / f"{split}-images-idx3-ubyte.gz")
        y = read_idx(data_dir / f"{split}-labels-idx1-ubyte.gz")
        if limit:
            x, y = x[:limit], y[:limit]
        parts += [(x.astype(np.float32) / 255.0)[:, None], np.eye(10, dtype=np.float32)[y]]
    return tuple(parts)


def make_net() -> eddl.Model:
    """A small CNN: two conv blocks and a dense classifier."""
    in_ = eddl.Input([1, 28, 28])
    x = eddl.MaxPool2D(eddl.ReLu(eddl.Conv2D(in_, 16, [3, 3])), [2, 2])
    x = eddl.MaxPool2D(eddl.ReLu(eddl.Conv2D(x, 32, [3, 3])), [2, 2])
    x = eddl.ReLu(eddl.Dense(eddl.Flatten(x), 128))
    out = eddl.Softmax(eddl.Dense(x, 10))
    return eddl.Model([in_], [out])


def main(argv: list[str] | None = None) -> float:
    """Train and evaluate; returns the test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    eddl.set_seed(args.seed)
    x_train, y_train, x_test, y_test = load(args.data, args.limit)
    print(f"Fashion-MNIST: {len(x_train)} training and {len(x_test)} test images")
    net = make_net()
    eddl.build(
        net, eddl.adam(0.001), ["softmax_cross_entropy"], ["categorical_accuracy"], eddl.CS_CPU()
    )
    eddl.summary(net)
    eddl.fit(net, [x_train], [y_train], args.batch_size, args.epochs)
    result = eddl.evaluate(net, [x_test], [y_test], verbose=0)
    accuracy = result["categorical_accuracy"]
    print(f"Final test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main(sys.argv[1:])
