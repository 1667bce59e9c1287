"""`scripts/run_upstream.py`: the import rewrite that turns pyeddl/pyecvl scripts into ours, and
its stand-in data in EDDL's formats."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run_upstream.py"


@pytest.fixture(scope="module")
def runner():
    spec = importlib.util.spec_from_file_location("run_upstream", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_upstream"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("line", "want"),
    [
        ("import pyeddl.eddl as eddl", "import deephealth.eddl as eddl"),
        ("from pyeddl.tensor import Tensor", "from deephealth.eddl import Tensor"),
        ("import pyeddl._core.eddl as eddl_core", "import deephealth.eddl as eddl_core"),
        (
            "from pyeddl._core import Tensor as CoreTensor",
            "from deephealth.eddl import Tensor as CoreTensor",
        ),
        ("from pyeddl._core.eddl import DEV_CPU", "from deephealth.eddl import DEV_CPU"),
        ("from pyeddl._core import Loss, Metric", "from deephealth.eddl import Loss, Metric"),
        ("import pyecvl.ecvl as ecvl", "import deephealth.ecvl as ecvl"),
        ("import pyecvl._core.ecvl as ecvl_core", "import deephealth.ecvl as ecvl_core"),
        ("x = pyecvl._core.ecvl.Image()", "x = deephealth.ecvl.Image()"),
        ('pytest.importorskip("pyecvl.augmentations")', 'pytest.importorskip("deephealth.ecvl")'),
        ("pytest.importorskip('pyeddl.tensor')", "pytest.importorskip('deephealth.eddl')"),
    ],
)
def test_imports_are_rewritten(runner, line: str, want: str) -> None:
    assert runner.rewrite(line) == want


def test_every_rewritten_name_imports(runner) -> None:
    import deephealth.ecvl as ecvl
    import deephealth.eddl as eddl

    for name in ("Tensor", "DEV_CPU", "Loss", "Metric", "SGD", "Adam"):
        assert hasattr(eddl, name), name
    assert hasattr(ecvl, "Image")


def test_stand_in_datasets_load_as_pyeddl_expects(runner, tmp_path: Path) -> None:
    from deephealth.eddl import Tensor

    runner.write_datasets(tmp_path)
    x = Tensor.load(str(tmp_path / "imdb_2000_trX.bin"))
    assert x.shape[1] == 250 and float(np.asarray(x).max()) < 2000
    y = Tensor.load(str(tmp_path / "eutrans_trY.bin"))
    assert y.shape[1] == 30 and float(np.asarray(y).max()) < 514
    assert Tensor.load(str(tmp_path / "drive_trY.bin")).shape == [20, 584, 584]
    assert (tmp_path / "cifar_trX.bin.sha256").read_text().split()[1] == "cifar_trX.bin"


def test_keras_mnist_stand_in_has_keras_layout(runner, tmp_path: Path) -> None:
    runner.write_keras_mnist(tmp_path)
    with np.load(tmp_path / "mnist.npz") as f:
        x, y, xt, yt = f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and len(x) == len(y) > 0
    assert xt.shape[1:] == (28, 28) and len(xt) == len(yt) > 0
    assert set(np.unique(y)) <= set(range(10)) and len(np.unique(y)) == 10
    assert x.max() > 200  # images in 0-255, not 0-1
