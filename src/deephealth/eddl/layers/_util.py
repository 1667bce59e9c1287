"""Small helpers shared by the layer families: argument normalization and padding arithmetic.

Layer parameters are kept as plain JSON-able values (ints, floats, strings, lists), so a layer can
be re-created from `(kind, params)`; these helpers turn the user's arguments into that form and
compute the EDDL/Keras "same" padding, which may be asymmetric (more on the far side).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from deephealth.eddl.layers.base import Shape, ShapeError


def int_list(value: int | Sequence[int], n: int, what: str) -> list[int]:
    """`value` as a list of `n` ints (a single int is repeated).

    Raises:
        ValueError: when a sequence of the wrong length is given.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [int(value)] * n
    out = [int(v) for v in value]
    if len(out) == 1 and n > 1:
        out = out * n
    if len(out) != n:
        raise ValueError(f"{what} needs {n} value(s), got {list(value)}")
    return out


def float_pair(value: float | Sequence[float], what: str) -> list[float]:
    """A `[low, high]` range of floats (a single number x gives [x, x])."""
    if isinstance(value, (int, float)):
        return [float(value), float(value)]
    out = [float(v) for v in value]
    if len(out) != 2 or out[0] > out[1]:
        raise ValueError(f"{what} must be a range [low, high] with low <= high, got {list(value)}")
    return out


def norm_padding(padding: str | int | Sequence[int], nd: int) -> str | list[int]:
    """Normalize a padding argument: "same", "valid" ("none" is EDDL's name for it) or ints."""
    if isinstance(padding, str):
        p = padding.lower()
        if p == "none":
            p = "valid"
        if p not in ("same", "valid"):
            raise ValueError(f"padding must be 'same', 'valid' or 'none', got {padding!r}")
        return p
    return int_list(padding, nd, "padding")


def window_padding(
    padding: str | list[int],
    spatial: Shape,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int] | None = None,
) -> list[tuple[int, int]]:
    """(before, after) padding per spatial axis for a sliding window.

    "same" gives ceil(in / stride) outputs; the total padding is split as in EDDL and Keras, with
    the odd pixel at the end.
    """
    dilation = dilation or [1] * len(spatial)
    pads: list[tuple[int, int]] = []
    for i, (n, k, s, d) in enumerate(zip(spatial, kernel, strides, dilation)):
        if padding == "valid":
            pads.append((0, 0))
        elif padding == "same":
            k_eff = (k - 1) * d + 1
            out = math.ceil(n / s)
            total = max((out - 1) * s + k_eff - n, 0)
            pads.append((total // 2, total - total // 2))
        else:
            pads.append((padding[i], padding[i]))  # type: ignore[index]
    return pads


def window_output(
    spatial: Shape,
    kernel: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[tuple[int, int]],
    dilation: Sequence[int] | None = None,
) -> list[int]:
    """Output sizes of a sliding window; raises `ShapeError` when the window does not fit."""
    dilation = dilation or [1] * len(spatial)
    out = []
    for n, k, s, d, (a, b) in zip(spatial, kernel, strides, dilation, pads):
        k_eff = (k - 1) * d + 1
        if n + a + b < k_eff:
            raise ShapeError(
                f"window {list(kernel)} (dilation {list(dilation)}) does not fit the spatial size "
                f"{list(spatial)} with padding {list(pads)}"
            )
        out.append((n + a + b - k_eff) // s + 1)
    return out


def torch_pad(pads: Sequence[tuple[int, int]]) -> list[int]:
    """The `F.pad` argument (last axis first) for per-axis (before, after) pads."""
    out: list[int] = []
    for a, b in reversed(pads):
        out += [a, b]
    return out


def norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    """A batch-excluded axis in [0, rank); negative axes count from the end."""
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is outside a {rank}-D input")
    return axis % rank


def plain(value: Any) -> Any:
    """Tuples to lists, recursively, so params compare equal after a JSON round trip."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
