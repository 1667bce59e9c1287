"""Checkpoints: the one format for stored training state, written and read here only.

A checkpoint is a `torch.save` archive (plain tensors, lists, numbers; read with
`weights_only=True`) of one dictionary, documented in `docs/checkpoints.md`:

- always: `format` ("deephealth-eddl-checkpoint"), `version`, `epoch` (epochs done), `optimizer`
  (`{"name", "params"}` of the optimizer spec, or None), `optimizer_state`, `scaler` and `history`
  (one event per epoch);
- in a *run checkpoint* (`fit(..., resume=dir)` / `ModelCheckpoint`: `dir/checkpoint.pt`) also
  `layers` (kind and shape per layer), `model` (the weights), `generator`, `rng` (torch, CUDA, numpy
  and Python generators) and `callbacks`: restoring it and running the remaining epochs gives the
  same weights, bit for bit, as a run that was never interrupted (CPU, same thread count);
- the *ONNX side file* `<model>.onnx.ckpt` written by `save_net_to_onnx_file` holds no weights
  (they are in the ONNX file); `import_net_from_onnx_file` keeps it on the model and
  `load_checkpoint(net)` puts it back into the built network's optimizer.

Every failure to read or apply one raises `CheckpointError` (`WeightFileError` is the same class,
its older name, also raised by pyeddl's weight files in `weights.py`).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from deephealth.errors import EddlError

if TYPE_CHECKING:
    from deephealth.eddl.model import Model
    from deephealth.eddl.training.loop import FitRun
    from deephealth.eddl.training.state import TrainState

FORMAT = "deephealth-eddl-checkpoint"
VERSION = 2
SIDE_SUFFIX = ".ckpt"


class CheckpointError(EddlError, ValueError):
    """A checkpoint or weight file cannot be read, or does not fit the network."""


WeightFileError = CheckpointError  # the name pyeddl-style weight-file errors had before


# -- the file -------------------------------------------------------------------------------------
def atomic_save(obj: Any, path: Path) -> None:
    """`torch.save` to a temporary file, synced, then renamed over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _common(epoch: int, st: TrainState | None) -> dict[str, Any]:
    spec = None if st is None else st.spec
    return {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "optimizer": None if spec is None else {"name": spec.name, "params": dict(spec.params)},
        "optimizer_state": None
        if st is None or st.optimizer is None
        else st.optimizer.state_dict(),
        "scaler": None if st is None or st.scaler is None else st.scaler.state_dict(),
        "history": [] if st is None else list(st.history),
    }


def _upgrade(data: Any) -> dict[str, Any] | None:
    """The version-2 dictionary of any checkpoint this package ever wrote, else None."""
    if not isinstance(data, dict):
        return None
    if data.get("format") == 1 and "optimizer_state" in data:  # ONNX side file, first version
        return {**data, "format": FORMAT, "version": VERSION, "scaler": None}
    if data.get("format") != FORMAT:
        return None
    if data.get("version", 1) == 1:  # run checkpoint, first version: optimizer = its state
        data = {**data, "version": VERSION, "optimizer_state": data.get("optimizer")}
        data["optimizer"] = None
    return dict(data)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint file of any kind.

    Raises:
        CheckpointError: "cannot read checkpoint" (damaged) or "not a deephealth EDDL checkpoint".
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises pickle/zip/runtime errors for damaged files
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {err}") from None
    out = _upgrade(data)
    if out is None:
        raise CheckpointError(f"{str(path)!r} is not a deephealth EDDL checkpoint")
    return out


# -- run checkpoints (fit(..., resume=dir)) -------------------------------------------------------
def _fingerprint(net: Model) -> list[list[Any]]:
    """The architecture as (kind, output shape) per layer: names may differ between two builds of
    the same network (a name given by hand), so an identical network must still match."""
    return [[layer.kind, list(layer.output_shape)] for layer in net.layers]


