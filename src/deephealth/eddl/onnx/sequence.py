"""ONNX export of networks in pyeddl's recurrent form (`save_net_to_onnx_file(net, path, seq_len)`).

In that form an Input gives one time step and the data carries a time axis (see
`layers/recurrent.py`). The exported graph takes `(batch, seq_len, *step)` for the inputs on a
sequence path (and for decoder inputs: the decoder's fed words, teacher-forcing style) and
computes exactly what the torch runtime does:

- a layer fed a sequence runs once on `(batch * seq_len, *shape)`: its exporter's nodes are wrapped
  in two Reshapes; a per-sample parent meeting a sequence is repeated over time (Unsqueeze+Expand);
- a recurrent layer reads the sequence (ONNX RNN/LSTM/GRU), starts from its states parent when it
  has one, and gives every step or the last one as the runtime does; `mask_zeros` becomes the op's
  `sequence_lens` (the count of non-zero steps: exact when the zero steps end the sequence);
- `GetStates` concatenates the op's Y_h (and Y_c) outputs.

Without `seq_len` (0) such a network is exported for ONE time step: inputs `(batch, *step)`, as
pyeddl's step-by-step decoders run (`States` inputs carry the recurrent states between calls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deephealth.eddl.layers.base import Layer
    from deephealth.eddl.model import Model
    from deephealth.eddl.onnx.context import ExportContext

from deephealth.eddl.onnx.registry import EXPORTERS

RECURRENT_KINDS = ("RNN", "LSTM", "GRU")


def is_step_form(layer: Layer) -> bool:
    """A recurrent layer whose parent gives one time step (pyeddl's form)."""
    return layer.kind in RECURRENT_KINDS and len(layer.input_shapes[0]) == 1


def sequence_values(net: Model, seq_len: int) -> dict[str, bool]:
    """For each layer name, whether its value carries a time axis (as the runtime computes it).

    With `seq_len` 0 no value does (one time step).
    """
    layers = net.layers
    if seq_len <= 0:
        return {layer.name: False for layer in layers}
    decoder = {id(layer) for layer in getattr(net, "decoder_inputs", [])}
    in_decoder: dict[int, bool] = {}
    for layer in layers:
        in_decoder[id(layer)] = id(layer) in decoder or any(
            in_decoder[id(p)] for p in layer.parents
        )
    reads_steps: dict[int, bool] = {id(layer): False for layer in layers}
    for layer in reversed(layers):
        if layer.kind == "GetStates":
            continue
        if reads_steps[id(layer)] or is_step_form(layer):
            for p in layer.parents[:1] if layer.kind in RECURRENT_KINDS else layer.parents:
                reads_steps[id(p)] = True
    seq: dict[str, bool] = {}
    for layer in layers:
        if layer.kind == "Input":
            seq[layer.name] = id(layer) in decoder or reads_steps[id(layer)]
        elif layer.kind == "GetStates":
            seq[layer.name] = False
        elif is_step_form(layer):
            seq[layer.name] = seq[layer.parents[0].name] and (
                in_decoder[id(layer)] or reads_steps[id(layer)]
            )
        else:
            seq[layer.name] = any(seq[p.name] for p in layer.parents)
    return seq


def export_time_distributed(ctx: ExportContext, layer: Layer, seq: dict[str, bool]) -> None:
    """Export a per-step layer fed a sequence: merge batch and time, run it, split them again."""
    t = ctx.seq_len
    names = []
    for p in layer.parents:
        name = p.name
        if not seq[p.name]:
            up = ctx.node(
                "Unsqueeze", [name, ctx.ints(layer, "axis1", [1])], ctx.tmp(layer, "u"), layer
            )
            reps = [1, t] + [1] * len(p.output_shape)
            name = ctx.node(
                "Expand", [up, ctx.ints(layer, "reps", reps)], ctx.tmp(layer, "rep"), layer
            )
        names.append(
            ctx.node(
                "Reshape",
                [name, ctx.ints(layer, "merge", [-1, *p.output_shape])],
                ctx.tmp(layer, "steps"),
                layer,
            )
        )
    first = len(ctx.nodes)
    EXPORTERS[layer.kind](ctx, layer, names)
    inner = ctx.tmp(layer, "per_step")
    for node in ctx.nodes[first:]:
        if node.name == layer.name:
            node.name = inner
        for i, out in enumerate(node.output):
            if out == layer.name:
                node.output[i] = inner
        for i, inp in enumerate(node.input):
            if inp == layer.name:
                node.input[i] = inner
    ctx.node(
        "Reshape",
        [inner, ctx.ints(layer, "split", [-1, t, *layer.output_shape])],
        layer.name,
        layer,
    )
