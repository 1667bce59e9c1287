"""Registration of ONNX mappings: exporters/own-file importers on the layer table, op importers.

`exporter("Dense")` attaches a function `to_onnx(ctx, layer, inputs)` to `LAYER_TYPES["Dense"]`;
`weights_reader("LSTM")` attaches `from_onnx(layer, tensors) -> state_dict arrays` for kinds whose
ONNX weights are not stored as their torch state_dict (the default reads `<layer>.<key>`
initializers back). `op_importer("Conv")` adds a function `(ictx, node) -> None` to `OP_IMPORTERS`,
the table that turns nodes of foreign ONNX graphs into layers. Kinds not registered (yet) in the
layer table are skipped, and recorded in `DECLARED_KINDS` so a test can catch a misspelt kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deephealth.eddl.layers.base import LAYER_TYPES, Layer

OP_IMPORTERS: dict[str, Callable[..., Any]] = {}
DECLARED_KINDS: set[str] = set()


def exporter(*kinds: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the function writes layers of `kinds` as ONNX nodes."""

    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        for kind in kinds:
            DECLARED_KINDS.add(kind)
            if kind in LAYER_TYPES:
                LAYER_TYPES[kind].to_onnx = fn  # type: ignore[misc]
        return fn

    return attach


def weights_reader(*kinds: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the function reads the state_dict of layers of `kinds` from ONNX tensors."""

    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        for kind in kinds:
            DECLARED_KINDS.add(kind)
            if kind in LAYER_TYPES:
                LAYER_TYPES[kind].from_onnx = fn  # type: ignore[misc]
        return fn

    return attach


def op_importer(*ops: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the function turns foreign ONNX nodes of `ops` into layers."""

    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        for op in ops:
            if op in OP_IMPORTERS:
                raise ValueError(f"ONNX op {op!r} has two importers")
            OP_IMPORTERS[op] = fn
        return fn

    return attach


def default_from_onnx(layer: Layer, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The layer's state_dict read from initializers named `<layer>.<key>`.

    Raises:
        KeyError: naming the missing initializer.
    """
    if layer.module is None:
        return {}
    out = {}
    for key in layer.module.state_dict():
        name = f"{layer.name}.{key}"
        if name not in tensors:
            raise KeyError(f"layer '{layer.name}' ({layer.kind}): no initializer '{name}'")
        out[key] = tensors[name]
    return out
