"""pyeddl's weight files: `save(net, fname, format)` and `load(net, fname, format)`.

Format "bin" is EDDL's tensor layout (`deephealth.eddl.tensor.bin_bytes`) repeated for every weight
and buffer of every layer in graph order; "pt" is a torch `state_dict` file. A file that does not
fit the network raises `CheckpointError` (also known by its older name `WeightFileError`), the one
error type of stored training state (see `deephealth.eddl.training.checkpoint`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from deephealth.eddl.tensor import TensorError, bin_bytes
from deephealth.eddl.tensor.io import parse_bin
from deephealth.eddl.training.checkpoint import CheckpointError, atomic_save

if TYPE_CHECKING:
    from deephealth.eddl.model import Model


def save(net: Model, fname: str | os.PathLike[str], format: str = "bin") -> None:  # noqa: A002
    """Save the weights (and buffers, e.g. BatchNorm statistics) of `net`."""
    path = Path(fname)
    if not path.parent.exists():
        raise FileNotFoundError(f"save: folder {str(path.parent)!r} does not exist")
    state = net.graph.state_dict()
    if format == "pt":
        atomic_save(state, path)
    elif format == "bin":
        path.write_bytes(
            b"".join(bin_bytes(v.detach().cpu().float().numpy()) for v in state.values())
        )
    else:
        raise ValueError(f"save: unknown format {format!r}; use 'bin' (EDDL) or 'pt' (torch)")


def load(net: Model, fname: str | os.PathLike[str], format: str = "bin") -> None:  # noqa: A002
    """Load weights saved by `save` into `net` (same architecture).

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: counts or shapes that do not match, naming the weight.
    """
    path = Path(fname)
    if not path.is_file():
        raise FileNotFoundError(f"load: no weight file {str(path)!r}")
    target = net.graph.state_dict()
    if format == "pt":
        values = list(torch.load(path, map_location="cpu", weights_only=True).values())
    elif format == "bin":
        raw, offset, values = path.read_bytes(), 0, []
        try:
            while offset < len(raw):
                arr, offset = parse_bin(raw, offset, str(path))
                values.append(torch.from_numpy(arr))
        except TensorError as err:
            raise CheckpointError(str(err)) from None
    else:
        raise ValueError(f"load: unknown format {format!r}; use 'bin' (EDDL) or 'pt' (torch)")
    if len(values) != len(target):
        raise CheckpointError(
            f"{str(path)!r} holds {len(values)} weight tensors, model '{net.name}' has {len(target)}"
        )
    new = {}
    for (key, old), value in zip(target.items(), values):
        if old.dim() == 0 and value.numel() == 1:
            value = value.reshape(())  # EDDL's .bin stores scalars (BN's batch counter) as [1]
        if tuple(value.shape) != tuple(old.shape):
            raise CheckpointError(
                f"{str(path)!r}: weight '{key}' has shape {list(value.shape)} in the file, "
                f"{list(old.shape)} in model '{net.name}'"
            )
        new[key] = value.to(old.dtype)
    net.graph.load_state_dict(new)
