"""Export a `Model` to ONNX: one pass over the layers in topological order through the table.

Each layer is written by its kind's exporter (`EXPORTERS[kind]`, see `mapping/`), in inference mode, with a dynamic
batch dimension named "batch". Weights become initializers. The graph's kinds, params, parents,
training flags and integer counters go into the model metadata (`deephealth.graph`, JSON) so our
own files re-import as exactly the network that was saved; other tools ignore it and read the
plain ONNX graph.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import onnx
from onnx import TensorProto, helper

from deephealth import __version__
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.errors import OnnxExportError
from deephealth.eddl.onnx.opset import DEFAULT_OPSET
from deephealth.eddl.onnx.registry import EXPORTERS
from deephealth.serving.preprocessing import METADATA_KEY, Preprocessing

if TYPE_CHECKING:
    from deephealth.eddl.layers.base import Layer
    from deephealth.eddl.model import Model

GRAPH_KEY = "deephealth.graph"
IR_VERSION = 8  # at least; the lowest IR of the opset, so older runtimes read the files


def graph_metadata(net: Model) -> dict[str, Any]:
    """The JSON-able description of the layer graph stored with each export."""
    return {
        "format": 1,
        "name": net.name,
        "inputs": [layer.name for layer in net.inputs],
        "decoder_inputs": [layer.name for layer in getattr(net, "decoder_inputs", [])],
        "states_inputs": [l.name for l in net.inputs if getattr(l, "isstates", False)],
        "outputs": [layer.name for layer in net.outputs],
        "layers": [
            {
                "name": layer.name,
                "kind": layer.kind,
                "params": layer.params,
                "parents": [p.name for p in layer.parents],
                "trainable": bool(layer.trainable),
                "initializer": list(layer.initializer) if layer.initializer else None,
                "regularizer": list(layer.regularizer) if layer.regularizer else None,
                "counters": _counters(layer),
            }
            for layer in net.layers
        ],
    }


def _counters(layer: Layer) -> dict[str, int]:
    """Integer scalar buffers (BatchNorm's num_batches_tracked): metadata, not initializers."""
    if layer.module is None:
        return {}
    state = layer.module.state_dict()
    return {k: int(v) for k, v in state.items() if v.ndim == 0 and not v.is_floating_point()}


def _value_info(name: str, shape: tuple[int, ...], steps: int = 0) -> onnx.ValueInfoProto:
    dims = ["batch", steps, *shape] if steps else ["batch", *shape]
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def net_to_proto(
    net: Model,
    opset: int = DEFAULT_OPSET,
    preprocessing: Preprocessing | None = None,
    seq_len: int = 0,
) -> onnx.ModelProto:
    """The ONNX model of `net` (inference mode, dynamic batch, weights as initializers).

    Raises:
        OnnxExportError: listing every layer whose kind has no exporter.
    """
    import deephealth.eddl.onnx.mapping  # noqa: F401 (registers the exporters)
    from deephealth.eddl.onnx.sequence import (
        export_time_distributed,
        sequence_values,
    )

    if opset < DEFAULT_OPSET:
        raise OnnxExportError(f"opset {opset} is too old; deephealth writes opset 17 or newer")
    missing = [
        f"{layer.name} ({layer.kind})" for layer in net.layers if layer.kind not in EXPORTERS
    ]
    if missing:
        raise OnnxExportError(f"model '{net.name}': no ONNX exporter for layer(s) {missing}")
    ctx = ExportContext(opset)
    seq: dict[str, bool] = {}
    if getattr(net.graph, "sequential", False):
        seq = sequence_values(net, int(seq_len))
        ctx.seq_len, ctx.sequence = int(seq_len), seq
    for layer in net.layers:
        if layer.kind == "Input":
            continue
        if seq and layer.kind not in ("RNN", "LSTM", "GRU", "GetStates"):
            if any(seq[p.name] for p in layer.parents):
                export_time_distributed(ctx, layer, seq)
                continue
        parents = layer.parents or (net.inputs[:1] if layer.spec.source else [])
        EXPORTERS[layer.kind](ctx, layer, [p.name for p in parents])
    steps = {name: ctx.seq_len for name, is_seq in seq.items() if is_seq}
    graph = helper.make_graph(
        ctx.nodes,
        net.name,
        [
            _value_info(layer.name, layer.output_shape, steps.get(layer.name, 0))
            for layer in [*net.inputs, *getattr(net, "decoder_inputs", [])]
        ],
        [
            _value_info(layer.name, layer.output_shape, steps.get(layer.name, 0))
            for layer in net.outputs
        ],
        ctx.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="deephealth",
        producer_version=__version__,
    )
    model.ir_version = max(IR_VERSION, helper.find_min_ir_version_for(list(model.opset_import)))
    metadata = {GRAPH_KEY: json.dumps(graph_metadata(net), sort_keys=True)}
    if preprocessing is not None:
        metadata[METADATA_KEY] = preprocessing.to_json()
    helper.set_model_props(model, metadata)
    return model
