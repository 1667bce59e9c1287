"""The attributes pyeddl scripts read on a layer: `input`, `output`, `parent`, `child`, `lin`, `lout`.

EDDL's C++ `Layer` exposes its tensors and links as fields; here they are read-only properties
computed from the graph and the last `forward`: `output` is the layer's value (see `getOutput`),
`input` the value fed into it, `parent`/`child` the linked layers and `lin`/`lout` their counts.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

# `getOutput` of the training package, set when it is imported (layers never import training)
OUTPUT_READER: Callable[[Any], Any] | None = None


class PyeddlLayerAttrs:
    """Mixin of `Layer`: pyeddl's layer fields as properties."""

    parents: list[Any]
    output_shape: tuple[int, ...]
    name: str
    kind: str

    def _link_children(self) -> None:
        """Record this layer as a child of each parent (weakly, so dropped layers vanish)."""
        for p in self.parents:
            p.__dict__.setdefault("_child_refs", []).append(weakref.ref(self))

    @property
    def parent(self) -> list[Any]:
        """The parent layers (EDDL's `parent` vector)."""
        return list(self.parents)

    @property
    def child(self) -> list[Any]:
        """The layers built on this one that still exist (EDDL's `child` vector)."""
        refs = self.__dict__.get("_child_refs", [])
        return [c for c in (r() for r in refs) if c is not None]

    @property
    def lin(self) -> int:
        """Number of parents."""
        return len(self.parents)

    @property
    def lout(self) -> int:
        """Number of children."""
        return len(self.child)

    @property
    def output(self) -> Any:
        """The layer's value after the last `forward` (a Tensor; see `getOutput`).

        Before any `forward` it is a zero tensor of shape [1, *output shape], as EDDL allocates
        it (`getOutput` raises instead).
        """
        from deephealth.eddl.tensor import Tensor

        if self.kind == "Input":
            value = getattr(self, "_last_value", None)
            return Tensor([1, *self.output_shape]) if value is None else Tensor.wrap(value)
        if OUTPUT_READER is None:
            raise RuntimeError("layer outputs are read by deephealth.eddl.training (not imported)")
        if getattr(self, "_last_model", None) is None:  # no forward has computed it yet
            return Tensor([1, *self.output_shape])
        return OUTPUT_READER(self)

    @property
    def input(self) -> Any:
        """The value fed into the layer: the batch for an Input, else the first parent's output.

        Before any `forward`, an Input layer gives a zero tensor of shape [1, *input shape].
        """
        from deephealth.eddl.tensor import Tensor

        if self.kind == "Input":
            value = getattr(self, "_last_value", None)
            if value is None:
                return Tensor([1, *self.output_shape])
            return Tensor.wrap(value)
        return self.parents[0].output
