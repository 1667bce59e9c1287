"""A DeepLabV3+-style segmentation network (Chen et al. 2018): a residual encoder with output
stride 16, atrous spatial pyramid pooling (ASPP: 1×1, three dilated 3×3 and image pooling
branches), and a decoder that joins stride-4 low-level features and up-samples bilinearly."""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import augment, check_args, conv, finish, output
from deephealth.eddl.zoo.unet import check_divisible, default_activation


def _res_stage(x: Layer, filters: int, strides: int) -> Layer:
    y = conv(conv(x, filters, 3, strides), filters, 3, relu=False)
    shortcut = conv(x, filters, 1, strides, relu=False)
    return eddl.ReLu(eddl.Add([y, shortcut]))


def _aspp(x: Layer, filters: int, rates: Sequence[int]) -> Layer:
    h, w = x.output_shape[1:]
    branches = [conv(x, filters, 1)] + [conv(x, filters, 3, dilation=r) for r in rates]
    pooled = conv(eddl.GlobalAveragePool2D(x), filters, 1)
    branches.append(eddl.UpSampling2D(pooled, [h, w]))
    return conv(eddl.Concat(branches, axis=0), filters, 1)


def DeepLabV3Plus(
    input_shape: Sequence[int] = (3, 256, 256),
    num_classes: int = 1,
    base_filters: int = 32,
    rates: Sequence[int] = (6, 12, 18),
    top: bool = False,
    augmentation: Sequence[str] | None = None,
    activation: str = "auto",
) -> Model:
    """DeepLabV3+-style network for (C, H, W) images with sides divisible by 16.

    Args:
        input_shape: (C, H, W).
        num_classes: Output channels.
        base_filters: Width of the stem; stages use 2×, 4×, 8× and ASPP 8×.
        rates: Dilation rates of the ASPP's 3×3 branches.
        top: Return the decoder features without the class convolution.
        augmentation: In-graph augmentation names.
        activation: As `UNet`.
    """
    shape = check_args(input_shape, num_classes, (2,))
    check_divisible(shape, 16, "deeplabv3plus")
    b = base_filters
    inp = eddl.Input(shape)
    x = conv(augment(inp, augmentation), b, 3, 2)  # /2
    low = _res_stage(x, 2 * b, 2)  # /4
    x = _res_stage(_res_stage(low, 4 * b, 2), 8 * b, 2)  # /16
    x = _aspp(x, 8 * b, rates)
    x = eddl.UpSampling2D(x, [4, 4], "bilinear")
    x = eddl.Concat([x, conv(low, max(8, b // 2 * 3), 1)], axis=0)
    x = conv(conv(x, 8 * b), 8 * b)
    if top:
        return finish(inp, x, "deeplabv3plus_features")
    x = conv(x, num_classes, 1, bn=False, relu=False)
    x = eddl.UpSampling2D(x, [4, 4], "bilinear")
    return finish(inp, output(x, default_activation(num_classes, activation)), "deeplabv3plus")
