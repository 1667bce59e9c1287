"""The training checkpoint beside an ONNX file: what the weights do not hold.

`<model>.onnx.ckpt` (a `torch.save` archive of plain tensors, lists and numbers) keeps the
optimizer's name, hyperparameters (learning rate schedule as last set) and state (moments, step
counts), and the training history (one entry per epoch). `save_net_to_onnx_file` writes it when the
network is built with an optimizer; `import_net_from_onnx_file` keeps it on the model as
`net.state["checkpoint"]`, and `load_checkpoint` puts it back into the built network's optimizer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from deephealth.eddl.onnx.errors import OnnxError

if TYPE_CHECKING:
    from deephealth.eddl.model import Model

CHECKPOINT_SUFFIX = ".ckpt"


class CheckpointError(OnnxError):
    """A checkpoint cannot be read or does not fit the network."""


def checkpoint_path(onnx_path: str | os.PathLike[str]) -> Path:
    """`model.onnx` -> `model.onnx.ckpt`."""
    return Path(str(onnx_path) + CHECKPOINT_SUFFIX)


def checkpoint_of(net: Model) -> dict[str, Any] | None:
    """The checkpoint of a built network (None when it has no optimizer)."""
    st = net.state.get("train")
    if st is None or st.optimizer is None or st.spec is None:
        return None
    return {
        "format": 1,
        "optimizer": {"name": st.spec.name, "params": dict(st.spec.params)},
        "optimizer_state": st.optimizer.state_dict(),
        "history": list(st.history),
        "epoch": len(st.history),
    }


def save_checkpoint(net: Model, onnx_path: str | os.PathLike[str]) -> Path | None:
    """Write the checkpoint beside `onnx_path`; returns its path (None when not built).

    A stale checkpoint of an earlier save is removed when the network has no optimizer.
    """
    path = checkpoint_path(onnx_path)
    ckpt = checkpoint_of(net)
    if ckpt is None:
        path.unlink(missing_ok=True)
        return None
    torch.save(ckpt, path)
    return path


def attach_checkpoint(net: Model, onnx_path: Path) -> None:
    """Keep the checkpoint beside `onnx_path` (if any) in `net.state["checkpoint"]`.

    Raises:
        CheckpointError: when the file exists but cannot be read.
    """
    path = checkpoint_path(onnx_path)
    if not path.is_file():
        return
    try:
        net.state["checkpoint"] = torch.load(path, weights_only=True)
    except Exception as err:  # torch raises pickle/zip/runtime errors
        raise CheckpointError(f"{path}: not a readable checkpoint ({err})") from None


def load_checkpoint(net: Model, onnx_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Restore optimizer hyperparameters, state and history into a built network.

    Args:
        net: A network built with the same kind of optimizer (`build(..., init_weights=False)`).
        onnx_path: The ONNX file whose checkpoint to read; default: the one read at import.

    Returns:
        The checkpoint dictionary ("epoch", "history", "optimizer", ...).

    Raises:
        CheckpointError: no checkpoint, a network that is not built, or another optimizer.
    """
    if onnx_path is not None:
        attach_checkpoint(net, Path(onnx_path))
    ckpt = net.state.get("checkpoint")
    if ckpt is None:
        where = checkpoint_path(onnx_path) if onnx_path else "the imported file"
        raise CheckpointError(f"model '{net.name}': no checkpoint beside {where}")
    st = net.state.get("train")
    if st is None or st.optimizer is None or st.spec is None:
        raise CheckpointError(
            f"model '{net.name}' must be built with an optimizer before load_checkpoint"
        )
    name = ckpt["optimizer"]["name"]
    if st.spec.name != name:
        raise CheckpointError(
            f"model '{net.name}' is built with {st.spec.name} but the checkpoint holds {name}"
        )
    try:
        st.optimizer.load_state_dict(ckpt["optimizer_state"])
    except (ValueError, KeyError) as err:
        raise CheckpointError(f"model '{net.name}': checkpoint does not fit: {err}") from None
    st.spec.params.update(ckpt["optimizer"]["params"])
    st.history[:] = list(ckpt["history"])
    return ckpt
