"""A MobileNet-style network (Howard et al., v1): depthwise-separable convolutions with a width
multiplier, light enough for CPU inference."""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import augment, check_args, classifier, conv, global_pool_flat

# (pointwise filters, stride of the depthwise conv)
LAYERS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)  # fmt: skip


def _separable(x: Layer, filters: int, strides: int) -> Layer:
    channels = x.output_shape[0]
    x = conv(x, channels, 3, strides, groups=channels)  # depthwise
    return conv(x, filters, 1)  # pointwise


def MobileNet(
    input_shape: Sequence[int] = (3, 224, 224),
    num_classes: int = 1000,
    alpha: float = 1.0,
    top: bool = False,
    augmentation: Sequence[str] | None = None,
    activation: str = "softmax",
) -> Model:
    """MobileNet v1 style: a strided stem then 13 depthwise-separable blocks.

    Args:
        input_shape: (C, H, W).
        num_classes: Number of classes.
        alpha: Width multiplier (0.25 to 1.0) applied to every layer's filters.
        top: Return the feature extractor without the classifier.
        augmentation: In-graph augmentation names.
        activation: Output activation.
    """
    if not 0 < alpha <= 4:
        raise ValueError(f"alpha must be in (0, 4], got {alpha}")
    shape = check_args(input_shape, num_classes, (2,))
    inp = eddl.Input(shape)
    x = conv(augment(inp, augmentation), max(8, int(32 * alpha)), 3, 2)
    for filters, strides in LAYERS:
        x = _separable(x, max(8, int(filters * alpha)), strides)
    return classifier(global_pool_flat(x), inp, num_classes, top, "mobilenet", (), 0.0, activation)
