"""Reading ONNX bytes and files safely: clear errors for every way a file can be wrong.

A truncated or foreign file, missing external data and unsupported element types are reported with
the file name and the tensor or input concerned, before any layer is built.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto, external_data_helper, numpy_helper

from deephealth.eddl.onnx.errors import OnnxImportError

# Element types a weight or constant may have (cast to float32 / int64 where needed).
_WEIGHT_TYPES = {
    TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16,
    TensorProto.INT64, TensorProto.INT32, TensorProto.INT16, TensorProto.INT8, TensorProto.UINT8,
    TensorProto.BOOL,
}  # fmt: skip
_INPUT_TYPES = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16}


def _type_name(elem_type: int) -> str:
    try:
        return str(TensorProto.DataType.Name(elem_type))
    except ValueError:  # a number the ONNX enum does not define
        return f"unknown type {elem_type}"


def _node_label(i: int, node: onnx.NodeProto) -> str:
    return f"node {i} ({node.name!r}, op {node.op_type!r})"


def check_structure(model: onnx.ModelProto, source: str) -> None:
    """Refuse graphs the importer cannot walk: names that are not UTF-8 text, nodes without an
    output.

    Raises:
        OnnxImportError: naming the node, initializer or graph input/output.
    """
    graph = model.graph
    for i, node in enumerate(graph.node):
        texts = [node.name, node.op_type, node.domain, *node.input, *node.output]
        if not all(isinstance(t, str) for t in texts):
            raise OnnxImportError(f"{source}: {_node_label(i, node)} has a name that is not "
                                  "UTF-8 text")  # fmt: skip
        if not node.output or not node.output[0]:
            raise OnnxImportError(f"{source}: {_node_label(i, node)} has no output")
    for kind, items in (("initializer", graph.initializer), ("graph input", graph.input),
                        ("graph output", graph.output)):  # fmt: skip
        for j, item in enumerate(items):
            if not isinstance(item.name, str):
                raise OnnxImportError(f"{source}: {kind} {j} has a name that is not UTF-8 text")


def parse_model(data: bytes, source: str) -> onnx.ModelProto:
    """Parse serialized ONNX bytes.

    Raises:
        OnnxImportError: when the bytes are not an ONNX model (truncated, another format, empty).
    """
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as err:
        raise OnnxImportError(
            f"{source}: not a valid ONNX model (truncated or another file format): {err}"
        ) from None
    if model.ir_version <= 0 or not model.graph.output or not model.opset_import:
        raise OnnxImportError(
            f"{source}: not an ONNX model (no IR version, opset or graph outputs); the file may be "
            "truncated or of another format"
        )
    check_structure(model, source)
    return model


def _tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    """Initializers and Constant-node tensors of the main graph."""
    out = list(model.graph.initializer)
    for node in model.graph.node:
        out += [a.t for a in node.attribute if a.type == onnx.AttributeProto.TENSOR]
    return out


def read_model(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Read an ONNX file, with its external data if any.

    Raises:
        FileNotFoundError: when `path` does not exist.
        OnnxImportError: for a non-ONNX or truncated file, or missing external data files.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no ONNX file at {path}")
    model = parse_model(path.read_bytes(), str(path))
    missing = []
    for tensor in _tensors(model):
        if external_data_helper.uses_external_data(tensor):
            info = external_data_helper.ExternalDataInfo(tensor)
            if not (path.parent / info.location).is_file():
                missing.append(f"{info.location} (tensor '{tensor.name}')")
    if missing:
        raise OnnxImportError(f"{path}: missing external data file(s): {', '.join(missing)}")
    try:
        external_data_helper.load_external_data_for_model(model, str(path.parent))
    except (OSError, ValueError) as err:
        raise OnnxImportError(f"{path}: cannot read external data: {err}") from None
    return model


def check_types(model: onnx.ModelProto, source: str) -> None:
    """Raise `OnnxImportError` listing inputs and initializers of unsupported element types."""
    bad = [
        f"input '{i.name}' is {_type_name(i.type.tensor_type.elem_type)}"
        for i in model.graph.input
        if i.type.tensor_type.elem_type not in _INPUT_TYPES
        and i.name not in {t.name for t in model.graph.initializer}
    ]
    bad += [
        f"initializer '{t.name}' is {_type_name(t.data_type)}"
        for t in model.graph.initializer
        if t.data_type not in _WEIGHT_TYPES
    ]
    if bad:
        raise OnnxImportError(
            f"{source}: unsupported element type(s): {'; '.join(bad)} (supported: float32/64/16 "
            "data, numeric and bool constants)"
        )


def tensor_array(tensor: onnx.TensorProto) -> np.ndarray:
    """A weight or constant as numpy: floats as float32, others as stored.

    Raises:
        OnnxImportError: the tensor's data does not match its shape or type.
    """
    try:
        array = numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as err:  # data shorter than its dims, unknown type ...
        raise OnnxImportError(f"tensor '{tensor.name}': {err}") from None
    if array.dtype.kind == "f" or tensor.data_type == TensorProto.BFLOAT16:
        return array.astype(np.float32, copy=False)
    return array
