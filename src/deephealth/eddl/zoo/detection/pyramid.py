"""The trunk the zoo's detectors share (2D `FCOS`, 3D `CenterNet3D`): conv-BN-ReLU encoder stages
that halve the size, a feature-pyramid top-down path (1×1 lateral convolutions, up-sampling and
addition) back to the output stride, and two 3×3 convolutions for the head to start from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import deephealth.eddl as eddl
from deephealth.eddl.zoo._blocks import conv, max_pool


def pyramid_trunk(
    shape: Sequence[int], filters: Sequence[int], fpn_filters: int, stride: int, name: str
) -> tuple[Any, Any]:
    """The input layer and the head features at `stride` for a (C, H, W) or (C, D, H, W) input.

    Args:
        shape: Checked input shape (channels first).
        filters: Filters of the encoder stages; stage k has stride 2 ** k.
        fpn_filters: Width of the pyramid and of the head.
        stride: Output stride (a power of two reached by one of the stages).
        name: The detector's name, for messages.

    Raises:
        ValueError: naming the bad argument.
    """
    levels = len(filters)
    if stride & (stride - 1) or not 1 <= stride <= 2 ** (levels - 1):
        raise ValueError(f"stride must be a power of two up to {2 ** (levels - 1)}, got {stride}")
    deepest = 2 ** (levels - 1)
    if any(d % deepest for d in shape[1:]):
        raise ValueError(f"{name} needs sizes divisible by {deepest}, got {list(shape[1:])}")
    inp = eddl.Input(list(shape))
    x = inp
    feats = []
    for k, f in enumerate(filters):
        if k:
            x = max_pool(x)
        x = conv(conv(x, f), f)
        feats.append(x)
    out_level = stride.bit_length() - 1
    top = conv(feats[-1], fpn_filters, kernel=1, bn=False, relu=False)
    for k in range(levels - 2, out_level - 1, -1):
        lateral = conv(feats[k], fpn_filters, kernel=1, bn=False, relu=False)
        if len(shape) == 4:  # EDDL's UpSampling3D takes the new size
            up = eddl.UpSampling3D(top, [d // 2**k for d in shape[1:]])
        else:
            up = eddl.UpSampling2D(top, [2, 2])
        top = eddl.Add([up, lateral])
    return inp, conv(conv(top, fpn_filters), fpn_filters)
