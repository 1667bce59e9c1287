"""Recurrent layers: RNN, LSTM and GRU, optionally bidirectional, on torch's native modules.

Sequence convention. EDDL feeds a recurrent net samples of shape (time, features) and unrolls the
graph over time; layers after the last recurrent layer see only its last step. Here the time axis is
part of the shape: a recurrent layer takes (T, F) (batch excluded, time first) and outputs

- the last step, (units,) or (2 * units,) when bidirectional (the final forward state concatenated
  with the final backward state, which has read the whole sequence), by default; or
- the whole sequence, (T, units) or (T, 2 * units), when `return_sequences=True` (an addition to
  pyeddl's arguments), or automatically when the layer feeds another recurrent layer: as in EDDL,
  `LSTM(LSTM(x, 32), 32)` connects the two at every time step.

An Embedding of a (T,) or (T, 1) index input gives (T, dim), ready for a recurrent layer.
`mask_zeros` is kept as a parameter for compatibility; steps are not masked.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deephealth.eddl.layers.base import Layer, LayerSpec, Shape, expect_rank, register, single

RECURRENT_KINDS = ("RNN", "LSTM", "GRU")


class RecurrentModule(nn.Module):
    """Wraps `nn.RNN`/`nn.LSTM`/`nn.GRU` (batch first) and picks the last step or the sequence."""

    def __init__(self, kind: str, features: int, params: dict[str, Any]):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.rnn(x)
        if self.sequence:
            return out
        if self.is_lstm:
            h = h[0]
        if self.bidirectional:
            return torch.cat((h[-2], h[-1]), dim=-1)
        return h[-1]


class _RecurrentSpec(LayerSpec):
    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        expect_rank(shape, [2], f"{self.kind} takes (time, features)")
        width = params["units"] * (2 if params["bidirectional"] else 1)
        return (shape[0], width) if params["return_sequences"] else (width,)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        return RecurrentModule(self.kind, single(in_shapes)[-1], params)


for _kind in RECURRENT_KINDS:
    register(type(f"{_kind}Spec", (_RecurrentSpec,), {"kind": _kind, "__doc__": f"{_kind} layer."}))


def _as_sequence_source(parent: Layer) -> None:
    """Make a recurrent parent output its whole sequence, so that recurrent layers stack."""
    if parent.kind in RECURRENT_KINDS and not parent.params["return_sequences"]:
        parent.params["return_sequences"] = True
        parent.output_shape = parent.spec.infer_shape(parent.params, parent.input_shapes)
        parent.rebuild()


def _recurrent(
    kind: str,
    parent: Layer,
    units: int,
    bidirectional: bool,
    name: str,
    extra: dict[str, Any],
) -> Layer:
    if isinstance(parent, (list, tuple)):
        if len(parent) != 1:
            raise ValueError(f"{kind} with initial states (a list of parents) is not supported")
        parent = parent[0]
    if int(units) <= 0:
        raise ValueError(f"{kind} needs a positive number of units, got {units}")
    if isinstance(parent, Layer):
        _as_sequence_source(parent)
    params = {"units": int(units), "bidirectional": bool(bidirectional), **extra}
    return Layer(kind, [parent], params, name or None)


def RNN(
    parent: Layer,
    units: int,
    activation: str = "tanh",
    use_bias: bool = True,
    bidirectional: bool = False,
    name: str = "",
    return_sequences: bool = False,
) -> Layer:
    """Elman RNN (activation "tanh" or "relu") over a (T, F) input."""
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
    parent: Layer,
    units: int,
    mask_zeros: bool = False,
    bidirectional: bool = False,
    name: str = "",
    return_sequences: bool = False,
) -> Layer:
    """Long short-term memory layer over a (T, F) input (see the module doc for the outputs)."""
    return _gated("LSTM", parent, units, mask_zeros, bidirectional, name, return_sequences)


def GRU(
    parent: Layer,
    units: int,
    mask_zeros: bool = False,
    bidirectional: bool = False,
    name: str = "",
    return_sequences: bool = False,
) -> Layer:
    """Gated recurrent unit layer over a (T, F) input (see the module doc for the outputs)."""
    return _gated("GRU", parent, units, mask_zeros, bidirectional, name, return_sequences)


def _gated(
    kind: str,
    parent: Layer,
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
