"""ONNX mapping of the normalizations: BatchNormalization, LayerNormalization (opset 17 ops) and
GroupNormalization (Reshape + InstanceNormalization + Reshape + Mul/Add, exact at any opset)."""

from __future__ import annotations

import numpy as np
import onnx

from deephealth.eddl.layers.base import Layer
from deephealth.eddl.layers.normalization import normalized_shape
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.foreign import ImportContext
from deephealth.eddl.onnx.registry import exporter, op_importer, weights_reader


def _affine(ctx: ExportContext, layer: Layer, shape: tuple[int, ...]) -> tuple[str, str]:
    """Scale and bias initializers: the layer's weights, or ones/zeros when not affine."""
    if layer.params["affine"]:
        return ctx.weight(layer, "weight"), ctx.weight(layer, "bias")
    return (
        ctx.const(f"{layer.name}/ones", np.ones(shape, np.float32)),
        ctx.const(f"{layer.name}/zeros", np.zeros(shape, np.float32)),
    )


@exporter("BatchNormalization")
def batchnorm_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """BatchNormalization with the running statistics (inference mode)."""
    channels = layer.input_shapes[0][0]
    scale, bias = _affine(ctx, layer, (channels,))
    mean, var = ctx.weight(layer, "running_mean"), ctx.weight(layer, "running_var")
    ctx.node(
        "BatchNormalization",
        [inputs[0], scale, bias, mean, var],
        ctx.out(layer),
        layer,
        epsilon=layer.params["epsilon"],
        momentum=layer.params["momentum"],
    )


