"""Building blocks shared by the zoo models, written once for 2D and 3D.

Every helper takes and returns eddl `Layer`s and picks the 2D or 3D layer from the rank of its
input, so a model written with them (U-Net, the small 3D CNN) works on images and on volumes. The
helpers also hold the three options every zoo model has: in-graph augmentation after the input,
the classifier head, and `top` (stop at the features, for feature extraction as pyeddl's zoo).
"""

from __future__ import annotations

from collections.abc import Sequence

import deephealth.eddl as eddl
from deephealth.eddl.layers.base import Layer
from deephealth.eddl.model import Model

# in-graph augmentation name -> builder(layer); active in training mode only (eddl DA layers)
AUGMENTATIONS = {
    "flip": lambda x: eddl.RandomHorizontalFlip(x),
    "vflip": lambda x: eddl.RandomVerticalFlip(x),
    "shift": lambda x: eddl.RandomShift(x, [-0.1, 0.1], [-0.1, 0.1]),
    "rotate": lambda x: eddl.RandomRotation(x, [-15, 15]),
    "crop_scale": lambda x: eddl.RandomCropScale(x, [0.8, 1.0]),
}
OUTPUT_ACTIVATIONS = ("softmax", "sigmoid", "linear")


def spatial_dims(x: Layer) -> int:
    """Number of spatial axes of a channels-first layer output (2 for C,H,W; 3 for C,D,H,W)."""
    nd = len(x.output_shape) - 1
    if nd not in (2, 3):
        raise ValueError(f"expected a (C, H, W) or (C, D, H, W) input, got {x.output_shape}")
    return nd


def conv(
    x: Layer,
    filters: int,
    kernel: int = 3,
    strides: int = 1,
    bn: bool = True,
    relu: bool = True,
    dilation: int = 1,
    bias: bool | None = None,
    groups: int = 1,
) -> Layer:
    """Convolution (2D or 3D by the input), optionally followed by BatchNorm and ReLU.

    The convolution has a bias only without BatchNorm unless `bias` says otherwise. Its padding
    is `centred_padding`: "same" output sizes, aligned as torchvision's networks.
    """
    nd = spatial_dims(x)
    fn = eddl.Conv2D if nd == 2 else eddl.Conv3D
    x = fn(
        x, filters, [kernel] * nd, strides=[strides] * nd,
        padding=centred_padding(kernel, nd, dilation),
        use_bias=(not bn) if bias is None else bias, groups=groups, dilation_rate=[dilation] * nd,
    )  # fmt: skip
    if bn:
        x = eddl.BatchNormalization(x, True)
    return eddl.ReLu(x) if relu else x


def centred_padding(kernel: int, nd: int, dilation: int = 1) -> str | list[int]:
    """Padding with "same" output sizes (ceil(in / stride)) split evenly on both sides.

    For an odd kernel this is `dilation * (kernel - 1) / 2` per side, as torchvision pads: with a
    stride above 1 EDDL's "same" would pad only the far side, which shifts every window by one
    pixel and costs a padding copy before each such layer. Even kernels keep EDDL's "same".
    """
    return [dilation * (kernel - 1) // 2] * nd if kernel % 2 else "same"


def max_pool(x: Layer, size: int = 2, strides: int | None = None, padding: str = "none") -> Layer:
    """Max pooling with a cubic window (2D or 3D by the input); "same" pads as `centred_padding`."""
    nd = spatial_dims(x)
    fn = eddl.MaxPool2D if nd == 2 else eddl.MaxPool3D
    pads = centred_padding(size, nd) if padding == "same" else padding
    return fn(x, [size] * nd, [strides or size] * nd, pads)


def avg_pool(x: Layer, size: int = 2) -> Layer:
    """Average pooling with a cubic window and equal stride (2D or 3D by the input)."""
    nd = spatial_dims(x)
    fn = eddl.AveragePool2D if nd == 2 else eddl.AveragePool3D
    return fn(x, [size] * nd, [size] * nd)


def up_conv(x: Layer, filters: int, factor: int = 2) -> Layer:
    """Learned up-sampling by `factor`: a transposed convolution with kernel = stride = factor."""
    nd = spatial_dims(x)
    fn = eddl.ConvT2D if nd == 2 else eddl.ConvT3D
    return fn(x, filters, [factor] * nd, strides=[factor] * nd, padding="valid")


def global_pool_flat(x: Layer) -> Layer:
    """Global average pooling flattened to a (C,) vector."""
    nd = spatial_dims(x)
    fn = eddl.GlobalAveragePool2D if nd == 2 else eddl.GlobalAveragePool3D
    return eddl.Flatten(fn(x))


def augment(x: Layer, augmentation: Sequence[str] | None) -> Layer:
    """Apply in-graph augmentation layers (training mode only) by name, in order.

    Raises:
        ValueError: for a name not in `AUGMENTATIONS`.
    """
    for name in augmentation or ():
        if name not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {name!r}; use some of {sorted(AUGMENTATIONS)}")
        x = AUGMENTATIONS[name](x)
    return x


def output(x: Layer, activation: str) -> Layer:
    """The output activation: softmax over channels, sigmoid, or linear (identity).

    Raises:
        ValueError: for an unknown activation.
    """
    if activation == "softmax":
        return eddl.Softmax(x, axis=0)
    if activation == "sigmoid":
        return eddl.Sigmoid(x)
    if activation == "linear":
        return x
    raise ValueError(f"unknown output activation {activation!r}; use one of {OUTPUT_ACTIVATIONS}")


def check_args(input_shape: Sequence[int], num_classes: int, nd: tuple[int, ...]) -> list[int]:
    """Validate a model's input shape (channels first) and class count.

    Raises:
        ValueError: naming the bad argument.
    """
    shape = [int(d) for d in input_shape]
    if len(shape) - 1 not in nd or any(d <= 0 for d in shape):
        dims = " or ".join(f"{n}D" for n in nd)
        raise ValueError(
            f"input_shape must be channels-first {dims} (C, ...), got {list(input_shape)}"
        )
    if int(num_classes) <= 0:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    return shape


def finish(inp: Layer | Sequence[Layer], out: Layer, name: str, keep_inputs: bool = False) -> Model:
    """The model from `inp` to `out`, its layers renamed `<kind><n>` counting within the model.

    Every layer gets its canonical name, given ones included, so weights, checkpoints and ONNX
    files of a zoo model are interchangeable between processes and builds; with `keep_inputs` the
    input layers keep the names they were given (multi-input models name them for their users).
    """
    model = Model([inp] if isinstance(inp, Layer) else list(inp), [out], name=name)
    counts: dict[str, int] = {}
    for layer in model.layers:
        if keep_inputs and layer.kind == "Input":
            continue
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        layer.name = f"{layer.kind.lower()}{counts[layer.kind]}"
    model.compile()
    return model


def classifier(
    features: Layer,
    inp: Layer,
    num_classes: int,
    top: bool,
    name: str,
    hidden: Sequence[int] = (),
    dropout: float = 0.0,
    activation: str = "softmax",
) -> Model:
    """Finish a classification model: optional hidden Dense layers, the class layer, the output.

    With `top=True` the model stops at `features` (a feature extractor with no classifier).
    """
    if top:
        return finish(inp, features, f"{name}_features")
    x = features
    for units in hidden:
        x = eddl.ReLu(eddl.Dense(x, units))
        if dropout:
            x = eddl.Dropout(x, dropout)
    x = eddl.Dense(x, int(num_classes))
    return finish(inp, output(x, activation), name)
