"""`fit`, `evaluate` and `predict`: the coarse training workflow.

`fit` takes whole datasets (numpy arrays, torch tensors or `Tensor`s, one per input/output, as
pyeddl's `fit(net, [x], [y], batch, epochs)`) or any re-iterable of batches (`fit(net, loader,
epochs=3)`; items `(x, y)` or `([x...], [y...])`). Per epoch it shuffles with its own seeded
generator, trains with the lean `train_step`, evaluates optional validation data, appends one
structured event to the run history and calls the callbacks. `resume=dir` writes a checkpoint there
every epoch and, when one exists, continues after it with identical results.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from deephealth.eddl.tensor import Tensor
from deephealth.eddl.training.callbacks import Callback, ModelCheckpoint, ProgressBar
from deephealth.eddl.training.data import (
    DataError,
    as_list,
    check_counts,
    check_inputs,
    check_targets,
    is_array,
    prepare,
    split_batch,
    to_torch,
)
from deephealth.eddl.training.sequence import decode, has_decoder
from deephealth.eddl.training.staging import PinnedStaging
from deephealth.eddl.training.state import TrainState, get_state
from deephealth.eddl.training.steps import (
    TRMODE,
    TSMODE,
    NonFiniteLossError,
    eval_step,
    mark_layers,
    to_device,
    train_step,
)

if TYPE_CHECKING:
    from deephealth.eddl.model import Model


@dataclass
class FitRun:
    """The state of one `fit` call, seen by callbacks.

    Attributes:
        net: The model.
        state: Its `TrainState`.
        epochs: Total number of epochs.
        epoch: Current epoch (0-based).
        num_batches: Batches per epoch (None when a loader has no length).
        generator: The shuffling generator.
        callbacks: Active callbacks.
        history: Epoch events so far (shared with `net.train_state.history`).
        stop: Set to True to stop after the current epoch.
        start_epoch: First epoch to run (after a resume).
        start_batch: Batches of `start_epoch` already done (a resume from mid-epoch).
        loader: The user's iterable of batches (None for arrays); its `state_dict()` /
            `load_state_dict()`, when it has them, travel in the checkpoints.
    """

    net: Model
    state: TrainState
    epochs: int
    generator: torch.Generator
    callbacks: list[Callback]
    history: list[dict[str, Any]]
    num_batches: int | None = None
    epoch: int = 0
    stop: bool = False
    start_epoch: int = 0
    start_batch: int = 0
    batch_size: int | None = None
    loader: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def _is_dataset(x: Any) -> bool:
    return is_array(x) or (isinstance(x, (list, tuple)) and len(x) > 0 and all(map(is_array, x)))


class _ArrayBatches:
    """Batches of whole-dataset tensors in a (shuffled) order; re-iterable per epoch."""

    def __init__(
        self,
        xs: list[torch.Tensor],
        ys: list[torch.Tensor],
        batch: int,
        shuffle: bool,
        drop_last: bool,
        run: FitRun,
    ) -> None:
        self.xs, self.ys, self.batch, self.shuffle = xs, ys, batch, shuffle
        self.run = run
        self.n = int(xs[0].shape[0])
        self.drop_last = drop_last

    def __len__(self) -> int:
        strategy = self.run.state.strategy
        return len(strategy.batch_indices(torch.arange(self.n), self.batch, self.drop_last))

    def __iter__(self) -> Iterator[tuple[list[torch.Tensor], list[torch.Tensor]]]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=self.run.generator)
        else:
            order = torch.arange(self.n)
        state = self.run.state
        strategy = state.strategy
        contiguous = not self.shuffle and strategy.world_size == 1
        host = [*self.xs, *self.ys]
        pinned = state.device.type == "cuda" and all(t.is_cpu for t in host)
        staging = PinnedStaging(state.device) if pinned else None
        for idx in strategy.batch_indices(order, self.batch, self.drop_last):
            if staging is not None:
                staged = staging.next_batch(host, idx)
                yield staged[: len(self.xs)], staged[len(self.xs) :]
            elif contiguous:
                lo, hi = int(idx[0]), int(idx[-1]) + 1
                yield [x[lo:hi] for x in self.xs], [y[lo:hi] for y in self.ys]
            else:
                yield (
                    [x.index_select(0, idx) for x in self.xs],
                    [y.index_select(0, idx) for y in self.ys],
                )


class _LoaderBatches:
    """Batches from a user iterable, converted and checked on the fly."""

    def __init__(self, net: Model, loader: Iterable[Any]) -> None:
        self.net, self.loader = net, loader

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[list[torch.Tensor], list[torch.Tensor]]]:
        for item in self.loader:
            x, y = split_batch(item)
            xs = [to_torch(a, f"input {i}") for i, a in enumerate(x)]
            ys = [to_torch(a, f"target {i}") for i, a in enumerate(y)]
            check_inputs(self.net, xs)
            check_targets(self.net, ys)
            check_counts(xs, ys)
            yield xs, ys


def _batches(
    net: Model, x: Any, y: Any, batch: int, shuffle: bool, drop_last: bool, run: FitRun | None
) -> Any:
    if _is_dataset(x):
        if y is None:
            raise DataError(
                "fit/evaluate with arrays needs targets: fit(net, [x], [y], batch, ...)"
            )
        if batch is None or int(batch) < 1:
            raise DataError(f"the batch size must be a positive integer, got {batch}")
        xs, ys = prepare(net, x, y)
        return _ArrayBatches(xs, ys, int(batch), shuffle, drop_last, run or _dummy_run(net))
    if y is not None and isinstance(x, (list, tuple)):
        for i, a in enumerate(x):
            if not is_array(a):
                raise DataError(
                    f"input {i}: expected a numpy array, torch tensor or Tensor, got "
                    f"{type(a).__name__}"
                )
    if y is not None:
        raise DataError(
            f"targets were given but the inputs are a {type(x).__name__}, not arrays; pass "
            "arrays for both, or one iterable of (x, y) batches alone"
        )
    if not isinstance(x, Iterable):
        raise DataError(f"fit: expected arrays or an iterable of batches, got {type(x).__name__}")
    if iter(x) is x:
        raise DataError(
            "fit/evaluate needs a re-iterable loader (a list or DataLoader), not an iterator"
        )
    return _LoaderBatches(net, x)


def _dummy_run(net: Model) -> FitRun:
    return FitRun(net, get_state(net), 1, torch.Generator(), [], [])


def epoch_event(
    run: FitRun, seconds: float, samples: int, val: dict[str, dict[str, float]] | None
) -> dict[str, Any]:
    """The structured record of one finished epoch."""
    st = run.state
    losses = dict(zip(st.loss_names(), st.losses_now(all_workers=True)))
    event: dict[str, Any] = {
        "event": "epoch",
        "epoch": run.epoch + 1,
        "epochs": run.epochs,
        "loss": float(sum(losses.values())),
        "losses": losses,
        "metrics": dict(zip(st.metric_names(), st.metrics_now(all_workers=True))),
        "lr": st.spec.lr if st.spec is not None else None,
        "time_s": seconds,
        "samples": samples,
        "samples_per_s": samples / seconds if seconds > 0 else float("nan"),
    }
    if val is not None:
        event["val_loss"] = float(sum(val["losses"].values()))
        event["val_losses"] = val["losses"]
        event["val_metrics"] = val["metrics"]
    return event


def fit(
    net: Model,
    in_: Any,
    out: Any = None,
    batch: int = 32,
    epochs: int = 1,
    *,
    validation_data: Any = None,
    shuffle: bool = True,
    callbacks: Sequence[Callback] = (),
    resume: str | Path | None = None,
    seed: int | None = None,
    verbose: int = 1,
    drop_last: bool = False,
) -> list[dict[str, Any]]:
    """Train `net` (pyeddl's `fit(net, [x], [y], batch, epochs)` plus keyword extensions).

    Args:
        net: A built model.
        in_: Input arrays (one per Input layer), or an iterable of batches.
        out: Target arrays (one per output); None with an iterable of batches.
        batch: Batch size for arrays.
        epochs: Number of epochs.
        validation_data: (x, y) arrays or an iterable of batches, evaluated after each epoch.
        shuffle: Shuffle the samples every epoch (arrays only).
        callbacks: Extra callbacks (progress bar and `setlogfile` logger are added by default).
        resume: A folder: write `checkpoint.pt` there every epoch, and continue after the one
            found there (if any), ending bit-identical to an uninterrupted run.
        seed: Seed of the shuffling generator (default: drawn from torch's global generator).
        verbose: 0 silent, 1 a progress bar per epoch.
        drop_last: Skip the last incomplete batch of each epoch.

    Returns:
        The run history: one event dict per epoch (also in `net.train_state.history`).

    Raises:
        DataError: data that does not fit the network (names the layer, expected vs got).
        NonFiniteLossError: the loss became NaN/inf (names the epoch and batch).
    """
    st = get_state(net)
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    cbs: list[Callback] = [ProgressBar()] if verbose else []
    cbs += list(st.log_callbacks) + list(callbacks)
    if resume is not None:
        ckpt = next((c for c in cbs if isinstance(c, ModelCheckpoint)), None)
        if ckpt is None or ckpt.directory != Path(resume):
            cbs.append(ModelCheckpoint(resume))
    if not st.strategy.is_main:
        cbs = [c for c in cbs if not c.main_only]
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    seed = st.strategy.broadcast_seed(seed)
    generator = torch.Generator().manual_seed(int(seed))
    st.history = []  # each fit call is one run with its own record
    run = FitRun(net, st, int(epochs), generator, cbs, st.history, batch_size=batch)
    data = _batches(net, in_, out, batch, shuffle, drop_last, run)
    if isinstance(data, _LoaderBatches):
        run.loader = in_
    try:
        run.num_batches = len(data)
    except TypeError:
        run.num_batches = None
    if resume is not None and (Path(resume) / "checkpoint.pt").is_file():
        from deephealth.eddl.training.checkpoint import read_checkpoint, restore_checkpoint

        saved = read_checkpoint(Path(resume) / "checkpoint.pt")
        restore_checkpoint(saved, run)
        mid_epoch = run.start_batch and saved.get("loader") is not None
        if mid_epoch and hasattr(run.loader, "load_state_dict"):
            run.loader.load_state_dict(saved["loader"])
    for cb in cbs:
        cb.on_fit_begin(run)
    batch_cbs = [cb for cb in cbs if type(cb).on_batch_end is not Callback.on_batch_end]
    on_cpu = st.device.type == "cpu"
    for epoch in range(run.start_epoch, run.epochs):
        run.epoch = epoch
        st.reset()
        first = 0
        if epoch == run.start_epoch and run.start_batch:  # resumed mid-epoch
            first, run.start_batch = run.start_batch, 0
            acc = run.extra.pop("accumulators")
            st.loss_sum, st.metric_sum = (
                acc["loss_sum"].to(st.device),
                acc["metric_sum"].to(st.device),
            )
            st.seen, st.batches = int(acc["seen"]), int(acc["batches"])
        st.set_mode(TRMODE)
        for cb in cbs:
            cb.on_epoch_begin(run)
        t0 = time.perf_counter()
        bad = None
        b = -1
        for b, (xs, ys) in enumerate(data, start=first):
            loss = train_step(st, to_device(st, xs), to_device(st, ys))
            st.strategy.after_step(st, b)
            if on_cpu:
                if not math.isfinite(float(loss)):
                    _nan(loss, epoch, b)
            else:
                flag = ~torch.isfinite(loss)
                bad = (
                    torch.where(flag & (bad < 0), b, bad)
                    if bad is not None
                    else torch.where(flag, b, -1)
                )
            for cb in batch_cbs:
                cb.on_batch_end(run, b)
        if b < 0:
            raise DataError(f"epoch {epoch + 1}: the data yielded no batch")
        mark_layers(net)  # getOutput(layer) reads the last batch
        st.strategy.end_epoch(st)
        if bad is not None and int(bad) >= 0:
            _nan(float("nan"), epoch, int(bad))
        seconds = time.perf_counter() - t0
        samples = st.seen
        val = _validate(net, validation_data, batch) if validation_data is not None else None
        event = epoch_event(run, seconds, samples, val)
        run.history.append(event)
        run.stop = st.strategy.broadcast_stop(run.stop)
        for cb in cbs:
            cb.on_epoch_end(run, event)
        if run.stop:
            break
    for cb in cbs:
        cb.on_fit_end(run)
    return run.history


def _nan(loss: Any, epoch: int, batch: int) -> None:
    raise NonFiniteLossError(
        f"the training loss is {float(loss)} at epoch {epoch + 1}, batch {batch + 1}; training "
        "stopped (lower the learning rate, check the data for NaN/inf, or normalize the inputs)"
    )


def _is_pair(net: Model, data: Any) -> bool:
    """(x, y) arrays (True) rather than a loader of two batches (False)."""
    if not (isinstance(data, (list, tuple)) and len(data) == 2):
        return False
    x, y = data
    if is_array(x):
        return True
    fits = [len(as_list(x)) == len(net.inputs), len(as_list(y)) == len(net.outputs)]
    return _is_dataset(x) and _is_dataset(y) and all(fits)


def _validate(net: Model, data: Any, batch: int) -> dict[str, dict[str, float]]:
    if _is_pair(net, data):
        return evaluate(net, data[0], data[1], bs=batch, verbose=0, _raw=True)
    return evaluate(net, data, None, bs=batch, verbose=0, _raw=True)


def evaluate(
    net: Model, in_: Any, out: Any = None, bs: int = -1, verbose: int = 1, _raw: bool = False
) -> dict[str, Any]:
    """Losses and metrics of `net` on data, in inference mode (pyeddl's evaluate).

    Returns:
        {name: value} for every loss and metric (printed as pyeddl does when `verbose`).
    """
    st = get_state(net)
    mode = st.mode
    st.set_mode(TSMODE)
    saved = (st.loss_sum.clone(), st.metric_sum.clone(), st.seen, st.batches)
    st.reset()
    try:
        for xs, ys in _batches(net, in_, out, 256 if bs in (-1, None) else bs, False, False, None):
            eval_step(st, to_device(st, xs), to_device(st, ys))
        mark_layers(net)
        result = {
            "losses": dict(zip(st.loss_names(), st.losses_now(all_workers=True))),
            "metrics": dict(zip(st.metric_names(), st.metrics_now(all_workers=True))),
        }
    finally:
        st.loss_sum, st.metric_sum, st.seen, st.batches = saved
        st.set_mode(mode)
    if _raw:
        return result
    values = {**result["losses"], **result["metrics"]}
    if verbose:
        print("Evaluate: " + " ".join(f"{k}(={v:.4f})" for k, v in values.items()))
    return values


@torch.no_grad()
def predict(net: Model, in_: Any, bs: int = -1, seq_len: int | None = None) -> list[Tensor]:
    """The outputs of `net` for the inputs (inference mode), one Tensor per output layer.

    A net with a decoder (`setDecoder`) decodes step by step (greedy) for `seq_len` steps
    (default: the target length of the last `fit`); outputs are `(N, seq_len, *out)`.
    """
    st = net.train_state
    xs = [to_torch(a, f"input {i}") for i, a in enumerate(as_list(in_))]
    check_inputs(net, xs)
    n = check_counts(xs, [])
    bs = n if bs in (-1, None) else int(bs)
    graph = st.graph if st is not None else net.graph
    was_training = graph.training
    graph.eval()
    parts: list[list[torch.Tensor]] = [[] for _ in net.outputs]
    try:
        for lo in range(0, n, bs):
            batch = [x[lo : lo + bs] for x in xs]
            if st is not None:
                batch = to_device(st, batch)
            if has_decoder(net):
                outs = decode(graph, net, batch, _decoder_steps(net, seq_len))
            elif st is not None:
                with st.autocast():
                    outs = graph(*batch)
            else:
                outs = graph(*batch)
            for i, o in enumerate(outs):
                parts[i].append(o.float())
    finally:
        graph.train(was_training)
    return [Tensor.wrap(torch.cat(p)) for p in parts]


def _decoder_steps(net: Model, seq_len: int | None) -> int:
    steps = seq_len if seq_len is not None else net.decoder_steps
    if steps is None:
        raise ValueError(
            f"predict: model '{net.name}' has a decoder; give seq_len=<number of steps> "
            "(or fit it first: the target length is kept)"
        )
    return int(steps)


__all__ = ["FitRun", "NonFiniteLossError", "epoch_event", "evaluate", "fit", "predict"]
