"""VGG-16 and VGG-19 (Simonyan & Zisserman), with or without batch normalization."""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import augment, check_args, classifier, conv, max_pool

# convolutions per stage; filters 64, 128, 256, 512, 512
STAGES = {16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


def VGG(
    depth: int,
    input_shape: Sequence[int] = (3, 224, 224),
    num_classes: int = 1000,
    bn: bool = False,
    top: bool = False,
    augmentation: Sequence[str] | None = None,
    activation: str = "softmax",
    hidden: int = 4096,
) -> Model:
    """A VGG network.

    Args:
        depth: 16 or 19.
        input_shape: (C, H, W); H and W at least 32.
        num_classes: Number of classes.
        bn: Batch normalization after every convolution.
        top: Return the feature extractor (flattened last pooling) without the classifier.
        augmentation: In-graph augmentation names.
        activation: Output activation.
        hidden: Units of the two hidden Dense layers (4096 in the paper).

    Raises:
        ValueError: for an unknown depth or bad shape.
    """
    if depth not in STAGES:
        raise ValueError(f"VGG depth must be one of {sorted(STAGES)}, got {depth}")
    shape = check_args(input_shape, num_classes, (2,))
    inp = eddl.Input(shape)
    x = augment(inp, augmentation)
    for n, filters in zip(STAGES[depth], (64, 128, 256, 512, 512)):
        for _ in range(n):
            x = conv(x, filters, bn=bn, bias=True)
        x = max_pool(x)
    name = f"vgg{depth}{'_bn' if bn else ''}"
    return classifier(
        eddl.Flatten(x), inp, num_classes, top, name, (hidden, hidden), 0.5, activation
    )


def _variant(depth: int, bn: bool):
    def build(
        input_shape: Sequence[int] = (3, 224, 224),
        num_classes: int = 1000,
        top: bool = False,
        augmentation: Sequence[str] | None = None,
        **kw,
    ) -> Model:
        return VGG(depth, input_shape, num_classes, bn, top, augmentation, **kw)

    build.__name__ = build.__qualname__ = f"VGG{depth}{'_BN' if bn else ''}"
    build.__doc__ = f"VGG-{depth} {'with' if bn else 'without'} batch normalization (see `VGG`)."
    return build


VGG16 = _variant(16, False)
VGG16_BN = _variant(16, True)
VGG19 = _variant(19, False)
VGG19_BN = _variant(19, True)
