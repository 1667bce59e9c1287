"""Convolution layers: Conv1D/2D/3D, the transposed ConvT2D/3D, depthwise and pointwise 2D.

Inputs are channels first, batch excluded: (C, L), (C, H, W) or (C, D, H, W). Padding "same" follows
EDDL and Keras: ceil(in / stride) outputs, the total padding split with the odd pixel at the end.
When that split is symmetric the layer is a plain `nn.ConvNd` with its own padding; otherwise the
module pads with `F.pad` first. Weights are always `weight` (and `bias`), as in torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deephealth.eddl.layers._util import (
    int_list,
    norm_padding,
    torch_pad,
    window_output,
    window_padding,
)
from deephealth.eddl.layers.base import (
    Layer,
    LayerSpec,
    Shape,
    ShapeError,
    expect_rank,
    register,
    single,
)

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_CONVT = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


class _PadConvMixin:
    """Pads asymmetrically with `F.pad` before the convolution (same weights as the base)."""

    pad_arg: list[int]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(F.pad(x, self.pad_arg), self.weight, self.bias)  # type: ignore[attr-defined]


class PadConv1d(_PadConvMixin, nn.Conv1d):
    """`nn.Conv1d` with asymmetric zero padding."""


class PadConv2d(_PadConvMixin, nn.Conv2d):
    """`nn.Conv2d` with asymmetric zero padding."""


class PadConv3d(_PadConvMixin, nn.Conv3d):
    """`nn.Conv3d` with asymmetric zero padding."""


_PAD_CONV = {1: PadConv1d, 2: PadConv2d, 3: PadConv3d}


class _CropConvTMixin:
    """Transposed convolution whose output is cut at the end of each spatial axis."""

    out_size: tuple[int, ...]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)  # type: ignore[misc]
        if len(self.out_size) == 2:
            return y[:, :, : self.out_size[0], : self.out_size[1]]
        return y[:, :, : self.out_size[0], : self.out_size[1], : self.out_size[2]]


class CropConvTranspose2d(_CropConvTMixin, nn.ConvTranspose2d):
    """`nn.ConvTranspose2d` cropped to Keras's "same" output size."""


class CropConvTranspose3d(_CropConvTMixin, nn.ConvTranspose3d):
    """`nn.ConvTranspose3d` cropped to Keras's "same" output size."""


_CROP_CONVT = {2: CropConvTranspose2d, 3: CropConvTranspose3d}


def _check_channels(params: dict[str, Any], in_ch: int) -> None:
    groups = params["groups"]
    if groups < 1 or in_ch % groups or params["filters"] % groups:
        raise ShapeError(
            f"groups={groups} must divide both the input channels ({in_ch}) and the filters "
            f"({params['filters']})"
        )


class _ConvSpec(LayerSpec):
    nd: int = 2

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        expect_rank(shape, [self.nd + 1], f"{self.kind} takes channels + {self.nd} spatial axes")
        _check_channels(params, shape[0])
        pads = window_padding(
            params["padding"],
            shape[1:],
            params["kernel_size"],
            params["strides"],
            params["dilation_rate"],
        )
        out = window_output(
            shape[1:], params["kernel_size"], params["strides"], pads, params["dilation_rate"]
        )
        return (params["filters"], *out)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        shape = single(in_shapes)
        pads = window_padding(
            params["padding"],
            shape[1:],
            params["kernel_size"],
            params["strides"],
            params["dilation_rate"],
        )
        kw = dict(
            kernel_size=tuple(params["kernel_size"]),
            stride=tuple(params["strides"]),
            dilation=tuple(params["dilation_rate"]),
            groups=params["groups"],
            bias=params["use_bias"],
        )
        if all(a == b for a, b in pads):
            return _CONV[self.nd](
                shape[0], params["filters"], padding=tuple(a for a, _ in pads), **kw
            )
        module = _PAD_CONV[self.nd](shape[0], params["filters"], padding=0, **kw)
        module.pad_arg = torch_pad(pads)
        return module


@register
class Conv1DSpec(_ConvSpec):
    """1-D convolution over (C, L)."""

    kind = "Conv1D"
    nd = 1


@register
class Conv2DSpec(_ConvSpec):
    """2-D convolution over (C, H, W)."""

    kind = "Conv2D"
    nd = 2


@register
class Conv3DSpec(_ConvSpec):
    """3-D convolution over (C, D, H, W)."""

    kind = "Conv3D"
    nd = 3


