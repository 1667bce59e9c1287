"""EDDL's `Norm`, `NormMax` and `NormMinMax`: per-sample normalization built from existing layers.

As in EDDL, each is a small sub-graph of reduction and operator layers over all the non-batch axes
(EDDL computes them the same way), so they train, export to ONNX and re-import like any other
layers:

- `Norm`: (x - mean) / sqrt(var + epsilon)
- `NormMax`: x / (max + epsilon)
- `NormMinMax`: (x - min) / (max - min + epsilon)
"""

from __future__ import annotations

from deephealth.eddl.layers.base import Layer
from deephealth.eddl.layers.merge import Diff, Div, Sum
from deephealth.eddl.layers.reductions import ReduceMax, ReduceMean, ReduceMin, ReduceVar
from deephealth.eddl.layers.unary import Sqrt


def _axes(parent: Layer) -> list[int]:
    return list(range(len(parent.output_shape)))


def Norm(parent: Layer, epsilon: float = 0.001, name: str = "") -> Layer:
    """Standardize each sample: (x - mean) / sqrt(var + epsilon) over all its values."""
    axes = _axes(parent)
    centred = Diff(parent, ReduceMean(parent, axes, True))
    return Div(centred, Sqrt(Sum(ReduceVar(parent, axes, True), float(epsilon))), name)


def NormMax(parent: Layer, epsilon: float = 0.001, name: str = "") -> Layer:
    """Divide each sample by its maximum (+ epsilon)."""
    return Div(parent, Sum(ReduceMax(parent, _axes(parent), True), float(epsilon)), name)


def NormMinMax(parent: Layer, epsilon: float = 0.001, name: str = "") -> Layer:
    """Rescale each sample to [0, 1]: (x - min) / (max - min + epsilon)."""
    axes = _axes(parent)
    low = ReduceMin(parent, axes, True)
    span = Sum(Diff(ReduceMax(parent, axes, True), low), float(epsilon))
    return Div(Diff(parent, low), span, name)
