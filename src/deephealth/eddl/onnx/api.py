"""pyeddl's ONNX functions: save/serialize a network, import it back (own or foreign files).

`save_net_to_onnx_file` also writes the training checkpoint (optimizer state, epoch, learning rate
schedule) beside the file when the network is built, and `import_net_from_onnx_file` reads it back,
so training resumes from ONNX without loss. Imports build nothing visible until the whole graph has
been checked and mapped: on any error, no half-built model is returned.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deephealth.eddl.onnx.errors import OnnxExportError, OnnxImportError
from deephealth.eddl.onnx.opset import DEFAULT_OPSET  # the onnx package loads on first use
from deephealth.eddl.training.checkpoint import attach_side_checkpoint, save_side_checkpoint

if TYPE_CHECKING:
    import onnx

    from deephealth.eddl.model import Model
    from deephealth.serving.preprocessing import Preprocessing


def serialize_net_to_onnx_string(
    net: Model,
    gradients: bool = False,
    opset: int = DEFAULT_OPSET,
    preprocessing: Preprocessing | None = None,
) -> bytes:
    """The network as serialized ONNX bytes (pyeddl's name; `gradients` is accepted and ignored).

    Raises:
        OnnxExportError: when a layer kind has no exporter.
    """
    from deephealth.eddl.onnx.export import net_to_proto

    return net_to_proto(net, opset, preprocessing).SerializeToString()


def save_net_to_onnx_file(
    net: Model,
    path: str | os.PathLike[str],
    seq_len: int = 0,
    opset: int = DEFAULT_OPSET,
    preprocessing: Preprocessing | None = None,
    checkpoint: bool = True,
) -> None:
    """Write the network to an ONNX file (and its training checkpoint beside it when built).

    Args:
        net: The network.
        path: Destination `.onnx` file.
        seq_len: The number of time steps of the sequence inputs of a network in pyeddl's
            recurrent form (Input = one step); ignored otherwise (recurrent layers over
            (time, features) inputs are exported over any length).
        opset: ONNX opset, 17 or newer.
        preprocessing: Input layout / normalization / class names stored in the metadata for
            `deephealth.serving.InferenceSession`.
        checkpoint: Write `<path>.ckpt` with the optimizer state when the network is built.

    Raises:
        OnnxExportError: when a layer kind has no exporter or the file cannot be written.
    """
    from deephealth.eddl.onnx.export import net_to_proto

    proto = net_to_proto(net, opset, preprocessing, seq_len)
    path = Path(path)
    try:
        path.write_bytes(proto.SerializeToString())
    except OSError as err:
        raise OnnxExportError(f"cannot write {path}: {err}") from None
    if checkpoint:
        save_side_checkpoint(net, path)


def _import(model: onnx.ModelProto, source: str, input_shape: Sequence[int] | None) -> Model:
    from deephealth.eddl.onnx.graph_import import import_graph
    from deephealth.eddl.onnx.load import check_types
    from deephealth.eddl.onnx.own import graph_metadata, rebuild

    check_types(model, source)
    meta = graph_metadata(model)
    if meta is not None:
        if input_shape is not None and len(meta["inputs"]) != 1:
            raise OnnxImportError(
                f"{source}: input_shape is given but the network has {len(meta['inputs'])} inputs"
            )
        return rebuild(model, meta, source, input_shape)
    return import_graph(model, source, input_shape)


def import_net_from_onnx_file(
    path: str | os.PathLike[str],
    input_shape: Sequence[int] | None = None,
    mem: int = 0,
    log_level: int = 0,
) -> Model:
    """Read an ONNX file as a `Model` (weights included; build with `init_weights=False`).

    Args:
        path: The `.onnx` file (external data is read from its folder).
        input_shape: New input shape without the batch axis (e.g. `[3, 224, 224]`), for
            transfer learning or files with symbolic sizes.
        mem: pyeddl's memory level; accepted and ignored.
        log_level: pyeddl's ONNX log level; accepted and ignored (errors are exceptions).

    Raises:
        FileNotFoundError: when the file does not exist.
        OnnxImportError: for a bad file, dtype or shape; `UnsupportedOpsError` lists unmapped ops.
    """
    from deephealth.eddl.onnx.load import read_model

    del mem
    net = _import(read_model(path), str(path), input_shape)
    attach_side_checkpoint(net, Path(path))
    return net


def import_net_from_onnx_string(
    model_string: bytes, mem: int = 0, input_shape: Sequence[int] | None = None
) -> Model:
    """Read serialized ONNX bytes (from `serialize_net_to_onnx_string`) as a `Model`.

    Raises:
        OnnxImportError: for bytes that are not an ONNX model, bad dtypes or shapes.
    """
    from deephealth.eddl.onnx.load import parse_model

    del mem
    if isinstance(model_string, str):
        model_string = model_string.encode("latin-1")
    return _import(parse_model(bytes(model_string), "<string>"), "<string>", input_shape)
