"""U-Net (Ronneberger et al.) for 2D images and volumes (3D U-Net, Çiçek et al.), one definition.

The encoder doubles the filters at each of `depth` levels and halves the size with max pooling; the
decoder up-samples with transposed convolutions and concatenates the encoder's features. The 2D or
3D layers are chosen from the input shape. Spatial sizes must be divisible by 2**depth.
"""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import augment, check_args, conv, finish, max_pool, output, up_conv


def default_activation(num_classes: int, activation: str) -> str:
    """Resolve "auto": sigmoid for one output channel, softmax over channels otherwise."""
    if activation != "auto":
        return activation
    return "sigmoid" if num_classes == 1 else "softmax"


def check_divisible(shape: Sequence[int], factor: int, model: str) -> None:
    """Raise ValueError unless every spatial size of (C, ...) `shape` is divisible by `factor`."""
    if any(d % factor for d in shape[1:]):
        raise ValueError(
            f"{model} needs spatial sizes divisible by {factor}, got {list(shape[1:])}; "
            "resize or pick patch sizes that are"
        )


def UNet(
    input_shape: Sequence[int] = (1, 256, 256),
    num_classes: int = 1,
    base_filters: int = 64,
    depth: int = 4,
    bn: bool = True,
    top: bool = False,
    augmentation: Sequence[str] | None = None,
    activation: str = "auto",
) -> Model:
    """A U-Net; 2D for (C, H, W) input, 3D for (C, D, H, W).

    Args:
        input_shape: Channels-first input shape.
        num_classes: Output channels (1 for a binary mask with a sigmoid).
        base_filters: Filters of the first level (64 in the paper).
        depth: Number of pooling levels.
        bn: Batch normalization after each convolution.
        top: Return the last decoder features, without the 1×1 class convolution.
        augmentation: In-graph augmentation names (2D only).
        activation: "auto" (sigmoid for 1 class, softmax otherwise), "softmax", "sigmoid" or
            "linear" (regression).

    Raises:
        ValueError: for a bad shape, depth or sizes not divisible by 2**depth.
    """
    shape = check_args(input_shape, num_classes, (2, 3))
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    name = "unet" if len(shape) == 3 else "unet3d"
    check_divisible(shape, 2**depth, name)
    inp = eddl.Input(shape)
    x = augment(inp, augmentation)
    skips = []
    filters = base_filters
    for _ in range(depth):
        x = conv(conv(x, filters, bn=bn), filters, bn=bn)
        skips.append(x)
        x = max_pool(x)
        filters *= 2
    x = conv(conv(x, filters, bn=bn), filters, bn=bn)
    for skip in reversed(skips):
        filters //= 2
        x = eddl.Concat([up_conv(x, filters), skip], axis=0)
        x = conv(conv(x, filters, bn=bn), filters, bn=bn)
    if top:
        return finish(inp, x, f"{name}_features")
    x = conv(x, num_classes, 1, bn=False, relu=False)
    return finish(inp, output(x, default_activation(num_classes, activation)), name)


def UNet3D(
    input_shape: Sequence[int] = (1, 64, 64, 64),
    num_classes: int = 1,
    base_filters: int = 16,
    depth: int = 3,
    **kw,
) -> Model:
    """3D U-Net for (C, D, H, W) volumes (see `UNet`)."""
    if len(input_shape) != 4:
        raise ValueError(f"UNet3D needs a (C, D, H, W) input_shape, got {list(input_shape)}")
    return UNet(input_shape, num_classes, base_filters, depth, **kw)
