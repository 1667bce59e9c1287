"""Recurrent layers RNN, LSTM and GRU (optionally bidirectional), States and GetStates.

Two input conventions, told apart by the rank of the parent's shape (batch excluded):

- **EDDL form** (pyeddl's examples): the parent gives ONE time step, `(features,)`; e.g.
  `Input([28]) -> Dense -> LSTM`. The data is `(N, T, *step)`: the layers between the input and the
  recurrent layer apply to every step (time-distributed, see `runtime.py`), the recurrent layer
  reads the T steps and gives its last output `(units,)`, or its output at every step when another
  recurrent layer reads it or when it belongs to a decoder (`setDecoder`). Its shape stays the
  step's shape, `(units,)`, as in EDDL. A second parent gives the initial states: a `States`
  input or `GetStates(encoder)`, values `(N, S, units)` with S = 2 for LSTM (h, c), 1 otherwise.
  `mask_zeros=True` keeps the previous state (and output) at steps whose input is all zeros, as
  EDDL does (an `Embedding(..., mask_zeros=True)` maps index 0 to a zero vector).
- **Keras form** (accepted before the EDDL form existed, kept where it does not conflict): the
  parent gives `(T, features)`; the layer outputs `(units,)` or, with `return_sequences=True` or
  when stacked under another recurrent layer, `(T, units)`.

Bidirectional layers concatenate the forward and backward outputs (`2 * units`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, ShapeError, register

RECURRENT_KINDS = ("RNN", "LSTM", "GRU")


def num_states(kind: str) -> int:
    """Number of state vectors a recurrent layer carries (LSTM: h and c)."""
    return 2 if kind == "LSTM" else 1


class RecurrentModule(nn.Module):
    """Wraps `nn.RNN`/`nn.LSTM`/`nn.GRU` (batch first).

    After each forward, `last_states` holds the final states `(N, S, dirs * units)` (read by
    `GetStates`, `getStates` and step-by-step decoding).
    """

    def __init__(self, kind: str, features: int, params: dict[str, Any], step_form: bool):
        super().__init__()
        kw: dict[str, Any] = dict(
            input_size=features,
            hidden_size=params["units"],
            bias=params["use_bias"],
            batch_first=True,
            bidirectional=params["bidirectional"],
        )
        if kind == "RNN":
            kw["nonlinearity"] = params["activation"]
        self.rnn = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[kind](**kw)
        self.is_lstm = kind == "LSTM"
        self.sequence = params["return_sequences"]
        self.bidirectional = params["bidirectional"]
        self.mask_zeros = params["mask_zeros"]
        self.step_form = step_form
        self.units = params["units"]
        self.last_states: torch.Tensor | None = None

    # -- states: ours (N, S, dirs*units) <-> torch's (dirs, N, units) per state ------------------
    def _to_torch_states(self, states: torch.Tensor) -> Any:
        n = states.shape[0]
        dirs = 2 if self.bidirectional else 1
        parts = [
            states[:, i].reshape(n, dirs, self.units).transpose(0, 1).contiguous()
            for i in range(states.shape[1])
        ]
        if self.is_lstm:
            if len(parts) != 2:
                raise ShapeError(f"an LSTM needs 2 initial states (h, c), got {len(parts)}")
            return parts[0], parts[1]
        return parts[0]

    def _from_torch_states(self, h: Any) -> torch.Tensor:
        parts = list(h) if self.is_lstm else [h]
        n = parts[0].shape[1]
        return torch.stack([p.transpose(0, 1).reshape(n, -1) for p in parts], dim=1)

    def forward(
        self, x: torch.Tensor, states: torch.Tensor | None = None, sequence: bool | None = None
    ) -> torch.Tensor:
        """Run over x: (N, T, F) (or (N, F): one step); `sequence` overrides the output form."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        seq = self.sequence if sequence is None else sequence
        h0 = None if states is None else self._to_torch_states(states)
        valid = x.detach().abs().flatten(2).sum(-1) != 0 if self.mask_zeros else None
        if valid is None or bool(valid.all()):
            out, h = self.rnn(x, h0)
        else:
            out, h = self._masked(x, h0, valid)
        self.last_states = self._from_torch_states(h)
        if seq:
            return out
        top = h[0] if self.is_lstm else h
        if self.bidirectional:
            return torch.cat((top[-2], top[-1]), dim=-1)
        return top[-1]

    def _masked(self, x: torch.Tensor, h0: Any, valid: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """EDDL's mask_zeros: steps whose input is all zeros keep the previous state and output."""
        n, t = valid.shape
        lengths = valid.sum(1)
        prefix = bool((valid == (torch.arange(t, device=x.device) < lengths[:, None])).all())
        if prefix and bool((lengths > 0).all()):
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, h = self.rnn(packed, h0)
            out = pad_packed_sequence(out, batch_first=True, total_length=t)[0]
            top = h[0] if self.is_lstm else h
            last = torch.cat((top[-2], top[-1]), -1) if self.bidirectional else top[-1]
            return torch.where(valid[..., None], out, last[:, None, :]), h
        if self.bidirectional:
            raise ValueError(
                "a bidirectional layer with mask_zeros needs the zero (masked) steps at the end "
                "of each sequence"
            )
        return self._step_loop(x, h0, valid)

    def _step_loop(self, x: torch.Tensor, h0: Any, valid: torch.Tensor) -> tuple[torch.Tensor, Any]:
        n = x.shape[0]
        if h0 is None:
            z = x.new_zeros(1, n, self.units)
            h0 = (z, z) if self.is_lstm else z
        h, outs = h0, []
        prev = h[0][-1] if self.is_lstm else h[-1]
        for s in range(x.shape[1]):
            out, hn = self.rnn(x[:, s : s + 1], h)
            keep = valid[:, s].view(1, n, 1)
            if self.is_lstm:
                h = (torch.where(keep, hn[0], h[0]), torch.where(keep, hn[1], h[1]))
            else:
                h = torch.where(keep, hn, h)
            prev = torch.where(keep[0], out[:, 0], prev)
            outs.append(prev)
        return torch.stack(outs, 1), h


class _RecurrentSpec(LayerSpec):
    max_parents = 2

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = in_shapes[0]
        width = params["units"] * (2 if params["bidirectional"] else 1)
        if len(in_shapes) > 1:
            want = (num_states(self.kind), width)
            if len(shape) != 1:
                raise ShapeError(
                    "initial states need the EDDL form (the input gives one time step, "
                    f"(features,)), got {shape}"
                )
            if tuple(in_shapes[1]) != want:
                raise ShapeError(f"the initial states must have shape {want}, got {in_shapes[1]}")
        if len(shape) == 1:
            return (width,)
        if len(shape) == 2:
            return (shape[0], width) if params["return_sequences"] else (width,)
        raise ShapeError(
            f"{self.kind} takes one time step (features,) as pyeddl (Input([F]) with data "
            f"(N, T, F)), or (time, features); got {len(shape)}-D {shape}: put a Reshape(x, [-1]) "
            "before it"
        )

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        shape = in_shapes[0]
        return RecurrentModule(self.kind, shape[-1], params, step_form=len(shape) == 1)


for _kind in RECURRENT_KINDS:
    register(type(f"{_kind}Spec", (_RecurrentSpec,), {"kind": _kind, "__doc__": f"{_kind} layer."}))


class GetStatesModule(nn.Module):
    """Placeholder module: the runtime gives `GetStates` its parent's `last_states`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover (runtime reads states)
        raise RuntimeError("GetStates is computed by the graph runtime")


@register
class GetStatesSpec(LayerSpec):
    """The final states of a recurrent layer, `(S, dirs * units)` (EDDL's CopyStates)."""

    kind = "GetStates"

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        return (params["states"], params["width"])

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return GetStatesModule()


def _stack_source(parent: Layer) -> None:
    """Keras form: make a recurrent parent output its whole sequence, so that layers stack."""
    if (
        parent.kind in RECURRENT_KINDS
        and len(parent.input_shapes[0]) == 2
        and not parent.params["return_sequences"]
    ):
        parent.params["return_sequences"] = True
        parent.output_shape = parent.spec.infer_shape(parent.params, parent.input_shapes)
        parent.rebuild()


def _recurrent(
    kind: str,
    parent: Layer | Sequence[Layer],
    units: int,
    bidirectional: bool,
    name: str,
    extra: dict[str, Any],
) -> Layer:
    parents = list(parent) if isinstance(parent, (list, tuple)) else [parent]
    if not 1 <= len(parents) <= 2:
        raise ValueError(f"{kind} takes [input] or [input, states], got {len(parents)} parents")
    if int(units) <= 0:
        raise ValueError(f"{kind} needs a positive number of units, got {units}")
    if isinstance(parents[0], Layer):
        _stack_source(parents[0])
    if len(parents) == 2 and isinstance(parents[1], Layer) and parents[1].kind in RECURRENT_KINDS:
        parents[1] = _states_of(parents[1], kind)
    if extra["return_sequences"] and isinstance(parents[0], Layer):
        if len(parents[0].output_shape) == 1:
            raise ValueError(
                f"{kind}: return_sequences is for the Keras form (input (T, F)); with pyeddl's "
                "form (Input([F]) and data (N, T, F)) the layer already outputs every step when "
                "a recurrent layer reads it or it is in a decoder (setDecoder)"
            )
    params = {"units": int(units), "bidirectional": bool(bidirectional), **extra}
    # EDDL names these "LSTM1", "GRU1" (upper case); pyeddl scripts look them up by that name
    stem = kind if kind in ("LSTM", "GRU") else None
    return Layer(kind, parents, params, name or None, stem=stem)


def RNN(
    parent: Layer | Sequence[Layer],
    units: int,
    activation: str = "tanh",
    use_bias: bool = True,
    bidirectional: bool = False,
    name: str = "",
    return_sequences: bool = False,
) -> Layer:
    """Elman RNN (activation "tanh" or "relu"); see the module doc for inputs and outputs."""
    if activation not in ("tanh", "relu"):
        raise ValueError(f"RNN activation must be 'tanh' or 'relu', got {activation!r}")
    extra = {
        "activation": activation,
        "use_bias": bool(use_bias),
        "mask_zeros": False,
        "return_sequences": bool(return_sequences),
    }
    return _recurrent("RNN", parent, units, bidirectional, name, extra)


def LSTM(
    parent: Layer | Sequence[Layer],
    units: int,
    mask_zeros: bool = False,
    bidirectional: bool = False,
    name: str = "",
    return_sequences: bool = False,
) -> Layer:
    """Long short-term memory layer; `LSTM([x, states], units)` starts from given states."""
    return _gated("LSTM", parent, units, mask_zeros, bidirectional, name, return_sequences)


def GRU(
    parent: Layer | Sequence[Layer],
    units: int,
    mask_zeros: bool = False,
    bidirectional: bool = False,
    name: str = "",
    return_sequences: bool = False,
) -> Layer:
    """Gated recurrent unit layer; `GRU([x, states], units)` starts from given states."""
    return _gated("GRU", parent, units, mask_zeros, bidirectional, name, return_sequences)


def _gated(
    kind: str,
    parent: Layer | Sequence[Layer],
    units: int,
    mask_zeros: bool,
    bidirectional: bool,
    name: str,
    return_sequences: bool,
) -> Layer:
    """LSTM and GRU: tanh cells with biases, as pyeddl builds them."""
    extra = {
        "activation": "tanh",
        "use_bias": True,
        "mask_zeros": bool(mask_zeros),
        "return_sequences": bool(return_sequences),
    }
    return _recurrent(kind, parent, units, bidirectional, name, extra)


def GetStates(parent: Layer, name: str = "") -> Layer:
    """The final states of recurrent layer `parent`, to start another one (`LSTM([x, s], n)`)."""
    if not isinstance(parent, Layer) or parent.kind not in RECURRENT_KINDS:
        raise ValueError(
            f"GetStates takes a recurrent layer (RNN/LSTM/GRU), got "
            f"{getattr(parent, 'kind', type(parent).__name__)}"
        )
    return _states_layer(parent, num_states(parent.kind), name)


def _states_layer(source: Layer, count: int, name: str = "") -> Layer:
    """The `GetStates` layer of `source`'s first `count` final states, `(count, width)`."""
    params = {"states": count, "width": int(source.output_shape[-1])}
    return Layer("GetStates", [source], params, name or None)


def _states_of(source: Layer, kind: str) -> Layer:
    """EDDL's `LSTM([x, lstm], n)`: start from recurrent layer `source`'s final states.

    EDDL reads `source`'s states directly (h, and c for an LSTM); here that is a `GetStates` of
    `source` keeping the first states that `kind` needs (a GRU after an LSTM takes h).
    """
    have, need = num_states(source.kind), num_states(kind)
    if need > have:
        raise ShapeError(
            f"{kind} starts from {need} states (h, c) but {source.kind} layer '{source.name}' has "
            f"{have}; give it States([{need}, units]) or the states of an LSTM"
        )
    return _states_layer(source, need)


def States(shape: Sequence[int], name: str = "") -> Layer:
    """An input of initial states `[num_states, dim]` (LSTM: `[2, units]`), as pyeddl's States."""
    shape = [int(d) for d in shape]
    if len(shape) != 2:
        raise ValueError(f"States must have two dimensions, [num_states, dim_states]; got {shape}")
    layer = Layer("Input", [], {"shape": shape}, name or None)
    layer.isstates = True
    return layer


def setDecoder(layer: Layer) -> None:
    """Mark Input `layer` as a decoder input: `fit` feeds it the targets shifted by one step
    (teacher forcing: zeros, y[0], ..., y[T-2]) and `predict` decodes step by step from zeros."""
    if not isinstance(layer, Layer) or layer.kind != "Input":
        raise ValueError(
            f"setDecoder takes the decoder's Input layer, got "
            f"{getattr(layer, 'kind', type(layer).__name__)}"
        )
    layer.isdecoder = True


def getStates(layer: Layer) -> list[Any]:
    """The states of recurrent `layer` after the last forward, one Tensor `(N, units)` each."""
    from deephealth.eddl.tensor import Tensor

    module = layer.module
    states = getattr(module, "last_states", None)
    if states is None:
        raise ValueError(f"getStates: layer '{layer.name}' has no states yet; run forward first")
    return [Tensor.wrap(states[:, i].detach().clone()) for i in range(states.shape[1])]
