"""Image + clinical-values networks: one image encoder, one tabular MLP, and how they are fused.

Every variant is built from the same two blocks, so a KPI report can compare what each modality
adds on equal terms:

- ``image``: the image encoder (conv stages, global average pooling) and a linear head;
- ``tabular``: the tabular MLP (two ReLU Dense layers) and a linear head;
- ``early``: both embeddings concatenated, then a ReLU Dense layer and the head;
- ``late``: one head per modality, their outputs added (each modality votes on the logit/score);
- ``gated``: both embeddings projected to the same width, mixed by a learned sigmoid gate
  computed from both (``g * image + (1 - g) * tabular``), then the head.

Inputs are named ``image`` (channels-first, 2D or 3D) and ``features`` (the encoded clinical
values of `pipelines.tabular.TabularEncoder`); the ONNX file keeps these names.
"""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import (
    check_args,
    conv,
    finish,
    global_pool_flat,
    max_pool,
    output,
)

FUSIONS = ("image", "tabular", "early", "late", "gated")


def image_encoder(x: Layer, filters: Sequence[int]) -> Layer:
    """Conv-BN-ReLU stages (each halving the size) and global average pooling: a (C,) vector."""
    for f in filters:
        x = max_pool(conv(x, f))
    return global_pool_flat(x)


def tabular_encoder(x: Layer, hidden: int) -> Layer:
    """Two ReLU Dense layers: a (hidden,) vector."""
    return eddl.ReLu(eddl.Dense(eddl.ReLu(eddl.Dense(x, hidden)), hidden))


def FusionNet(
    input_shape: Sequence[int] = (1, 32, 32),
    num_classes: int = 1,
    num_features: int = 8,
    fusion: str = "early",
    filters: Sequence[int] = (16, 32, 64),
    hidden: int = 32,
    activation: str = "linear",
) -> Model:
    """An image + tabular network (see the module docstring).

    Args:
        input_shape: Channels-first image shape (C, H, W) or (C, D, H, W).
        num_classes: Outputs: classes, regression targets, or 1 for a survival risk score.
        num_features: Width of the encoded clinical-values vector.
        fusion: One of `FUSIONS`.
        filters: Filters of the image encoder's stages.
        hidden: Width of the tabular MLP and of the fused representation.
        activation: Output activation ("linear", "softmax" or "sigmoid").

    Raises:
        ValueError: naming the bad argument.
    """
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
    if int(num_features) <= 0 and fusion != "image":
        raise ValueError(f"num_features must be positive for fusion {fusion!r}")
    shape = check_args(input_shape, num_classes, (2, 3))
    n = int(num_classes)
    inputs: list[Layer] = []
    img = tab = None
    if fusion != "tabular":
        inputs.append(eddl.Input(shape, name="image"))
        img = image_encoder(inputs[-1], filters)
    if fusion != "image":
        inputs.append(eddl.Input([int(num_features)], name="features"))
        tab = tabular_encoder(inputs[-1], hidden)
    if img is None or tab is None:
        only = img if tab is None else tab
        assert only is not None
        x = eddl.Dense(only, n)
    elif fusion == "early":
        x = eddl.Dense(eddl.ReLu(eddl.Dense(eddl.Concat([img, tab]), hidden)), n)
    elif fusion == "late":
        x = eddl.Add([eddl.Dense(img, n), eddl.Dense(tab, n)])
    else:  # gated
        a, b = eddl.Dense(img, hidden), eddl.Dense(tab, hidden)
        gate = eddl.Sigmoid(eddl.Dense(eddl.Concat([img, tab]), hidden))
        mixed = eddl.Add([b, eddl.Mult(gate, eddl.Diff(a, b))])
        x = eddl.Dense(eddl.ReLu(mixed), n)
    return finish(inputs, output(x, activation), f"fusion_{fusion}", keep_inputs=True)
