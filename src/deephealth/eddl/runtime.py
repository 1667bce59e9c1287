"""Execution of a layer graph on PyTorch: the `GraphModule`.

The graph is compiled once into a flat plan (module, parent slots) that `forward` walks with list
indexing only, so the per-step overhead over a hand-written `nn.Module` is a few microseconds.

Networks with recurrent layers in pyeddl's form (see `layers/recurrent.py`) run a sequence-aware
plan: a value with one more axis than its layer's shape is a sequence `(N, T, *shape)`; a layer
fed a sequence applies to every step (the batch and time axes are merged around its module, and a
per-sample value meeting a sequence is repeated over time, e.g. an image feature concatenated to
every word); recurrent layers consume sequences. `forward(..., cache=dict)` decodes incrementally:
the values outside the decoder are computed once and the decoder's recurrent states carry over
from call to call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from deephealth.eddl.layers.base import module_key

if TYPE_CHECKING:
    from deephealth.eddl.model import Model

_PLAIN, _RECURRENT, _GETSTATES = 0, 1, 2
_RECURRENT_KINDS = ("RNN", "LSTM", "GRU")


def _step_form(layer: Any) -> bool:
    return layer.kind in _RECURRENT_KINDS and len(layer.input_shapes[0]) == 1


class GraphModule(nn.Module):
    """A `torch.nn.Module` that computes a `Model`'s outputs from its inputs.

    The layer modules are registered under their (sanitized) layer names, so `state_dict` keys read
    `layers.<layer name>.weight`. Inputs are the model's inputs followed by its decoder inputs.
    """

    def __init__(self, model: Model) -> None:
        super().__init__()
        layers = model.layers
        slots = {id(layer): i for i, layer in enumerate(layers)}
        decoder_inputs = list(getattr(model, "decoder_inputs", []))
        self.layers = nn.ModuleDict()
        self._input_slots = [slots[id(layer)] for layer in [*model.inputs, *decoder_inputs]]
        self._output_slots = [slots[id(layer)] for layer in model.outputs]
        self._n_slots = len(layers)
        self.sequential = bool(decoder_inputs) or any(
            _step_form(layer) or layer.kind == "GetStates" for layer in layers
        )
        plan: list[tuple[int, nn.Module | None, list[int]]] = []
        for i, layer in enumerate(layers):
            if layer.kind == "Input":
                continue
            if layer.module is not None:
                self.layers[module_key(layer.name)] = layer.module
            # a source layer (constant, generator) reads the batch size from the first input
            parents = layer.parents or (model.inputs[:1] if layer.spec.source else [])
            plan.append((i, layer.module, [slots[id(p)] for p in parents]))
        self._plan = plan
        # EDDL's unroll_enc(inl, outl): with targets of `out_steps` > 1 steps, an encoder net
        # outputs its last `out_steps` steps (set for one call by training.sequence.output_steps)
        self.out_steps: int | None = None
        if self.sequential:
            self._compile_sequential(layers, slots, decoder_inputs)

    def _compile_sequential(self, layers: list, slots: dict[int, int], decoders: list) -> None:
        in_decoder = [False] * len(layers)
        for layer in decoders:
            in_decoder[slots[id(layer)]] = True
        for i, layer in enumerate(layers):
            if any(in_decoder[slots[id(p)]] for p in layer.parents):
                in_decoder[i] = True
        # a recurrent layer outputs every step when a recurrent layer reads its steps below it
        feeds_recurrent = [False] * len(layers)
        for i in reversed(range(len(layers))):
            layer = layers[i]
            if layer.kind == "GetStates":
                continue
            reads = feeds_recurrent[i] or layer.kind in _RECURRENT_KINDS
            if reads:
                first = layer.parents[:1] if layer.kind in _RECURRENT_KINDS else layer.parents
                for p in first:
                    feeds_recurrent[slots[id(p)]] = True
        self._in_decoder = in_decoder
        # values outside the decoder that decoder layers read: the only ones a decoding cache keeps
        self._feeds_decoder = [False] * len(layers)
        for i, layer in enumerate(layers):
            if in_decoder[i]:
                for p in layer.parents:
                    self._feeds_decoder[slots[id(p)]] = not in_decoder[slots[id(p)]]
        seq_plan = []
        for slot, module, parents in self._plan:
            layer = layers[slot]
            ranks = [len(layers[p].output_shape) + 1 for p in parents]
            if _step_form(layer):
                role, extra = _RECURRENT, in_decoder[slot] or feeds_recurrent[slot]
            elif layer.kind == "GetStates":  # the parent's first `states` states
                role, extra = _GETSTATES, (layers[parents[0]].module, layer.params["states"])
            else:
                role, extra = _PLAIN, None
            seq_plan.append((slot, module, parents, role, ranks, extra))
        self._seq_plan = seq_plan

    def forward(
        self, *inputs: torch.Tensor, cache: dict | None = None, capture: dict | None = None
    ) -> list[torch.Tensor]:
        """Compute every output; returns a list in the model's output order.

        `capture`: {layer slot (index in `model.layers`): None} filled with those layers' values
        (what pyeddl's `getOutput` reads for a layer that is not an output).
        """
        if self.sequential:
            return self._forward_sequential(inputs, cache, capture)
        values: list[torch.Tensor | None] = [None] * self._n_slots
        for slot, x in zip(self._input_slots, inputs, strict=True):
            values[slot] = x
        for slot, module, parents in self._plan:
            values[slot] = module(*[values[p] for p in parents])
        if capture is not None:
            capture.update({s: values[s] for s in capture})
        return [values[s] for s in self._output_slots]

    def _forward_sequential(
        self, inputs: tuple[torch.Tensor, ...], cache: dict | None, capture: dict | None = None
    ) -> list[torch.Tensor]:
        if len(inputs) != len(self._input_slots):
            raise ValueError(
                f"the network takes {len(self._input_slots)} input(s) (decoder inputs included), "
                f"got {len(inputs)}"
            )
        values: list[Any] = [None] * self._n_slots
        for slot, x in zip(self._input_slots, inputs):
            values[slot] = x
        warm = cache is not None and cache.get("warm", False)
        for slot, module, parents, role, ranks, extra in self._seq_plan:
            if warm and not self._in_decoder[slot]:
                values[slot] = cache.get(slot)
                continue
            args = [values[p] for p in parents]
            if role == _RECURRENT:
                states = args[1] if len(args) > 1 else None
                if cache is not None and ("states", slot) in cache:
                    states = cache[("states", slot)]
                steps = self.out_steps if not extra and not self._in_decoder[slot] else None
                values[slot] = module(args[0], states, sequence=extra or bool(steps))
                if steps:
                    values[slot] = values[slot][:, -steps:]
                if cache is not None and self._in_decoder[slot]:
                    cache[("states", slot)] = module.last_states
            elif role == _GETSTATES:
                source, count = extra
                values[slot] = source.last_states[:, :count]
            else:
                values[slot] = _time_distributed(module, args, ranks)
            if cache is not None and self._feeds_decoder[slot]:
                cache[slot] = values[slot]
        if cache is not None:
            cache["warm"] = True
        if capture is not None:
            capture.update({s: values[s] for s in capture})
        return [values[s] for s in self._output_slots]


def _time_distributed(module: nn.Module, args: list[torch.Tensor], ranks: list[int]) -> Any:
    """Apply `module` to every step when an argument is a sequence (one axis more than its rank)."""
    seq = next((a for a, r in zip(args, ranks) if a.dim() > r), None)
    if seq is None:
        return module(*args)
    n, t = seq.shape[0], seq.shape[1]
    flat = []
    for a, r in zip(args, ranks):
        if a.dim() == r:
            a = a.unsqueeze(1).expand(n, t, *a.shape[1:])
        flat.append(a.reshape(n * t, *a.shape[2:]))
    out = module(*flat)
    return out.reshape(n, t, *out.shape[1:])
