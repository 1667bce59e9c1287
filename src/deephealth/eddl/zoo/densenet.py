"""DenseNet-121 (Huang et al.): dense blocks of BN-ReLU-Conv layers joined by transitions.

With 3×224×224 inputs and 1000 classes the parameter count equals the reference (7,978,856).
"""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import (
    augment,
    avg_pool,
    check_args,
    classifier,
    conv,
    global_pool_flat,
    max_pool,
)


def _bn_relu_conv(x: Layer, filters: int, kernel: int) -> Layer:
    x = eddl.ReLu(eddl.BatchNormalization(x, True))
    return conv(x, filters, kernel, bn=False, relu=False, bias=False)


def _dense_block(x: Layer, layers: int, growth: int, bn_size: int) -> Layer:
    for _ in range(layers):
        y = _bn_relu_conv(x, bn_size * growth, 1)
        y = _bn_relu_conv(y, growth, 3)
        x = eddl.Concat([x, y], axis=0)
    return x


def DenseNet(
    blocks: Sequence[int] = (6, 12, 24, 16),
    input_shape: Sequence[int] = (3, 224, 224),
    num_classes: int = 1000,
    growth: int = 32,
    init_filters: int = 64,
    bn_size: int = 4,
    top: bool = False,
    augmentation: Sequence[str] | None = None,
    activation: str = "softmax",
) -> Model:
    """A DenseNet; the defaults give DenseNet-121.

    Args:
        blocks: Layers per dense block.
        input_shape: (C, H, W).
        num_classes: Number of classes.
        growth: Growth rate (channels added by each layer).
        init_filters: Filters of the stem convolution.
        bn_size: Bottleneck width multiplier of the 1×1 convolutions.
        top: Return the feature extractor without the classifier.
        augmentation: In-graph augmentation names.
        activation: Output activation.
    """
    shape = check_args(input_shape, num_classes, (2,))
    inp = eddl.Input(shape)
    x = augment(inp, augmentation)
    x = max_pool(conv(x, init_filters, 7, 2), 3, 2, "same")
    for i, n in enumerate(blocks):
        x = _dense_block(x, n, growth, bn_size)
        if i < len(blocks) - 1:
            x = avg_pool(_bn_relu_conv(x, x.output_shape[0] // 2, 1))
    x = eddl.ReLu(eddl.BatchNormalization(x, True))
    return classifier(global_pool_flat(x), inp, num_classes, top, "densenet", (), 0.0, activation)


def DenseNet121(
    input_shape: Sequence[int] = (3, 224, 224),
    num_classes: int = 1000,
    top: bool = False,
    augmentation: Sequence[str] | None = None,
    **kw,
) -> Model:
    """DenseNet-121 (see `DenseNet`)."""
    return DenseNet(
        (6, 12, 24, 16), input_shape, num_classes, top=top, augmentation=augmentation, **kw
    )
