"""Public error types of EDDL that have no other public module: the graph's and the tensor's.

`ShapeError` (a layer cannot take its parents' shapes), `GraphError` (inputs/outputs that do not
form a network) and `TensorError` (a bad tensor argument or file) sit on the `EddlError` branch of
`deephealth.errors.DeepHealthError`; training and ONNX errors are exported with their functions.
"""

from deephealth.eddl.layers.base import ShapeError
from deephealth.eddl.model import GraphError
from deephealth.eddl.tensor import TensorError
from deephealth.errors import DeepHealthError, EddlError

__all__ = ["DeepHealthError", "EddlError", "GraphError", "ShapeError", "TensorError"]
