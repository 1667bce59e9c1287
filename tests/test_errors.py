"""One error hierarchy: every error class deephealth defines hangs off `DeepHealthError` through
its wing's branch and keeps a builtin that says what kind of problem it is."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

import deephealth.ecvl as ecvl
import deephealth.eddl as eddl
from deephealth.ecvl.errors import ImageReadError
from deephealth.errors import (
    DataError,
    DeepHealthError,
    EcvlError,
    EddlError,
    PipelineError,
    ServerError,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "deephealth"
BRANCHES = {"eddl": "EddlError", "ecvl": "EcvlError", "pipelines": "PipelineError"}
BRANCHES |= {"serving": "ServerError", "server": "ServerError"}
# Classes that must keep a foreign base: an HTTP error of the web framework, private control flow.
OUTSIDE = {"UploadRejected", "_Stopped"}


@functools.cache
def _error_classes() -> list[tuple[str, str, list[str]]]:
    """(module path, class name, base names) of every class named *Error/*Unavailable in src."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.bases:
                bases = [ast.unparse(b) for b in node.bases]
                if node.name.endswith(("Error", "Unavailable")) or any(
                    b.endswith(("Error", "Exception")) for b in bases
                ):
                    found.append((str(path.relative_to(SRC)), node.name, bases))
    return found


def test_data_error_is_defined_once() -> None:
    where = [p for p, name, _ in _error_classes() if name == "DataError"]
    assert where == ["errors.py"]
    assert eddl.DataError is DataError
    from deephealth.pipelines.data import DataError as pipeline_data_error

    assert pipeline_data_error is DataError


def test_every_error_class_is_on_its_wing_branch() -> None:
    """Parsed, not imported: a class with only a builtin base (a new error) fails here."""
    names = {name for _, name, _ in _error_classes()}
    wrong = []
    for path, name, bases in _error_classes():
        if name in OUTSIDE or path == "errors.py":
            continue
        wing = path.split("/")[0]
        branch = BRANCHES.get(wing)
        in_tree = any(b in names or b.split(".")[-1] in names for b in bases)
        if branch is None or not (branch in bases or in_tree):
            wrong.append(f"{path}: {name}({', '.join(bases)})")
    assert wrong == []


@pytest.mark.parametrize(
    ("cls", "branch", "builtin"),
    [
        (eddl.ShapeError, EddlError, ValueError),
        (eddl.GraphError, EddlError, ValueError),
        (eddl.TensorError, EddlError, ValueError),
        (eddl.NotBuiltError, EddlError, RuntimeError),
        (eddl.OnnxImportError, EddlError, ValueError),
        (eddl.DeviceError, EddlError, RuntimeError),
        (ImageReadError, EcvlError, RuntimeError),
        (PipelineError, DeepHealthError, RuntimeError),
        (DataError, DeepHealthError, ValueError),
    ],
)
def test_branch_and_builtin(cls: type, branch: type, builtin: type) -> None:
    assert issubclass(cls, branch) and issubclass(cls, builtin)
    assert issubclass(cls, DeepHealthError)


def test_wing_errors_import_their_branch() -> None:
    from deephealth.pipelines.config import ConfigError
    from deephealth.serving.preprocessing import PreprocessingError

    assert issubclass(ImageReadError, EcvlError) and issubclass(ImageReadError, RuntimeError)
    assert issubclass(ConfigError, PipelineError) and issubclass(ConfigError, ValueError)
    assert issubclass(PreprocessingError, ServerError)


def test_shape_error_is_catchable_from_the_public_api() -> None:
    x = eddl.Input([5])
    with pytest.raises(eddl.ShapeError, match="Conv2D layer") as info:
        eddl.Conv2D(eddl.Dense(x, 4), 2, [3, 3])
    assert isinstance(info.value, DeepHealthError)


def test_image_to_gpu_is_refused_not_ignored() -> None:
    img = ecvl.Image([4, 4, 1], ecvl.DataType.uint8, "xyc", ecvl.ColorType.GRAY)
    img.To(ecvl.Device.CPU)
    for dev in (ecvl.Device.GPU, ecvl.Device.FPGA):
        with pytest.raises(EcvlError, match="stay on the CPU"):
            img.To(dev)
    assert img.dev == ecvl.Device.CPU
