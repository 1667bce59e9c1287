"""ResNet-18/34/50/101/152 (He et al.), basic and bottleneck blocks, stride on the 3×3 conv (v1.5).

With 3×224×224 inputs and 1000 classes the parameter counts equal the reference implementation's
(e.g. ResNet-18: 11,689,512), which the tests check.
"""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import (
    augment,
    check_args,
    classifier,
    conv,
    global_pool_flat,
    max_pool,
)

# depth -> (bottleneck?, blocks per stage)
CONFIGS = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
}


def _block(x: Layer, filters: int, strides: int, bottleneck: bool) -> Layer:
    out_ch = filters * (4 if bottleneck else 1)
    if bottleneck:
        y = conv(x, filters, 1)
        y = conv(y, filters, 3, strides)
        y = conv(y, out_ch, 1, relu=False)
    else:
        y = conv(x, filters, 3, strides)
        y = conv(y, filters, 3, relu=False)
    shortcut = x
    if strides != 1 or x.output_shape[0] != out_ch:
        shortcut = conv(x, out_ch, 1, strides, relu=False)
    return eddl.ReLu(eddl.Add([y, shortcut]))


def ResNet(
    depth: int,
    input_shape: Sequence[int] = (3, 224, 224),
    num_classes: int = 1000,
    top: bool = False,
    augmentation: Sequence[str] | None = None,
    activation: str = "softmax",
) -> Model:
    """A ResNet.

    Args:
        depth: 18, 34, 50, 101 or 152.
        input_shape: (C, H, W).
        num_classes: Number of classes.
        top: Return the feature extractor (global-average-pooled features) without the classifier.
        augmentation: In-graph augmentation names.
        activation: Output activation.

    Raises:
        ValueError: for an unknown depth or bad shape.
    """
    if depth not in CONFIGS:
        raise ValueError(f"ResNet depth must be one of {sorted(CONFIGS)}, got {depth}")
    bottleneck, blocks = CONFIGS[depth]
    shape = check_args(input_shape, num_classes, (2,))
    inp = eddl.Input(shape)
    x = augment(inp, augmentation)
    x = conv(x, 64, 7, 2)
    x = max_pool(x, 3, 2, "same")
    for stage, (n, filters) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for i in range(n):
            x = _block(x, filters, 2 if (i == 0 and stage > 0) else 1, bottleneck)
    return classifier(
        global_pool_flat(x), inp, num_classes, top, f"resnet{depth}", (), 0.0, activation
    )


def _variant(depth: int):
    def build(
        input_shape: Sequence[int] = (3, 224, 224),
        num_classes: int = 1000,
        top: bool = False,
        augmentation: Sequence[str] | None = None,
        **kw,
    ) -> Model:
        return ResNet(depth, input_shape, num_classes, top, augmentation, **kw)

    build.__name__ = build.__qualname__ = f"ResNet{depth}"
    build.__doc__ = f"ResNet-{depth} (see `ResNet`)."
    return build


ResNet18 = _variant(18)
ResNet34 = _variant(34)
ResNet50 = _variant(50)
ResNet101 = _variant(101)
ResNet152 = _variant(152)
