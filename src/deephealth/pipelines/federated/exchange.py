"""What travels between a site and the server: the model's parameter arrays, and nothing else.

`exchanged_keys` fixes the order of the arrays (the network's `state_dict` order) and leaves out
BatchNorm weights and statistics under FedBN (they stay at the site) and integer counters;
`get_arrays` / `set_arrays` move them in and out of a built network. `check_outbound` is the gate
every message of a site passes before it is sent: exactly the parameter shapes and dtypes of the
model, a sample count, and metrics that are plain scalars. `ProximalTerm` is the FedProx hook on
the pipelines' training loop: a gradient hook per parameter adds mu·(w - w_global), the gradient of
(mu/2)·||w - w_global||², so the one loop (`eddl.fit`) trains FedProx unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deephealth.pipelines.federated import FederatedError

SCALARS = (bool, int, float, str)


def _bn_prefixes(module: nn.Module) -> list[str]:
    return [
        name + "."
        for name, m in module.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]


def exchanged_keys(net: Any, batchnorm: str = "average") -> list[str]:
    """The `state_dict` keys of a built network that are sent, in order.

    Args:
        net: A built eddl Model.
        batchnorm: "average" (BatchNorm weights and running statistics are aggregated) or
            "fedbn" (they stay local: FedBN).
    """
    state = net.graph.state_dict()
    bn = _bn_prefixes(net.graph) if batchnorm == "fedbn" else []
    return [
        k for k, v in state.items()
        if v.is_floating_point() and not any(k.startswith(p) for p in bn)
    ]  # fmt: skip


def get_arrays(net: Any, keys: Sequence[str]) -> list[np.ndarray]:
    """The network's arrays for `keys` (copies, float32)."""
    state = net.graph.state_dict()
    return [state[k].detach().cpu().numpy().astype(np.float32, copy=True) for k in keys]


def set_arrays(net: Any, keys: Sequence[str], arrays: Sequence[np.ndarray]) -> None:
    """Overwrite the network's tensors for `keys` with `arrays` (the others are kept).

    Raises:
        FederatedError: a count or shape that does not match, naming the tensor.
    """
    if len(arrays) != len(keys):
        raise FederatedError(f"global model has {len(arrays)} arrays, this model {len(keys)}")
    state = net.graph.state_dict()
    with torch.no_grad():
        for key, arr in zip(keys, arrays):
            dst = state[key]
            if tuple(arr.shape) != tuple(dst.shape):
                raise FederatedError(
                    f"global model array {key}: shape {list(arr.shape)}, model {list(dst.shape)}"
                )
            dst.copy_(torch.as_tensor(np.asarray(arr)).to(dst.dtype))


def shapes(arrays: Sequence[np.ndarray]) -> list[tuple[int, ...]]:
    """The shapes of a list of arrays."""
    return [tuple(int(d) for d in a.shape) for a in arrays]


def check_outbound(
    arrays: Sequence[np.ndarray], num_examples: Any, metrics: Mapping[str, Any],
    expected: Sequence[tuple[int, ...]],
) -> None:  # fmt: skip
    """Refuse a site message that carries anything but the model's parameters and scalars.

    Args:
        arrays: The arrays about to be sent (may be empty: evaluation replies).
        num_examples: The sample count.
        metrics: Metric name → value.
        expected: The model's exchanged shapes (`shapes(get_arrays(...))`).

    Raises:
        FederatedError: an array whose shape or dtype is not the model's, a non-integer count, or a
            metric that is not a scalar (a per-sample list, an array, bytes).
    """
    if arrays and shapes(arrays) != list(expected):
        raise FederatedError(
            f"outbound message: array shapes {shapes(arrays)[:4]}... are not the model's parameters"
        )
    for a in arrays:
        if a.dtype != np.float32:
            raise FederatedError(f"outbound message: array of dtype {a.dtype}, not float32")
    if not isinstance(num_examples, int) or isinstance(num_examples, bool) or num_examples < 0:
        raise FederatedError(f"outbound message: sample count {num_examples!r} is not an int")
    for key, value in metrics.items():
        if not isinstance(value, SCALARS) or isinstance(value, bytes):
            raise FederatedError(
                f"outbound message: metric {key!r} is not a scalar ({type(value)})"
            )


class ProximalTerm:
    """FedProx's proximal term on a built network, as gradient hooks (see the module docstring).

    Args:
        net: The built network.
        keys: The exchanged keys (only these are pulled towards the global model).
        mu: The proximal weight; 0 installs nothing.
    """

    def __init__(self, net: Any, keys: Sequence[str], mu: float) -> None:
        self.mu = float(mu)
        self.handles: list[Any] = []
        params = dict(net.graph.named_parameters())
        if self.mu <= 0:
            return
        for key in keys:
            p = params.get(key)
            if p is None or not p.requires_grad:
                continue
            anchor = p.detach().clone()
            self.handles.append(p.register_hook(self._hook(p, anchor)))

    def _hook(self, p: torch.Tensor, anchor: torch.Tensor) -> Any:
        mu = self.mu
        return lambda grad: grad + mu * (p.detach() - anchor)

    def remove(self) -> None:
        """Uninstall the hooks (end of the round)."""
        for h in self.handles:
            h.remove()
        self.handles = []


__all__ = ["ProximalTerm", "check_outbound", "exchanged_keys", "get_arrays", "set_arrays", "shapes"]
