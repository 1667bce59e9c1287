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


@exporter("RNN", "LSTM", "GRU")
def recurrent_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """Transpose to time-major, the ONNX op, then the sequence or the last state batch-first."""
    names = {
        k: ctx.const(f"{layer.name}.{k}", v)
        for k, v in onnx_weights(layer, ctx.weights(layer)).items()
    }
    x = ctx.node("Transpose", inputs, ctx.tmp(layer, "time_major"), layer, perm=[1, 0, 2])
    args = [x, names["W"], names["R"]] + ([names["B"]] if "B" in names else [])
    op = GATES[layer.kind][0]
    seq = layer.params["return_sequences"]
    y_name = ctx.tmp(layer, "Y")
    h_name = ctx.tmp(layer, "Y_h")
    outs = [y_name, h_name]
    ctx.nodes.append(
        helper.make_node(op, args, outs, name=f"{layer.name}/{op}", **recurrent_attrs(layer))
    )
    if seq:  # Y: (T, dirs, N, H) -> (N, T, dirs * H)
        y = ctx.node("Transpose", [y_name], ctx.tmp(layer, "batch_major"), layer, perm=[2, 0, 1, 3])
        ctx.node("Reshape", [y, ctx.ints(layer, "shape", [0, 0, -1])], ctx.out(layer), layer)
        return
    h = ctx.node("Transpose", [h_name], ctx.tmp(layer, "batch_major"), layer, perm=[1, 0, 2])
    ctx.node("Reshape", [h, ctx.ints(layer, "shape", [0, -1])], ctx.out(layer), layer)


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
