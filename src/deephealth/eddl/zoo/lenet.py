"""LeNet-5 style network for small grey images (e.g. 28×28 Fashion-MNIST), as in pyeddl's examples."""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import augment, check_args, classifier, conv, max_pool


def LeNet(
    input_shape: Sequence[int] = (1, 28, 28),
    num_classes: int = 10,
    top: bool = False,
    augmentation: Sequence[str] | None = None,
    activation: str = "softmax",
) -> Model:
    """LeNet: two conv (5×5, 20 and 50 filters) + max-pool stages, Dense 500, class layer.

    Args:
        input_shape: (C, H, W).
        num_classes: Number of classes.
        top: Return the feature extractor (flattened conv features) without the classifier.
        augmentation: In-graph augmentation names (see `_blocks.AUGMENTATIONS`).
        activation: Output activation ("softmax", "sigmoid" or "linear").

    Returns:
        The model.
    """
    shape = check_args(input_shape, num_classes, (2,))
    inp = eddl.Input(shape)
    x = augment(inp, augmentation)
    x = max_pool(conv(x, 20, 5, bn=False))
    x = max_pool(conv(x, 50, 5, bn=False))
    return classifier(eddl.Flatten(x), inp, num_classes, top, "lenet", (500,), 0.0, activation)
