"""pyeddl utilities: `getInput`, `get_topk_predictions`, and the computing services not offered here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import torch

from deephealth.eddl.computing import DeviceError
from deephealth.eddl.tensor import Tensor, as_torch


def getInput(l1: Any) -> Tensor:
    """The value fed into layer `l1` in the last `forward` (for an Input: the batch)."""
    return l1.input


def get_topk_predictions(
    class_probs: Any, class_names: Sequence[str], k: int = 5, decimals: int = 2
) -> str:
    """The `k` most probable classes, one per line: `"1. name (97.30%)"` (EDDL's format).

    Raises:
        ValueError: an empty tensor, a class count that differs from `class_names`, or `k`
            outside [1, number of classes).
    """
    probs = as_torch(class_probs).detach().reshape(-1).float().cpu()
    if probs.numel() == 0:
        raise ValueError("get_topk_predictions: the class probability tensor is empty")
    if probs.numel() != len(class_names):
        raise ValueError(
            f"get_topk_predictions: {probs.numel()} probabilities for {len(class_names)} class names"
        )
    if not 0 < int(k) < probs.numel():
        raise ValueError(f"get_topk_predictions: k must be in [1, {probs.numel()}), got {k}")
    order = torch.argsort(probs, descending=True, stable=True)[: int(k)]
    lines = [
        f"{rank}. {class_names[int(i)]} ({100.0 * float(probs[int(i)]):.{int(decimals)}f}%)"
        for rank, i in enumerate(order, start=1)
    ]
    return "\n".join(lines) + "\n"


def _unsupported(what: str) -> NoReturn:
    raise DeviceError(
        f"{what} is not available: deephealth runs on CPUs and CUDA GPUs (CS_CPU, CS_GPU)"
    )


def CS_FPGA(*args: Any, **kwargs: Any) -> NoReturn:
    """EDDL's FPGA service: not offered here (raises `DeviceError`)."""
    _unsupported("CS_FPGA")


def CS_COMPSS(*args: Any, **kwargs: Any) -> NoReturn:
    """EDDL's COMPSs service: not offered here (raises `DeviceError`)."""
    _unsupported("CS_COMPSS")
