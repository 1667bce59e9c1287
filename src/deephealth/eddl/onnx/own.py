"""Re-import of files written by deephealth: the layer graph stored in the metadata, rebuilt.

Each layer is re-created from its kind and params (`deephealth.graph` metadata), its weights read
back from the initializers through its kind's weight reader (`WEIGHT_READERS`, default: `<layer>.<key>` tensors), so
the imported network is the one that was saved, bit for bit, including trainable flags.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import torch

# The layer kinds' ONNX readers live in `mapping/` and fill the registry's tables when imported: a
# re-import in a fresh process (nothing exported yet) needs them too.
import deephealth.eddl.onnx.mapping  # noqa: F401
from deephealth.eddl.layers.base import LAYER_TYPES, Layer, ShapeError
from deephealth.eddl.model import Model
from deephealth.eddl.onnx.errors import OnnxImportError
from deephealth.eddl.onnx.export import GRAPH_KEY
from deephealth.eddl.onnx.load import tensor_array
from deephealth.eddl.onnx.registry import weights_reader_for


def graph_metadata(model: onnx.ModelProto) -> dict[str, Any] | None:
    """The stored layer graph, or None when the file was not written by deephealth (or uses
    layer kinds this version does not know: it is then imported as a foreign graph)."""
    props = {p.key: p.value for p in model.metadata_props}
    if GRAPH_KEY not in props:
        return None
    meta = json.loads(props[GRAPH_KEY])
    if any(entry["kind"] not in LAYER_TYPES for entry in meta["layers"]):
        return None
    return meta


def _load_state(
    layer: Layer, tensors: dict[str, np.ndarray], counters: dict[str, int], source: str
) -> None:
    if layer.module is None:
        return
    read = weights_reader_for(layer.kind)
    try:
        arrays = read(layer, tensors)
    except KeyError as err:
        raise OnnxImportError(f"{source}: {err.args[0]}") from None
    arrays.update({k: np.array(v, dtype=np.int64) for k, v in counters.items()})
    state = layer.module.state_dict()
    for key, target in state.items():
        array = arrays[key]
        if tuple(array.shape) != tuple(target.shape):
            raise OnnxImportError(
                f"{source}: layer '{layer.name}' ({layer.kind}) weight {key} has shape "
                f"{array.shape} in the file but {tuple(target.shape)} for the input shape given"
            )
        with torch.no_grad():
            target.copy_(torch.from_numpy(np.array(array, dtype=target.numpy().dtype)))


def rebuild(
    model: onnx.ModelProto,
    meta: dict[str, Any],
    source: str,
    input_shape: Sequence[int] | None = None,
) -> Model:
    """The `Model` described by `meta` with the weights of `model`'s initializers.

    Raises:
        OnnxImportError: when `input_shape` does not fit the network or weights are missing.
    """
    tensors = {t.name: tensor_array(t) for t in model.graph.initializer}
    by_name: dict[str, Layer] = {}
    for entry in meta["layers"]:
        params = dict(entry["params"])
        if entry["kind"] == "Input" and input_shape is not None:
            params["shape"] = [int(d) for d in input_shape]
        try:
            layer = Layer(
                entry["kind"], [by_name[p] for p in entry["parents"]], params, entry["name"]
            )
        except (ShapeError, ValueError) as err:
            raise OnnxImportError(f"{source}: cannot rebuild the network: {err}") from None
        _load_state(layer, tensors, entry.get("counters", {}), source)
        layer.trainable = bool(entry.get("trainable", True))
        if layer.module is not None and not layer.trainable:
            for p in layer.module.parameters():
                p.requires_grad_(False)
        layer.initializer = tuple(entry["initializer"]) if entry.get("initializer") else None
        layer.regularizer = tuple(entry["regularizer"]) if entry.get("regularizer") else None
        by_name[layer.name] = layer
    for name in meta.get("decoder_inputs", []):
        by_name[name].isdecoder = True
    for name in meta.get("states_inputs", []):
        by_name[name].isstates = True
    return Model(
        [by_name[n] for n in meta["inputs"]], [by_name[n] for n in meta["outputs"]], meta["name"]
    )
