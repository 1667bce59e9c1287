"""Checkpoints for `fit(..., resume=...)` and weight files for pyeddl's `save`/`load`.

A checkpoint holds the weights, the optimizer (and grad-scaler) state, every random generator the
run uses (the shuffling generator, torch's CPU/CUDA generators, numpy's and Python's), the history
of epoch events and the callbacks' states. Restoring it and running the remaining epochs gives the
same weights, bit for bit, as a run that was never interrupted (CPU, same thread count).

Weight files: format "bin" is EDDL's tensor layout repeated for every weight and buffer of every
layer in graph order; "pt" is a torch `state_dict` file.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deephealth.eddl.tensor import TensorError, bin_bytes
from deephealth.eddl.tensor.io import parse_bin

if TYPE_CHECKING:
    from deephealth.eddl.model import Model
    from deephealth.eddl.training.loop import FitRun

FORMAT = "deephealth-eddl-checkpoint"


class WeightFileError(ValueError):
    """A checkpoint or weight file does not fit the network, or is damaged."""


def _fingerprint(net: Model) -> list[list[Any]]:
    """The architecture as (kind, output shape) per layer: default layer names count up across a
    process, so an identical network built later has other names and must still match."""
    return [[layer.kind, list(layer.output_shape)] for layer in net.layers]


def _by_position(net: Model, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` keyed by `net`'s own parameter names (same architecture, maybe other names)."""
    own = net.graph.state_dict()
    if state.keys() == own.keys():
        return state
    return dict(zip(own.keys(), state.values()))


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": random.getstate(),
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_checkpoint(path: str | os.PathLike, run: FitRun) -> None:
    """Write the run's state after epoch `run.epoch` (atomically)."""
    st = run.state
    data = {
        "format": FORMAT,
        "version": 1,
        "epoch": run.epoch + 1,
        "layers": _fingerprint(run.net),
        "model": run.net.graph.state_dict(),
        "optimizer": st.optimizer.state_dict() if st.optimizer is not None else None,
        "scaler": st.scaler.state_dict() if st.scaler is not None else None,
        "generator": run.generator.get_state(),
        "rng": _rng_state(),
        "history": run.history,
        "callbacks": [cb.state_dict() for cb in run.callbacks],
    }
    _atomic_save(data, Path(path))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint file (raises `WeightFileError` for a file that is not one)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 (torch raises many kinds for damaged files)
        raise WeightFileError(f"cannot read checkpoint {str(path)!r}: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise WeightFileError(f"{str(path)!r} is not a deephealth EDDL checkpoint")
    return data


def restore_checkpoint(data: dict[str, Any], run: FitRun) -> None:
    """Apply a checkpoint to a run about to start: weights, optimizer, RNGs, history, callbacks."""
    if [entry[-2:] for entry in data["layers"]] != _fingerprint(run.net):
        raise WeightFileError(
            f"the checkpoint was written by a different network (layers {data['layers']}) than "
            f"model '{run.net.name}' ({_fingerprint(run.net)})"
        )
    st = run.state
    run.net.graph.load_state_dict(_by_position(run.net, data["model"]))
    if data["optimizer"] is not None and st.optimizer is not None:
        st.optimizer.load_state_dict(data["optimizer"])
    if data["scaler"] is not None and st.scaler is not None:
        st.scaler.load_state_dict(data["scaler"])
    run.generator.set_state(data["generator"])
    _set_rng_state(data["rng"])
    run.history[:] = data["history"]  # the same list as st.history
    if len(data["callbacks"]) == len(run.callbacks):
        for cb, state in zip(run.callbacks, data["callbacks"]):
            cb.load_state_dict(state)
    run.start_epoch = int(data["epoch"])


# -- pyeddl's save / load of weights --------------------------------------------------------------
def save(net: Model, fname: str | os.PathLike, format: str = "bin") -> None:  # noqa: A002
    """Save the weights (and buffers, e.g. BatchNorm statistics) of `net`."""
    path = Path(fname)
    if not path.parent.exists():
        raise FileNotFoundError(f"save: folder {str(path.parent)!r} does not exist")
    state = net.graph.state_dict()
    if format == "pt":
        _atomic_save(state, path)
    elif format == "bin":
        path.write_bytes(
            b"".join(bin_bytes(v.detach().cpu().float().numpy()) for v in state.values())
        )
    else:
        raise ValueError(f"save: unknown format {format!r}; use 'bin' (EDDL) or 'pt' (torch)")


def load(net: Model, fname: str | os.PathLike, format: str = "bin") -> None:  # noqa: A002
    """Load weights saved by `save` into `net` (same architecture).

    Raises:
        FileNotFoundError: the file does not exist.
        WeightFileError: counts or shapes that do not match, naming the weight.
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
            raise WeightFileError(str(err)) from None
    else:
        raise ValueError(f"load: unknown format {format!r}; use 'bin' (EDDL) or 'pt' (torch)")
    if len(values) != len(target):
        raise WeightFileError(
            f"{str(path)!r} holds {len(values)} weight tensors, model '{net.name}' has {len(target)}"
        )
    new = {}
    for (key, old), value in zip(target.items(), values):
        if old.dim() == 0 and value.numel() == 1:
            value = value.reshape(())  # EDDL's .bin stores scalars (BN's batch counter) as [1]
        if tuple(value.shape) != tuple(old.shape):
            raise WeightFileError(
                f"{str(path)!r}: weight '{key}' has shape {list(value.shape)} in the file, "
                f"{list(old.shape)} in model '{net.name}'"
            )
        new[key] = value.to(old.dtype)
    net.graph.load_state_dict(new)
