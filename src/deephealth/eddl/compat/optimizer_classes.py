"""pyeddl's optimizer classes (`pyeddl._core.SGD`, `Adam`, ...) as `OptimizerSpec`s.

`build(net, Adam(0.001), ...)` works as `build(net, adam(0.001), ...)`: each class takes the
arguments of its lower-case constructor and is that constructor's spec.
"""

from __future__ import annotations

from typing import Any

from deephealth.eddl.training import optimizers as opt


class _PyeddlOptimizer(opt.OptimizerSpec):
    """An optimizer spec made by a pyeddl class constructor."""

    _make: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        spec = type(self)._make(*args, **kwargs)
        super().__init__(spec.name, spec.params)

    @property
    def lr(self) -> float:
        """The learning rate."""
        return float(self.params["lr"])


def _optimizer_class(name: str, make: Any) -> type:
    doc = f"pyeddl's `{name}` class: the spec of `{make.__name__}(...)` (same arguments)."
    return type(name, (_PyeddlOptimizer,), {"_make": staticmethod(make), "__doc__": doc})


SGD = _optimizer_class("SGD", opt.sgd)
Adam = _optimizer_class("Adam", opt.adam)
AdaDelta = _optimizer_class("AdaDelta", opt.adadelta)
Adagrad = _optimizer_class("Adagrad", opt.adagrad)
Adamax = _optimizer_class("Adamax", opt.adamax)
Nadam = _optimizer_class("Nadam", opt.nadam)
RMSProp = _optimizer_class("RMSProp", opt.rmsprop)
