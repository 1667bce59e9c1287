"""Short Fashion-MNIST training run: the `make demo` job.

Reads the IDX files of Debian's `dataset-fashion-mnist` package (`/usr/share/datasets/fashion-mnist`,
or `--data DIR`), trains a small convolutional network written with the pyeddl API for a few epochs
with a progress bar, and prints the final test accuracy. Run it with
`python -m deephealth.eddl.examples.fashion_mnist [--epochs N] [--limit N]`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import deephealth.eddl as eddl
from deephealth.eddl.idx import CLASSES, DEFAULT_DIR, read_idx  # noqa: F401 (the example's names)
from deephealth.eddl.idx import load_fashion_mnist as load


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