@weights_reader("BatchNormalization")
def batchnorm_weights(layer: Layer, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The state_dict from the initializers; `num_batches_tracked` is not stored (the layer's
    momentum is fixed, so the count never enters the computation) and restarts at 0."""
    state = layer.module.state_dict()
    out = {"num_batches_tracked": np.zeros((), np.int64)}
    for key in state:
        if key != "num_batches_tracked":
            name = f"{layer.name}.{key}"
            if name not in tensors:
                raise KeyError(f"layer '{layer.name}' ({layer.kind}): no initializer '{name}'")
            out[key] = tensors[name]
    return out


@exporter("LayerNormalization")
def layernorm_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """LayerNormalization over every axis after the batch (or the last one, `axis=-1`)."""
    axis = layer.params.get("axis", 1)
    scale, bias = _affine(ctx, layer, normalized_shape(layer.params, layer.input_shapes[0]))
    ctx.node(
        "LayerNormalization",
        [inputs[0], scale, bias],
        ctx.out(layer),
        layer,
        axis=axis,
        epsilon=layer.params["epsilon"],
    )


@exporter("GroupNormalization")
def groupnorm_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """(N, G, rest) InstanceNormalization, reshaped back, then the per-channel affine."""
    shape = layer.input_shapes[0]
    groups = layer.params["groups"]
    grouped = ctx.ints(layer, "grouped_shape", [0, groups, -1])
    ones = ctx.const(f"{layer.name}/group_ones", np.ones(groups, np.float32))
    zeros = ctx.const(f"{layer.name}/group_zeros", np.zeros(groups, np.float32))
    x = ctx.node("Reshape", [inputs[0], grouped], ctx.tmp(layer, "grouped"), layer)
    x = ctx.node(
        "InstanceNormalization",
        [x, ones, zeros],
        ctx.tmp(layer, "normed"),
        layer,
        epsilon=layer.params["epsilon"],
    )
    back = ctx.ints(layer, "shape", [0, *shape])
    if not layer.params["affine"]:
        ctx.node("Reshape", [x, back], ctx.out(layer), layer)
        return
    x = ctx.node("Reshape", [x, back], ctx.tmp(layer, "ungrouped"), layer)
    bshape = ctx.ints(layer, "affine_shape", [shape[0]] + [1] * (len(shape) - 1))
    w = ctx.node("Reshape", [ctx.weight(layer, "weight"), bshape], ctx.tmp(layer, "w"), layer)
    b = ctx.node("Reshape", [ctx.weight(layer, "bias"), bshape], ctx.tmp(layer, "b"), layer)
    x = ctx.node("Mul", [x, w], ctx.tmp(layer, "scaled"), layer)
    ctx.node("Add", [x, b], ctx.out(layer), layer)


@op_importer("BatchNormalization")
def batchnorm_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """A BatchNormalization layer holding scale, bias and the running statistics."""
    parent = ictx.layer(node)
    a = ictx.attrs(node)
    if a.get("training_mode", 0):
        raise ictx.error(node, "training_mode=1 is not supported")
    scale, bias, mean, var = (
        ictx.const(node, i, w) for i, w in enumerate(("scale", "bias", "mean", "var"), start=1)
    )
    params = {
        "affine": True,
        "momentum": float(a.get("momentum", 0.9)),
        "epsilon": float(a.get("epsilon", 1e-5)),
    }
    weights = {"weight": scale, "bias": bias, "running_mean": mean, "running_var": var}
    ictx.add("BatchNormalization", [parent], params, node, weights)


@op_importer("LayerNormalization")
def layernorm_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """A LayerNormalization layer when it normalizes every axis after the batch or the last."""
    parent = ictx.layer(node)
    a = ictx.attrs(node)
    rank = len(parent.output_shape) + 1
    axis = int(a.get("axis", -1)) % rank
    if axis not in (1, rank - 1):
        raise ictx.error(
            node, "only normalization over every non-batch axis or the last axis is supported"
        )
    params: dict = {"affine": True, "epsilon": float(a.get("epsilon", 1e-5))}
    if axis != 1:
        params["axis"] = -1
    scale = ictx.const(node, 1, "scale")
    bias = ictx.const(node, 2, "bias")
    shape = normalized_shape(params, parent.output_shape)
    if bias is None:
        bias = np.zeros(shape, np.float32)
    weights = {"weight": np.broadcast_to(scale, shape), "bias": np.broadcast_to(bias, shape)}
    ictx.add("LayerNormalization", [parent], params, node, weights)


@op_importer("LRN")
def lrn_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """Local response normalization, composed of existing layers (no LRN kind):

    x / (bias + alpha / size * sum of x^2 over `size` neighbouring channels) ^ beta, the channel sum
    computed by a frozen all-ones Conv3D over (1, C, H, W) with "same" padding (ONNX's window).
    """
    x = ictx.layer(node)
    shape = x.output_shape
    a = ictx.attrs(node)
    size = int(a["size"])
    alpha, beta, bias = (
        float(a.get("alpha", 1e-4)),
        float(a.get("beta", 0.75)),
        float(a.get("bias", 1.0)),
    )
    if len(shape) != 3:
        raise ictx.error(node, f"LRN is supported on (C, H, W) inputs, got {shape}")
    sq = ictx.add("Mult", [x, x], {}, node, output=f"{node.output[0]}/square")
    vol = ictx.add("Reshape", [sq], {"shape": [1, *shape]}, node, output=f"{node.output[0]}/volume")
    conv_params = {
        "filters": 1,
        "kernel_size": [size, 1, 1],
        "strides": [1, 1, 1],
        "padding": "same",
        "use_bias": False,
        "groups": 1,
        "dilation_rate": [1, 1, 1],
    }
    ones = {"weight": np.ones((1, 1, size, 1, 1), np.float32)}
    total = ictx.add("Conv3D", [vol], conv_params, node, ones, output=f"{node.output[0]}/sum")
    total.trainable = False
    for p in total.module.parameters():
        p.requires_grad_(False)
    den = ictx.add(
        "Reshape", [total], {"shape": list(shape)}, node, output=f"{node.output[0]}/sums"
    )
    for op, value in (("mul", alpha / size), ("add", bias), ("pow", beta)):
        den = ictx.add(
            "ScalarOp", [den], {"op": op, "value": value}, node, output=f"{node.output[0]}/{op}"
        )
    ictx.add("Div", [x, den], {}, node)


@op_importer("InstanceNormalization", "GroupNormalization")
def groupnorm_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """A GroupNormalization layer: InstanceNormalization is one group per channel; ONNX
    GroupNormalization's scale/bias are per channel (opset 21) or per group (opset 18, repeated
    over each group's channels)."""
    parent = ictx.layer(node)
    channels = parent.output_shape[0]
    a = ictx.attrs(node)
    groups = channels if node.op_type == "InstanceNormalization" else int(a["num_groups"])
    scale, bias = ictx.const(node, 1, "scale"), ictx.const(node, 2, "bias")
    if scale.size == groups and groups != channels:
        scale, bias = np.repeat(scale, channels // groups), np.repeat(bias, channels // groups)
    if len(parent.output_shape) < 2:
        raise ictx.error(node, f"needs (C, spatial...) inputs, got {parent.output_shape}")
    params = {"groups": groups, "epsilon": float(a.get("epsilon", 1e-5)), "affine": True}
    ictx.add("GroupNormalization", [parent], params, node, {"weight": scale, "bias": bias})
