"""The ONNX tables: `EXPORTERS[kind]`, `WEIGHT_READERS[kind]` and `OP_IMPORTERS[op]`.

`exporter("Dense")` puts a function `to_onnx(ctx, layer, inputs)` in `EXPORTERS["Dense"]`;
`weights_reader("LSTM")` puts `from_onnx(layer, tensors) -> state_dict arrays` in `WEIGHT_READERS`
for kinds whose ONNX weights are not stored as their torch state_dict (`weights_reader_for` falls
back to `default_from_onnx`, which reads `<layer>.<key>` initializers back). `op_importer("Conv")`
puts a function `(ictx, node) -> None` in `OP_IMPORTERS`, the table that turns nodes of foreign ONNX
graphs into layers. The tables are keyed by name, so the order in which the layer modules and the
mappings are imported does not matter; `check_complete()` (run when `mapping/` has been imported)
refuses a layer kind without exporter and a mapping that names an unknown kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deephealth.eddl.layers.base import LAYER_TYPES, Layer
from deephealth.eddl.onnx.errors import OnnxError

EXPORTERS: dict[str, Callable[..., Any]] = {}
WEIGHT_READERS: dict[str, Callable[..., Any]] = {}
OP_IMPORTERS: dict[str, Callable[..., Any]] = {}
DECLARED_KINDS: set[str] = set()


def _put(table: dict[str, Callable[..., Any]], key: str, fn: Callable[..., Any], what: str) -> None:
    if key in table and table[key] is not fn:
        raise ValueError(f"{what} {key!r} has two ONNX mappings")
    table[key] = fn


def exporter(*kinds: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the function writes layers of `kinds` as ONNX nodes."""

    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        for kind in kinds:
            DECLARED_KINDS.add(kind)
            _put(EXPORTERS, kind, fn, "layer kind")
        return fn

    return attach


def weights_reader(*kinds: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the function reads the state_dict of layers of `kinds` from ONNX tensors."""

    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        for kind in kinds:
            DECLARED_KINDS.add(kind)
            _put(WEIGHT_READERS, kind, fn, "layer kind")
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


def weights_reader_for(kind: str) -> Callable[..., Any]:
    """The function that reads the weights of a `kind` layer from an own ONNX file."""
    return WEIGHT_READERS.get(kind, default_from_onnx)


def check_complete() -> None:
    """Every kind of the layer table has an exporter and every mapping names a known kind.

    Raises:
        OnnxError: listing the kinds without exporter and the unknown kinds.
    """
    missing = sorted(set(LAYER_TYPES) - set(EXPORTERS))
    unknown = sorted(DECLARED_KINDS - set(LAYER_TYPES))
    if missing or unknown:
        raise OnnxError(
            f"ONNX mapping table incomplete: layer kinds without exporter {missing}, "
            f"mappings for unknown kinds {unknown} (see docs/architecture.md, 'add a layer')"
        )
