"""Size bounds for the tensors an ONNX import computes (constant folding, shape computations).

A foreign graph can describe huge tensors in a few bytes: ``ConstantOfShape([20000, 20000])`` is
a 142-byte file that folds to 1.6 GB. Before a node is evaluated, :func:`check_node` infers its
output shapes with ONNX's shape inference (small integer inputs given as values, so shapes
computed from constants are known) and refuses any output larger than both :data:`MAX_BYTES` and
the largest input (an op that does not grow its data is never refused: weights already read from
the file stay importable). :func:`check_result` checks what was computed when inference could not
tell in advance. The bound is set with ``DEEPHEALTH_ONNX_MAX_TENSOR_BYTES`` (bytes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from deephealth.eddl.onnx.errors import OnnxImportError


def _env_bytes() -> int:
    try:
        return max(1, int(os.environ.get("DEEPHEALTH_ONNX_MAX_TENSOR_BYTES", 64 * 1024 * 1024)))
    except ValueError:
        return 64 * 1024 * 1024


MAX_BYTES = _env_bytes()
_VALUE_INPUT_LIMIT = 1024  # integer inputs up to this size are given to inference as values


class TensorLimitError(OnnxImportError):
    """A node would compute a tensor larger than the bound (checked before allocating)."""


def _bound(feeds: dict[str, np.ndarray]) -> int:
    largest = max((np.asarray(v).nbytes for v in feeds.values()), default=0)
    return max(MAX_BYTES, largest)


def _refuse(name: str, shape: Sequence[int], nbytes: int, bound: int) -> TensorLimitError:
    return TensorLimitError(
        f"output '{name}' of shape {list(shape)} would take {nbytes / 2**20:.0f} MiB, above the "
        f"bound of {bound / 2**20:.0f} MiB (DEEPHEALTH_ONNX_MAX_TENSOR_BYTES)"
    )


def check_node(node: onnx.NodeProto, feeds: dict[str, np.ndarray], opsets: list) -> None:
    """Refuse a node whose inferred outputs exceed the bound, before it runs.

    Raises:
        TensorLimitError: naming the output, its shape and the bound.
    """
    inits, infos = [], []
    for name, value in feeds.items():
        value = np.asarray(value)
        dtype = helper.np_dtype_to_tensor_dtype(value.dtype)
        infos.append(helper.make_tensor_value_info(name, dtype, value.shape))
        if value.dtype.kind in "iub" and value.size <= _VALUE_INPUT_LIMIT:
            inits.append(numpy_helper.from_array(value, name))
    outs = [helper.make_empty_tensor_value_info(n) for n in node.output if n]
    graph = helper.make_graph([node], "check", infos, outs, inits)
    try:
        model = onnx.shape_inference.infer_shapes(
            helper.make_model(graph, opset_imports=opsets), strict_mode=False, data_prop=True
        )
    except Exception:
        return
    bound = _bound(feeds)
    for out in model.graph.output:
        t = out.type.tensor_type
        if not t.HasField("shape"):
            continue
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
        if any(d < 0 for d in dims):
            continue
        try:
            itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(t.elem_type)).itemsize
        except Exception:
            itemsize = 8
        nbytes = int(np.prod(dims, dtype=object)) * itemsize
        if nbytes > bound:
            raise _refuse(out.name, dims, nbytes, bound)


def check_result(
    node: onnx.NodeProto, feeds: dict[str, np.ndarray], values: Sequence[np.ndarray]
) -> None:
    """Refuse computed outputs above the bound (for nodes inference could not size)."""
    bound = _bound(feeds)
    for name, value in zip([o for o in node.output if o], values):
        value = np.asarray(value)
        if value.nbytes > bound:
            raise _refuse(name, value.shape, value.nbytes, bound)
