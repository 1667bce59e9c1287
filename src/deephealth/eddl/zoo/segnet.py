"""SegNet-style encoder-decoder (Badrinarayanan et al.): a VGG-16 encoder and a mirrored decoder
that up-samples without learned weights (nearest up-sampling stands in for index unpooling, which
ONNX runtimes do not all support)."""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import augment, check_args, conv, finish, max_pool, output
from deephealth.eddl.zoo.unet import check_divisible, default_activation

STAGES = (2, 2, 3, 3, 3)  # convolutions per stage, filters base * (1, 2, 4, 8, 8)


def SegNet(
    input_shape: Sequence[int] = (3, 224, 224),
    num_classes: int = 1,
    base_filters: int = 64,
    top: bool = False,
    augmentation: Sequence[str] | None = None,
    activation: str = "auto",
) -> Model:
    """SegNet for (C, H, W) images whose sides are divisible by 32.

    Args:
        input_shape: (C, H, W).
        num_classes: Output channels.
        base_filters: Filters of the first stage (64 in the paper).
        top: Return the decoder features without the class convolution.
        augmentation: In-graph augmentation names.
        activation: As `UNet`.
    """
    shape = check_args(input_shape, num_classes, (2,))
    check_divisible(shape, 32, "segnet")
    widths = [base_filters * m for m in (1, 2, 4, 8, 8)]
    inp = eddl.Input(shape)
    x = augment(inp, augmentation)
    for n, filters in zip(STAGES, widths):
        for _ in range(n):
            x = conv(x, filters)
        x = max_pool(x)
    for i in reversed(range(len(STAGES))):
        x = eddl.UpSampling2D(x, [2, 2])
        for j in range(STAGES[i]):
            last = j == STAGES[i] - 1
            x = conv(x, widths[max(i - 1, 0)] if last else widths[i])
    if top:
        return finish(inp, x, "segnet_features")
    x = conv(x, num_classes, 3, bn=False, relu=False)
    return finish(inp, output(x, default_activation(num_classes, activation)), "segnet")