def _by_position(net: Model, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` keyed by `net`'s own parameter names (same architecture, maybe other names)."""
    own = net.graph.state_dict()
    if state.keys() == own.keys():
        return state
    return dict(zip(own.keys(), state.values()))


def _rng_state() -> dict[str, Any]:
    np_state: tuple[Any, ...] = tuple(np.random.get_state())
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


def save_checkpoint(path: str | os.PathLike[str], run: FitRun, batch: int | None = None) -> None:
    """Write the run checkpoint after epoch `run.epoch` (atomically), or within it after `batch`
    batches: then the epoch's running loss/metric sums and the loader's state (its sampler
    position, when the loader has `state_dict`) are kept too, so the run resumes mid-epoch."""
    st = run.state
    data = _common(run.epoch if batch else run.epoch + 1, st)
    data["history"] = run.history
    data |= {
        "batch": int(batch or 0),
        "accumulators": {
            "loss_sum": st.loss_sum.detach().cpu(),
            "metric_sum": st.metric_sum.detach().cpu(),
            "seen": st.seen,
            "batches": st.batches,
        }
        if batch and st.loss_sum is not None and st.metric_sum is not None
        else None,
        "loader": run.loader.state_dict() if hasattr(run.loader, "state_dict") else None,
        "layers": _fingerprint(run.net),
        "model": run.net.graph.state_dict(),
        "generator": run.generator.get_state(),
        "rng": _rng_state(),
        "callbacks": [cb.state_dict() for cb in run.callbacks],
    }
    atomic_save(data, Path(path))


def restore_checkpoint(data: dict[str, Any], run: FitRun) -> None:
    """Apply a run checkpoint to a run about to start: weights, optimizer, RNGs, history,
    callbacks."""
    if "model" not in data:
        raise CheckpointError("the checkpoint holds no weights (an ONNX side file?)")
    if [entry[-2:] for entry in data["layers"]] != _fingerprint(run.net):
        raise CheckpointError(
            f"the checkpoint was written by a different network (layers {data['layers']}) than "
            f"model '{run.net.name}' ({_fingerprint(run.net)})"
        )
    st = run.state
    run.net.graph.load_state_dict(_by_position(run.net, data["model"]))
    if data["optimizer_state"] is not None and st.optimizer is not None:
        st.optimizer.load_state_dict(data["optimizer_state"])
    if data["scaler"] is not None and st.scaler is not None:
        st.scaler.load_state_dict(data["scaler"])
    run.generator.set_state(data["generator"])
    _set_rng_state(data["rng"])
    run.history[:] = data["history"]  # the same list as st.history
    if len(data["callbacks"]) == len(run.callbacks):
        for cb, state in zip(run.callbacks, data["callbacks"]):
            cb.load_state_dict(state)
    run.start_epoch = int(data["epoch"])
    run.start_batch = int(data.get("batch", 0))
    if run.start_batch:
        run.extra["accumulators"] = data["accumulators"]


# -- the side file of an ONNX model ---------------------------------------------------------------
def side_path(onnx_path: str | os.PathLike[str]) -> Path:
    """`model.onnx` -> `model.onnx.ckpt`."""
    return Path(str(onnx_path) + SIDE_SUFFIX)


def _built(net: Model) -> TrainState | None:
    st = net.train_state
    if st is None or st.optimizer is None or st.spec is None:
        return None
    return st


def save_side_checkpoint(net: Model, onnx_path: str | os.PathLike[str]) -> Path | None:
    """Write the checkpoint (no weights) beside `onnx_path`; its path, or None when `net` is not
    built with an optimizer (a stale side file of an earlier save is then removed)."""
    path = side_path(onnx_path)
    st = _built(net)
    if st is None:
        path.unlink(missing_ok=True)
        return None
    atomic_save(_common(len(st.history), st), path)
    return path


def attach_side_checkpoint(net: Model, onnx_path: str | os.PathLike[str]) -> None:
    """Keep the checkpoint beside `onnx_path` (if any) on `net` for `load_checkpoint`.

    Raises:
        CheckpointError: when the file exists but is not a readable checkpoint.
    """
    path = side_path(onnx_path)
    if not path.is_file():
        return
    try:
        net.checkpoint = read_checkpoint(path)
    except CheckpointError as err:
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
        attach_side_checkpoint(net, onnx_path)
    ckpt = net.checkpoint
    if ckpt is None:
        where = side_path(onnx_path) if onnx_path else "the imported file"
        raise CheckpointError(f"model '{net.name}': no checkpoint beside {where}")
    st = _built(net)
    if st is None or st.spec is None or st.optimizer is None:
        raise CheckpointError(
            f"model '{net.name}' must be built with an optimizer before load_checkpoint"
        )
    name = (ckpt["optimizer"] or {}).get("name")
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


__all__ = [
    "CheckpointError",
    "WeightFileError",
    "load_checkpoint",
    "read_checkpoint",
    "restore_checkpoint",
    "save_checkpoint",
]
