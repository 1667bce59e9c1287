"""The error hierarchy of deephealth: one base, one branch per wing, builtins kept.

Every error deephealth raises on purpose derives from `DeepHealthError`, through the branch of the
wing that raised it, so a caller can catch everything (`except DeepHealthError`), one wing
(`except EcvlError`), or one precise cause. Each concrete error also derives from the builtin that
says what kind of problem it is, so ordinary Python code keeps working:

- `ValueError`: bad arguments or data (`ShapeError`, `DataError`, `ConfigError`, ...);
- `OSError`: files that cannot be read or written (`CheckpointError`, `DemoDataError`, ...);
- `RuntimeError`: a state that forbids the call (`NotBuiltError`, `DeviceError`, ...).

`EcvlError` and `PipelineError` are raised directly too; they keep `RuntimeError`, which is what
pyecvl raised and what they derived from before this hierarchy. `DataError` (data that do not fit a
network or a task) is shared by EDDL and the pipelines, so it hangs off the base.

This module imports nothing: every wing may import it, `deephealth.serving` included.

>>> issubclass(EddlError, DeepHealthError), issubclass(DataError, ValueError)
(True, True)
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "DeepHealthError",
    "EcvlError",
    "EddlError",
    "PipelineError",
    "ServerError",
]


class DeepHealthError(Exception):
    """Base class of every error deephealth raises on purpose."""


class EddlError(DeepHealthError):
    """Branch of the deep-learning wing (`deephealth.eddl`: layers, graph, training, ONNX)."""


class EcvlError(DeepHealthError, RuntimeError):
    """Branch of the imaging wing (`deephealth.ecvl`); a `RuntimeError`, as pyecvl raised."""


class PipelineError(DeepHealthError, RuntimeError):
    """Branch of the use-case wing (`deephealth.pipelines`); raised directly when a run cannot
    complete (the message says which step and why)."""


class ServerError(DeepHealthError):
    """Branch of the inference and web wings (`deephealth.serving`, `deephealth.server`)."""


class DataError(DeepHealthError, ValueError):
    """Data that do not fit the network or the task (shapes, counts, labels, missing split)."""