def _convt_geometry(
    params: dict[str, Any], spatial: Shape
) -> tuple[list[int], list[int], list[int]]:
    """Torch padding, output_padding and the final output sizes of a transposed convolution."""
    pad, out_pad, out = [], [], []
    for i, n in enumerate(spatial):
        k, s, d = params["kernel_size"][i], params["strides"][i], params["dilation_rate"][i]
        k_eff = (k - 1) * d + 1
        full = (n - 1) * s + k_eff
        if params["padding"] == "same":
            total = k_eff - s
            if total >= 0:
                pad.append(total // 2)
                out_pad.append(0)
            else:
                pad.append(0)
                out_pad.append(-total)
            out.append(n * s)
        elif params["padding"] == "valid":
            pad.append(0)
            out_pad.append(0)
            out.append(full)
        else:
            p = params["padding"][i]
            pad.append(p)
            out_pad.append(0)
            out.append(full - 2 * p)
    return pad, out_pad, out


class _ConvTSpec(LayerSpec):
    nd: int = 2

    def infer_shape(self, params: dict[str, Any], in_shapes: list[Shape]) -> Shape:
        shape = single(in_shapes)
        expect_rank(shape, [self.nd + 1], f"{self.kind} takes channels + {self.nd} spatial axes")
        _check_channels(params, shape[0])
        _, _, out = _convt_geometry(params, shape[1:])
        if any(o <= 0 for o in out):
            raise ShapeError(f"{self.kind} would produce an empty output {out}")
        return (params["filters"], *out)

    def build(self, params: dict[str, Any], in_shapes: list[Shape], out_shape: Shape) -> nn.Module:
        shape = single(in_shapes)
        pad, out_pad, out = _convt_geometry(params, shape[1:])
        kw = dict(
            kernel_size=tuple(params["kernel_size"]),
            stride=tuple(params["strides"]),
            padding=tuple(pad),
            output_padding=tuple(out_pad),
            dilation=tuple(params["dilation_rate"]),
            groups=params["groups"],
            bias=params["use_bias"],
        )
        natural = [
            (n - 1) * s - 2 * p + (k - 1) * d + op + 1
            for n, s, p, k, d, op in zip(
                shape[1:],
                params["strides"],
                pad,
                params["kernel_size"],
                params["dilation_rate"],
                out_pad,
            )
        ]
        if natural == out:
            return _CONVT[self.nd](shape[0], params["filters"], **kw)
        module = _CROP_CONVT[self.nd](shape[0], params["filters"], **kw)
        module.out_size = tuple(out)
        return module


@register
class ConvT2DSpec(_ConvTSpec):
    """2-D transposed convolution over (C, H, W)."""

    kind = "ConvT2D"
    nd = 2


@register
class ConvT3DSpec(_ConvTSpec):
    """3-D transposed convolution over (C, D, H, W)."""

    kind = "ConvT3D"
    nd = 3


def _conv(
    kind: str,
    nd: int,
    parent: Layer,
    filters: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int],
    padding: str | int | Sequence[int],
    use_bias: bool,
    groups: int,
    dilation_rate: int | Sequence[int],
    name: str,
) -> Layer:
    if int(filters) <= 0:
        raise ValueError(f"{kind} needs a positive number of filters, got {filters}")
    params = {
        "filters": int(filters),
        "kernel_size": int_list(kernel_size, nd, f"{kind} kernel_size"),
        "strides": int_list(strides, nd, f"{kind} strides"),
        "padding": norm_padding(padding, nd),
        "use_bias": bool(use_bias),
        "groups": int(groups),
        "dilation_rate": int_list(dilation_rate, nd, f"{kind} dilation_rate"),
    }
    for key in ("kernel_size", "strides", "dilation_rate"):
        if any(v <= 0 for v in params[key]):
            raise ValueError(f"{kind} {key} must be positive, got {params[key]}")
    return Layer(kind, [parent], params, name or None)


def Conv1D(
    parent: Layer,
    filters: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = (1,),
    padding: str | int | Sequence[int] = "same",
    use_bias: bool = True,
    groups: int = 1,
    dilation_rate: int | Sequence[int] = (1,),
    name: str = "",
) -> Layer:
    """1-D convolution of a (C, L) input; padding "same", "valid"/"none" or explicit ints."""
    return _conv(
        "Conv1D", 1, parent, filters, kernel_size, strides, padding, use_bias, groups,
        dilation_rate, name,
    )  # fmt: skip


