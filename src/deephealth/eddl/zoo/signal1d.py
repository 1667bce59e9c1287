"""1D networks for biosignal windows (C channels × T samples): CNN, ResNet, CNN+LSTM, EEGNet.

All take the channels-first window shape ``(C, T)``, are built from EDDL layers (so they export
to ONNX like the image zoo) and share the zoo's options (``top``, ``activation``):

- ``CNN1D``: four Conv1D–BatchNorm–ReLU–MaxPool blocks and global average pooling; small, fast.
- ``ResNet1D``: a 1D ResNet-18 layout (basic blocks, 7-tap stem) as used for ECG classification
  (Hannun et al. 2019 use a deeper 16-block variant).
- ``CNNLSTM``: convolutional feature extractor, then an LSTM over the down-sampled time axis.
- ``EEGNet``: Lawhern et al. 2018 (EEGNet-8,2): temporal conv, depthwise spatial conv over all
  electrodes, separable conv, ELU, average pooling, dropout.
"""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import check_args, classifier


def _conv1d(x: Layer, filters: int, kernel: int, strides: int = 1, relu: bool = True) -> Layer:
    pad = [(kernel - 1) // 2] if kernel % 2 else "same"
    x = eddl.Conv1D(x, filters, [kernel], strides=[strides], padding=pad, use_bias=False)
    x = eddl.BatchNormalization(x, True)
    return eddl.ReLu(x) if relu else x


def _pool(x: Layer, size: int = 2) -> Layer:
    if x.output_shape[-1] < size:
        return x
    return eddl.MaxPool1D(x, [size], [size])


def _gap(x: Layer) -> Layer:
    return eddl.Flatten(eddl.GlobalAveragePool1D(x))


def CNN1D(
    input_shape: Sequence[int] = (1, 1024),
    num_classes: int = 2,
    top: bool = False,
    activation: str = "softmax",
    filters: int = 32,
    kernel: int = 7,
    dropout: float = 0.0,
) -> Model:
    """A plain 1D CNN: 4 × (Conv1D, BatchNorm, ReLU, MaxPool 2), global average pool, Dense."""
    shape = check_args(input_shape, num_classes, (1,))
    inp = eddl.Input(shape)
    x = inp
    for i in range(4):
        x = _pool(_conv1d(x, filters * 2 ** min(i, 2), kernel))
    return classifier(
        _gap(x), inp, num_classes, top, "cnn1d", dropout=dropout, activation=activation
    )


def _basic(x: Layer, filters: int, strides: int, kernel: int) -> Layer:
    y = _conv1d(x, filters, kernel, strides)
    y = _conv1d(y, filters, kernel, relu=False)
    shortcut = x
    if strides != 1 or x.output_shape[0] != filters:
        shortcut = _conv1d(x, filters, 1, strides, relu=False)
    return eddl.ReLu(eddl.Add([y, shortcut]))


def ResNet1D(
    input_shape: Sequence[int] = (12, 5000),
    num_classes: int = 2,
    top: bool = False,
    activation: str = "softmax",
    blocks: Sequence[int] = (2, 2, 2, 2),
    base_filters: int = 32,
    kernel: int = 7,
) -> Model:
    """A 1D ResNet (basic blocks; stride 2 at the first block of each later stage)."""
    shape = check_args(input_shape, num_classes, (1,))
    inp = eddl.Input(shape)
    x = _conv1d(inp, base_filters, 15, 2)
    x = _pool(x, 2)
    for stage, n in enumerate(blocks):
        for i in range(n):
            strides = 2 if (i == 0 and stage > 0 and x.output_shape[-1] >= 2) else 1
            x = _basic(x, base_filters * 2**stage, strides, kernel)
    return classifier(_gap(x), inp, num_classes, top, "resnet1d", activation=activation)


def CNNLSTM(
    input_shape: Sequence[int] = (1, 1024),
    num_classes: int = 2,
    top: bool = False,
    activation: str = "softmax",
    filters: int = 32,
    units: int = 64,
    bidirectional: bool = False,
) -> Model:
    """Three Conv1D blocks (each halving T by pooling), then an LSTM over the time steps."""
    shape = check_args(input_shape, num_classes, (1,))
    inp = eddl.Input(shape)
    x = inp
    for i in range(3):
        x = _pool(_conv1d(x, filters * 2 ** min(i, 1), 7), 4 if i < 2 else 2)
    x = eddl.Permute(x, [1, 0])  # (C', T') -> (T', C'): time first, as EDDL recurrent layers read
    x = eddl.LSTM(x, units, bidirectional=bidirectional)
    return classifier(x, inp, num_classes, top, "cnnlstm", activation=activation)


def EEGNet(
    input_shape: Sequence[int] = (22, 512),
    num_classes: int = 2,
    top: bool = False,
    activation: str = "softmax",
    f1: int = 8,
    depth: int = 2,
    f2: int = 16,
    kernel: int = 64,
    dropout: float = 0.25,
) -> Model:
    """EEGNet-F1,D (Lawhern et al. 2018) on a (C electrodes, T samples) window."""
    shape = check_args(input_shape, num_classes, (1,))
    c, t = shape
    inp = eddl.Input(shape)
    x = eddl.Reshape(inp, [1, c, t])
    x = eddl.Conv2D(x, f1, [1, kernel], padding="same", use_bias=False)  # temporal filters
    x = eddl.BatchNormalization(x, True)
    x = eddl.Conv2D(x, f1 * depth, [c, 1], padding="valid", use_bias=False, groups=f1)  # spatial
    x = eddl.Elu(eddl.BatchNormalization(x, True))
    if x.output_shape[-1] >= 4:
        x = eddl.AveragePool2D(x, [1, 4], [1, 4])
    x = eddl.Dropout(x, dropout) if dropout else x
    x = eddl.Conv2D(x, f1 * depth, [1, 16], padding="same", use_bias=False, groups=f1 * depth)
    x = eddl.Conv2D(x, f2, [1, 1], padding="valid", use_bias=False)  # separable = depthwise + 1x1
    x = eddl.Elu(eddl.BatchNormalization(x, True))
    if x.output_shape[-1] >= 8:
        x = eddl.AveragePool2D(x, [1, 8], [1, 8])
    x = eddl.Dropout(x, dropout) if dropout else x
    return classifier(eddl.Flatten(x), inp, num_classes, top, "eegnet", activation=activation)
