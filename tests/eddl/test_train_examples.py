"""The `make demo` job: the Fashion-MNIST example reads Debian's IDX files and learns."""

import gzip

import numpy as np
import pytest

from deephealth.eddl.examples import fashion_mnist


def test_fashion_mnist_short_run_learns(capsys):
    accuracy = fashion_mnist.main(["--limit", "2000", "--epochs", "1", "--batch-size", "50"])
    out = capsys.readouterr()
    assert "2000 training and 2000 test images" in out.out
    assert f"Final test accuracy: {accuracy:.4f}" in out.out
    assert "Epoch 1/1" in out.err  # the progress bar
    assert accuracy > 0.6  # 10 classes: chance is 0.1


def test_read_idx_values_and_errors(tmp_path):
    x, y, xt, yt = fashion_mnist.load(fashion_mnist.DEFAULT_DIR, 5)
    assert x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1 and x.max() > 0.5
    assert y.shape == (5, 10) and np.array_equal(y.sum(1), np.ones(5))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fashion_mnist.read_idx(tmp_path / "missing.gz")
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as fh:
        fh.write(b"not an idx file")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX file"):
        fashion_mnist.read_idx(bad)
