"""A small 3D classification CNN for volumes (e.g. 32³–64³ crops): conv-BN-ReLU-pool stages,
global average pooling and a Dense class layer."""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import (
    augment,
    check_args,
    classifier,
    conv,
    global_pool_flat,
    max_pool,
)


def CNN3D(
    input_shape: Sequence[int] = (1, 32, 32, 32),
    num_classes: int = 2,
    filters: Sequence[int] = (16, 32, 64),
    top: bool = False,
    augmentation: Sequence[str] | None = None,
    activation: str = "softmax",
) -> Model:
    """Small 3D CNN.

    Args:
        input_shape: (C, D, H, W).
        num_classes: Number of classes.
        filters: Filters of each conv stage (each stage halves the size).
        top: Return the pooled features without the classifier.
        augmentation: In-graph augmentation names (2D layers; usually None for volumes).
        activation: Output activation.
    """
    shape = check_args(input_shape, num_classes, (3,))
    inp = eddl.Input(shape)
    x = augment(inp, augmentation)
    for f in filters:
        x = max_pool(conv(conv(x, f), f))
    return classifier(global_pool_flat(x), inp, num_classes, top, "cnn3d", (), 0.0, activation)
