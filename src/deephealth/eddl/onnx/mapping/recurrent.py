"""ONNX mapping of the recurrent layers RNN, LSTM and GRU (uni- or bidirectional).

Export transposes the (batch, time, features) input to ONNX's time-major layout, runs the ONNX
RNN/LSTM/GRU op and turns its Y (sequence) or Y_h (last state) output back into the layer's
(batch, time, dirs*units) or (batch, dirs*units). torch and ONNX order the gates differently
(LSTM i,f,g,o vs i,o,f,c; GRU r,z,n vs z,r,h), so weights are stored in ONNX's order as
`<layer>.W/R/B` and `from_onnx` permutes them back: both are exact permutations.
Foreign nodes become layers whose Y / Y_h outputs are views (see `views.py`).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from deephealth.eddl.layers.base import Layer
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.foreign import ImportContext
from deephealth.eddl.onnx.registry import exporter, op_importer, weights_reader
from deephealth.eddl.onnx.views import VIEW_BATCH, batch_axis

# kind -> (ONNX op, torch gate block -> ONNX position order: ONNX block j is torch block ORDER[j])
GATES = {"RNN": ("RNN", [0]), "LSTM": ("LSTM", [0, 3, 1, 2]), "GRU": ("GRU", [1, 0, 2])}


def to_onnx_gates(w: np.ndarray, kind: str) -> np.ndarray:
    """Reorder the gate blocks (axis 0) of a torch weight into ONNX's order."""
    order = GATES[kind][1]
    blocks = np.split(w, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def to_torch_gates(w: np.ndarray, kind: str) -> np.ndarray:
    """Inverse of `to_onnx_gates`."""
    order = GATES[kind][1]
    blocks = np.split(w, len(order), axis=0)
    out: list[np.ndarray] = [np.empty(0)] * len(order)
    for j, i in enumerate(order):
        out[i] = blocks[j]
    return np.concatenate(out, axis=0)


def _suffixes(layer: Layer) -> list[str]:
    return ["", "_reverse"] if layer.params["bidirectional"] else [""]


def onnx_weights(layer: Layer, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """W, R (and B) in ONNX layout from a torch state_dict."""
    kind = layer.kind
    w = np.stack([to_onnx_gates(state[f"rnn.weight_ih_l0{s}"], kind) for s in _suffixes(layer)])
    r = np.stack([to_onnx_gates(state[f"rnn.weight_hh_l0{s}"], kind) for s in _suffixes(layer)])
    out = {"W": w, "R": r}
    if layer.params["use_bias"]:
        out["B"] = np.stack(
            [
                np.concatenate(
                    [
                        to_onnx_gates(state[f"rnn.bias_ih_l0{s}"], kind),
                        to_onnx_gates(state[f"rnn.bias_hh_l0{s}"], kind),
                    ]
                )
                for s in _suffixes(layer)
            ]
        )
    return out


def torch_state(layer: Layer, w: np.ndarray, r: np.ndarray, b: np.ndarray | None) -> dict:
    """A torch state_dict from ONNX W, R, B (B may be None: zero biases)."""
    kind = layer.kind
    state = {}
    for d, s in enumerate(_suffixes(layer)):
        state[f"rnn.weight_ih_l0{s}"] = to_torch_gates(w[d], kind)
        state[f"rnn.weight_hh_l0{s}"] = to_torch_gates(r[d], kind)
        if layer.params["use_bias"]:
            bias = b[d] if b is not None else np.zeros(2 * w.shape[1], np.float32)
            half = bias.shape[0] // 2
            state[f"rnn.bias_ih_l0{s}"] = to_torch_gates(bias[:half], kind)
            state[f"rnn.bias_hh_l0{s}"] = to_torch_gates(bias[half:], kind)
    return state


def recurrent_attrs(layer: Layer) -> dict:
    """The ONNX attributes of the layer's op."""
    attrs = {
        "hidden_size": layer.params["units"],
        "direction": "bidirectional" if layer.params["bidirectional"] else "forward",
    }
    if layer.kind == "RNN":
        act = "Relu" if layer.params["activation"] == "relu" else "Tanh"
        attrs["activations"] = [act] * (2 if layer.params["bidirectional"] else 1)
    if layer.kind == "GRU":
        attrs["linear_before_reset"] = 1
    return attrs


def _initial_states(ctx: ExportContext, layer: Layer, states: str) -> list[str]:
    """(N, S, dirs * units) states -> S tensors (dirs, N, units), ONNX's initial_h / initial_c."""
    dirs = 2 if layer.params["bidirectional"] else 1
    out = []
    for i in range(layer.parents[1].output_shape[0]):
        one = ctx.node(
            "Gather",
            [states, ctx.ints(layer, "state_index", i)],
            ctx.tmp(layer, "s"),
            layer,
            axis=1,
        )
        one = ctx.node(
            "Reshape",
            [one, ctx.ints(layer, "state_shape", [0, dirs, layer.params["units"]])],
            ctx.tmp(layer, "s_dirs"),
            layer,
        )
        out.append(ctx.node("Transpose", [one], ctx.tmp(layer, "s0"), layer, perm=[1, 0, 2]))
    return out


def _sequence_lens(ctx: ExportContext, layer: Layer, x: str) -> str:
    """mask_zeros: the number of steps whose input is not all zeros (int32, per sample)."""
    a = ctx.node("Abs", [x], ctx.tmp(layer, "abs"), layer)
    s = ctx.node(
        "ReduceSum", [a, ctx.ints(layer, "last", [-1])], ctx.tmp(layer, "sum"), layer, keepdims=0
    )
    zero = ctx.const(f"{layer.name}/zero", np.zeros((), np.float32))
    nz = ctx.node("Greater", [s, zero], ctx.tmp(layer, "nonzero"), layer)
    n = ctx.node("Cast", [nz], ctx.tmp(layer, "nonzero_i"), layer, to=onnx.TensorProto.INT32)
    return ctx.node(
        "ReduceSum", [n, ctx.ints(layer, "time", [1])], ctx.tmp(layer, "lens"), layer, keepdims=0
    )


@exporter("RNN", "LSTM", "GRU")
def recurrent_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Transpose to time-major, the ONNX op, then the sequence or the last state batch-first."""
    names = {
        k: ctx.const(f"{layer.name}.{k}", v)
        for k, v in onnx_weights(layer, ctx.weights(layer)).items()
    }
    step_form = len(layer.input_shapes[0]) == 1
    x_in = inputs[0]
    if step_form and not ctx.sequence.get(layer.parents[0].name, False):  # one step: (N, 1, F)
        x_in = ctx.node(
            "Unsqueeze", [x_in, ctx.ints(layer, "axis1", [1])], ctx.tmp(layer, "one"), layer
        )
    x = ctx.node("Transpose", [x_in], ctx.tmp(layer, "time_major"), layer, perm=[1, 0, 2])
    args = [x, names["W"], names["R"], names.get("B", "")]
    if step_form and layer.params["mask_zeros"]:
        args.append(_sequence_lens(ctx, layer, x_in))
    if len(inputs) > 1:
        args += [""] * (5 - len(args)) + _initial_states(ctx, layer, inputs[1])
    while args and not args[-1]:
        args.pop()
    op = GATES[layer.kind][0]
    seq = ctx.sequence.get(layer.name, False) if step_form else layer.params["return_sequences"]
    y_name = ctx.tmp(layer, "Y")
    h_name = ctx.tmp(layer, "Y_h")
    outs = [y_name, h_name] + ([ctx.tmp(layer, "Y_c")] if layer.kind == "LSTM" else [])
    ctx.states[layer.name] = outs[1:]
    ctx.nodes.append(
        helper.make_node(op, args, outs, name=f"{layer.name}/{op}", **recurrent_attrs(layer))
    )
    if seq:  # Y: (T, dirs, N, H) -> (N, T, dirs * H)
        y = ctx.node("Transpose", [y_name], ctx.tmp(layer, "batch_major"), layer, perm=[2, 0, 1, 3])
        ctx.node("Reshape", [y, ctx.ints(layer, "shape", [0, 0, -1])], ctx.out(layer), layer)
        return
    h = ctx.node("Transpose", [h_name], ctx.tmp(layer, "batch_major"), layer, perm=[1, 0, 2])
    ctx.node("Reshape", [h, ctx.ints(layer, "shape", [0, -1])], ctx.out(layer), layer)


@exporter("GetStates")
def get_states_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """The recurrent parent's Y_h (and Y_c), (dirs, N, H) each, as (N, S, dirs * H).

    S is the layer's `states`: all of the parent's, or Y_h alone for a GRU/RNN started from an
    LSTM (`GRU([x, lstm], n)`).
    """
    parts = []
    for name in ctx.states[layer.parents[0].name][: layer.params["states"]]:
        t = ctx.node("Transpose", [name], ctx.tmp(layer, "batch_major"), layer, perm=[1, 0, 2])
        parts.append(
            ctx.node(
                "Reshape", [t, ctx.ints(layer, "shape", [0, 1, -1])], ctx.tmp(layer, "s"), layer
            )
        )
    ctx.node("Concat", parts, ctx.out(layer), layer, axis=1)


@weights_reader("RNN", "LSTM", "GRU")
def recurrent_from_onnx(layer: Layer, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The torch state_dict from the `<layer>.W/R/B` initializers."""
    get = tensors.get
    w, r, b = get(f"{layer.name}.W"), get(f"{layer.name}.R"), get(f"{layer.name}.B")
    if w is None or r is None:
        raise KeyError(f"layer '{layer.name}' ({layer.kind}): no initializers '{layer.name}.W/R'")
    return torch_state(layer, w, r, b)


# ---- import of foreign RNN / LSTM / GRU nodes -------------------------------------------------


def _batch_first_input(ictx: ImportContext, node: onnx.NodeProto, layout: int) -> Layer:
    """The (batch, time, features) layer behind the op's X input."""
    name = node.input[0]
    if layout == 1:
        return ictx.layer(node, 0)
    if name not in ictx.views:
        raise ictx.error(node, "a time-major X must come from a Transpose of the batch-first data")
    layer, idx = ictx.views[name]
    if idx.ndim != 3 or batch_axis(layer, idx) != 1:
        raise ictx.error(node, f"X of shape {idx.shape} is not (time, batch, features)")
    return ictx.materialize(layer, np.moveaxis(idx, 1, 0), node)


def _check_zero_state(ictx: ImportContext, node: onnx.NodeProto) -> None:
    for i in range(5, len(node.input)):
        if i == 7 and node.op_type == "LSTM" and node.input[i]:
            raise ictx.error(node, "peephole weights (P) are not supported")
        if node.input[i]:
            value = ictx.const(node, i, "an initial state")
            if np.any(value != 0):
                raise ictx.error(node, "non-zero initial states are not supported")
    if len(node.input) > 4 and node.input[4]:
        raise ictx.error(node, "sequence_lens is not supported")


@op_importer("RNN", "LSTM", "GRU")
def recurrent_from_foreign(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """RNN/LSTM/GRU with zero initial states: a layer per used output (Y or Y_h), as views."""
    kind = node.op_type
    a = ictx.attrs(node)
    w, r = ictx.const(node, 1, "W"), ictx.const(node, 2, "R")
    b = ictx.const(node, 3, "B")
    direction = a.get("direction", "forward")
    if direction not in ("forward", "bidirectional") or a.get("clip") or a.get("input_forget"):
        raise ictx.error(node, f"direction {direction!r}, clip and input_forget are not supported")
    if kind == "GRU" and not a.get("linear_before_reset", 0):
        raise ictx.error(node, "GRU needs linear_before_reset=1 (as torch computes it)")
    acts = [x.lower() for x in a.get("activations", [])]
    defaults = {"RNN": ["tanh"], "LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"]}
    per_dir = len(defaults[kind])
    if kind == "RNN":
        if acts and any(x not in ("tanh", "relu") or x != acts[0] for x in acts):
            raise ictx.error(node, f"RNN activations {acts} are not supported")
    elif acts and acts != defaults[kind] * (len(acts) // per_dir):
        raise ictx.error(node, f"activations {acts} are not supported")
    _check_zero_state(ictx, node)
    parent = _batch_first_input(ictx, node, int(a.get("layout", 0)))
    units = int(a.get("hidden_size", r.shape[-1]))
    dirs = 2 if direction == "bidirectional" else 1
    steps = parent.output_shape[0]
    for index, output in enumerate(node.output[:2]):
        if not output or not ictx.consumers.get(output) and output not in ictx.graph_outputs:
            continue
        params = {
            "units": units,
            "bidirectional": dirs == 2,
            "activation": (acts[0] if acts else "tanh") if kind == "RNN" else "tanh",
            "use_bias": b is not None or kind != "RNN",
            "mask_zeros": False,
            "return_sequences": index == 0,
        }
        layer = ictx.add(kind, [parent], params, node, output=f"{output}/batch_first")
        ictx.load(layer, torch_state(layer, w, r, b), node)
        if index == 0:  # Y: (T, dirs, N, H) over (N, T, dirs * H)
            idx = np.arange(VIEW_BATCH * steps * dirs * units).reshape(
                VIEW_BATCH, steps, dirs, units
            )
            ictx.views[output] = (layer, idx.transpose(1, 2, 0, 3))
        else:  # Y_h: (dirs, N, H) over (N, dirs * H)
            idx = np.arange(VIEW_BATCH * dirs * units).reshape(VIEW_BATCH, dirs, units)
            ictx.views[output] = (layer, idx.transpose(1, 0, 2))
    if len(node.output) > 2 and node.output[2] and ictx.consumers.get(node.output[2]):
        raise ictx.error(node, "the cell state output Y_c is not supported")
