"""ONNX mapping of the Activation kind: one ONNX op per activation name, both directions.

`_OPS` is the table: activation name -> (ONNX op, ONNX attribute names of its params). Softmax's
axis is batch-excluded in the layer and batch-included in ONNX; `linear` (alpha * x) is a Mul.
Foreign Clip(0, 6) / Clip(min, max) has no activation here and is left to a clamp layer kind.
"""

from __future__ import annotations

import numpy as np
import onnx

from deephealth.eddl.layers.base import Layer
from deephealth.eddl.onnx.context import ExportContext
from deephealth.eddl.onnx.foreign import ImportContext
from deephealth.eddl.onnx.registry import exporter, op_importer

# activation -> (ONNX op, attribute names of its params in order, fixed extra attributes)
_OPS: dict[str, tuple[str, tuple[str, ...], dict[str, float]]] = {
    "relu": ("Relu", (), {}),
    "leaky_relu": ("LeakyRelu", ("alpha",), {}),
    "elu": ("Elu", ("alpha",), {}),
    "selu": ("Selu", (), {}),
    "sigmoid": ("Sigmoid", (), {}),
    "hard_sigmoid": ("HardSigmoid", (), {"alpha": 0.2, "beta": 0.5}),
    "softmax": ("Softmax", ("axis",), {}),
    "softplus": ("Softplus", (), {}),
    "softsign": ("Softsign", (), {}),
    "tanh": ("Tanh", (), {}),
    "exp": ("Exp", (), {}),
    "thresholded_relu": ("ThresholdedRelu", ("alpha",), {}),
}
_BY_OP = {op: act for act, (op, _, _) in _OPS.items()}
# ONNX defaults of the attributes a foreign node may leave out.
_ONNX_DEFAULTS = {
    "LeakyRelu": {"alpha": 0.01},
    "Elu": {"alpha": 1.0},
    "ThresholdedRelu": {"alpha": 1.0},
    "Softmax": {"axis": -1},
    "HardSigmoid": {"alpha": 0.2, "beta": 0.5},
    "Selu": {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875},
}


@exporter("Activation")
def activation_to_onnx(ctx: ExportContext, layer: Layer, inputs: list[str]) -> None:
    """One ONNX op; softmax's axis shifted past the batch axis; linear as Mul by alpha."""
    act, values = layer.params["act"], layer.params["params"]
    if act == "linear":
        alpha = ctx.const(f"{layer.name}/alpha", np.float32(values[0]))
        ctx.node("Mul", [inputs[0], alpha], ctx.out(layer), layer)
        return
    op, names, fixed = _OPS[act]
    attrs = dict(zip(names, values)) | fixed
    if act == "softmax":
        axis = int(values[0])
        attrs["axis"] = axis if axis < 0 else axis + 1
    ctx.node(op, inputs, ctx.out(layer), layer, **attrs)


@op_importer(*_BY_OP)
def activation_from_onnx(ictx: ImportContext, node: onnx.NodeProto) -> None:
    """An Activation layer; ops whose attributes differ from ours (HardSigmoid 1/6) are refused."""
    act = _BY_OP[node.op_type]
    attrs = _ONNX_DEFAULTS.get(node.op_type, {}) | ictx.attrs(node)
    parent = ictx.layer(node)
    if node.op_type == "HardSigmoid" and not (
        np.isclose(attrs["alpha"], 0.2) and np.isclose(attrs["beta"], 0.5)
    ):
        raise ictx.error(node, f"only alpha=0.2, beta=0.5 is supported, got {attrs}")
    if node.op_type == "Softmax":
        axis = int(attrs["axis"])
        rank = len(parent.output_shape) + 1
        axis = axis % rank
        if axis == 0:
            raise ictx.error(node, "softmax over the batch axis is not supported")
        values = [axis - 1]
    else:
        values = [float(attrs[n]) for n in _OPS[act][1]]
    ictx.add("Activation", [parent], {"act": act, "params": values}, node)