def Conv2D(
    parent: Layer,
    filters: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = (1, 1),
    padding: str | int | Sequence[int] = "same",
    use_bias: bool = True,
    groups: int = 1,
    dilation_rate: int | Sequence[int] = (1, 1),
    name: str = "",
) -> Layer:
    """2-D convolution of a (C, H, W) input; padding "same", "valid"/"none" or explicit ints."""
    return _conv(
        "Conv2D", 2, parent, filters, kernel_size, strides, padding, use_bias, groups,
        dilation_rate, name,
    )  # fmt: skip


def Conv3D(
    parent: Layer,
    filters: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = (1, 1, 1),
    padding: str | int | Sequence[int] = "same",
    use_bias: bool = True,
    groups: int = 1,
    dilation_rate: int | Sequence[int] = (1, 1, 1),
    name: str = "",
) -> Layer:
    """3-D convolution of a (C, D, H, W) input; padding "same", "valid"/"none" or explicit ints."""
    return _conv(
        "Conv3D", 3, parent, filters, kernel_size, strides, padding, use_bias, groups,
        dilation_rate, name,
    )  # fmt: skip


def Conv(
    parent: Layer,
    filters: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = 1,
    padding: str | int | Sequence[int] = "same",
    use_bias: bool = True,
    groups: int = 1,
    dilation_rate: int | Sequence[int] = 1,
    name: str = "",
) -> Layer:
    """pyeddl's generic `Conv`: Conv1D/2D/3D chosen by the length of `kernel_size` (2-D default)."""
    if isinstance(kernel_size, int):
        nd = len(parent.output_shape) - 1
    else:
        nd = len(kernel_size)
    kind = {1: "Conv1D", 2: "Conv2D", 3: "Conv3D"}.get(nd)
    if kind is None:
        raise ValueError(f"Conv kernel_size must have 1 to 3 values, got {kernel_size}")
    return _conv(
        kind, nd, parent, filters, kernel_size, strides, padding, use_bias, groups,
        dilation_rate, name,
    )  # fmt: skip


def ConvT2D(
    parent: Layer,
    filters: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = (1, 1),
    padding: str | int | Sequence[int] = "same",
    use_bias: bool = True,
    groups: int = 1,
    dilation_rate: int | Sequence[int] = (1, 1),
    name: str = "",
) -> Layer:
    """2-D transposed convolution; "same" gives in * stride outputs, "valid" (in-1)*s + k."""
    return _conv(
        "ConvT2D", 2, parent, filters, kernel_size, strides, padding, use_bias, groups,
        dilation_rate, name,
    )  # fmt: skip


def ConvT3D(
    parent: Layer,
    filters: int,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = (1, 1, 1),
    padding: str | int | Sequence[int] = "same",
    use_bias: bool = True,
    groups: int = 1,
    dilation_rate: int | Sequence[int] = (1, 1, 1),
    name: str = "",
) -> Layer:
    """3-D transposed convolution; "same" gives in * stride outputs, "valid" (in-1)*s + k."""
    return _conv(
        "ConvT3D", 3, parent, filters, kernel_size, strides, padding, use_bias, groups,
        dilation_rate, name,
    )  # fmt: skip


def DepthwiseConv2D(
    parent: Layer,
    kernel_size: int | Sequence[int],
    strides: int | Sequence[int] = (1, 1),
    padding: str | int | Sequence[int] = "same",
    use_bias: bool = True,
    dilation_rate: int | Sequence[int] = (1, 1),
    name: str = "",
) -> Layer:
    """One filter per input channel: a Conv2D with groups = filters = input channels."""
    channels = parent.output_shape[0]
    return _conv(
        "Conv2D", 2, parent, channels, kernel_size, strides, padding, use_bias, channels,
        dilation_rate, name,
    )  # fmt: skip


def PointwiseConv2D(
    parent: Layer,
    filters: int,
    strides: int | Sequence[int] = (1, 1),
    use_bias: bool = True,
    groups: int = 1,
    dilation_rate: int | Sequence[int] = (1, 1),
    name: str = "",
) -> Layer:
    """A 1x1 Conv2D."""
    return _conv(
        "Conv2D", 2, parent, filters, (1, 1), strides, "valid", use_bias, groups,
        dilation_rate, name,
    )  # fmt: skip


PointwiseConv = PointwiseConv2D
ConvT = ConvT2D
