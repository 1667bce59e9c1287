"""Callbacks of `fit`: progress bar, CSV/JSON/text logs, checkpoints, early stopping, LR schedules.

A run is a record: at the end of every epoch `fit` appends one structured event (a plain dict, see
`loop.epoch_event`) to `run.history`; callbacks read those events, nobody parses log text. Loggers
rewrite their file from the whole history, so a resumed run never duplicates or loses a row.
Callbacks with `main_only = True` (files, checkpoints) run only on the main rank of a distributed
strategy. `state_dict`/`load_state_dict` carry a callback's state across `fit(..., resume=...)`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deephealth.eddl.training.loop import FitRun


class Callback:
    """Base class: override the hooks you need."""

    main_only: bool = False

    def on_fit_begin(self, run: FitRun) -> None:
        """Before the first epoch (after a resume has been applied)."""

    def on_epoch_begin(self, run: FitRun) -> None:
        """Before each epoch (`run.epoch` is 0-based)."""

    def on_batch_end(self, run: FitRun, batch: int) -> None:
        """After each training batch (keep it cheap)."""

    def on_epoch_end(self, run: FitRun, event: dict[str, Any]) -> None:
        """After each epoch, with its event (already in `run.history`)."""

    def on_fit_end(self, run: FitRun) -> None:
        """After the last epoch or an early stop."""

    def state_dict(self) -> dict[str, Any]:
        """State to keep in checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()` output."""


def flat(event: dict[str, Any]) -> dict[str, Any]:
    """One event as a flat {column: value} dict (losses/metrics by name, val_ prefixed)."""
    row = {k: v for k, v in event.items() if not isinstance(v, dict)}
    for group in ("losses", "metrics"):
        row.update(event.get(group, {}))
        row.update({f"val_{k}": v for k, v in event.get(f"val_{group}", {}).items()})
    return row


class ProgressBar(Callback):
    """A tqdm bar per epoch with the running loss and metrics (refreshed at most twice a second)."""

    def __init__(self, refresh_s: float = 0.5) -> None:
        self.refresh_s = refresh_s
        self.bar = None
        self._last = 0.0

    def on_epoch_begin(self, run: FitRun) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=run.num_batches,
            desc=f"Epoch {run.epoch + 1}/{run.epochs}",
            unit="batch",
            dynamic_ncols=True,
            leave=True,
        )
        self._last = time.perf_counter()

    def on_batch_end(self, run: FitRun, batch: int) -> None:
        self.bar.update(1)
        now = time.perf_counter()
        if now - self._last >= self.refresh_s:
            self._last = now
            self.bar.set_postfix(_short(run.state.summary()), refresh=False)

    def on_epoch_end(self, run: FitRun, event: dict[str, Any]) -> None:
        if self.bar is not None:
            row = flat(event)
            hidden = ("epoch", "epochs", "event", "loss", "val_loss", "time_s", "samples", "lr")
            shown = {k: v for k, v in row.items() if k not in hidden}
            self.bar.set_postfix(_short(shown), refresh=True)
            self.bar.close()
            self.bar = None


def _short(values: dict[str, Any]) -> dict[str, str]:
    return {k: f"{v:.4g}" for k, v in values.items() if isinstance(v, (int, float))}


class _FileLogger(Callback):
    main_only = True

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_epoch_end(self, run: FitRun, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", newline="") as fh:
            self.write(fh, run.history)
        os.replace(tmp, self.path)

    def write(self, fh: Any, history: list[dict[str, Any]]) -> None:
        raise NotImplementedError


class CSVLogger(_FileLogger):
    """One CSV row per epoch: epoch, losses, metrics, validation values, lr, timings."""

    def write(self, fh: Any, history: list[dict[str, Any]]) -> None:
        rows = [flat(e) for e in history]
        columns: list[str] = []
        for row in rows:
            columns += [c for c in row if c not in columns]
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


class JSONLogger(_FileLogger):
    """JSON lines: one structured event per epoch (what progress bars and reports read)."""

    def write(self, fh: Any, history: list[dict[str, Any]]) -> None:
        for event in history:
            fh.write(json.dumps(event, sort_keys=True) + "\n")


class TextLogger(_FileLogger):
    """pyeddl's `setlogfile`: one human-readable line per epoch."""

    def write(self, fh: Any, history: list[dict[str, Any]]) -> None:
        for event in history:
            values = " ".join(
                f"{k}(={v:.4f})"
                for k, v in flat(event).items()
                if isinstance(v, float) and k not in ("time_s", "samples_per_s", "lr")
            )
            fh.write(
                f"Epoch {event['epoch']}/{event['epochs']} {values} time={event['time_s']:.2f}s\n"
            )


class ModelCheckpoint(Callback):
    """Write `checkpoint.pt` (weights, optimizer, RNG and callback states) every `every` epochs,
    and also every `every_batches` batches within an epoch when set (with the epoch's running
    sums and the loader's `state_dict()`, so a killed run resumes mid-epoch).

    `fit(..., resume=directory)` continues from it; the write is atomic (temp file + rename), so a
    run killed at any moment leaves the previous complete checkpoint.
    """

    main_only = True

    def __init__(
        self, directory: str | os.PathLike, every: int = 1, every_batches: int | None = None
    ) -> None:
        if every < 1:
            raise ValueError(f"ModelCheckpoint needs every >= 1, got {every}")
        if every_batches is not None and every_batches < 1:
            raise ValueError(f"ModelCheckpoint needs every_batches >= 1, got {every_batches}")
        self.directory = Path(directory)
        self.every = every
        self.every_batches = every_batches

    def on_batch_end(self, run: FitRun, batch: int) -> None:
        done = batch + 1
        if not self.every_batches or done % self.every_batches or done == run.num_batches:
            return
        from deephealth.eddl.training.checkpoint import save_checkpoint

        save_checkpoint(self.path, run, batch=done)

    @property
    def path(self) -> Path:
        """The checkpoint file."""
        return self.directory / "checkpoint.pt"

    def on_epoch_end(self, run: FitRun, event: dict[str, Any]) -> None:
        done = run.epoch + 1
        if done % self.every == 0 or done == run.epochs or run.stop:
            from deephealth.eddl.training.checkpoint import save_checkpoint

            save_checkpoint(self.path, run)


#: The one rule for which direction of a metric is better (EDDL callbacks and the pipelines).
HIGHER_IS_BETTER = (
    "accuracy", "acc", "categorical_accuracy", "binary_accuracy", "balanced_accuracy", "auc",
    "roc_auc", "dice", "iou", "miou", "jaccard", "sensitivity", "specificity", "precision",
    "recall", "f1", "psnr", "ssim", "volume_similarity", "c_index", "bleu", "rouge", "map", "r2", "td_auc", "concordance",
    "map50", "map75", "cpm",
)  # fmt: skip
LOWER_IS_BETTER = (
    "loss", "mse", "mae", "rmse", "error_rate", "error", "mean_squared_error",
    "mean_absolute_error", "mean_relative_error", "hausdorff95", "hausdorff",
    "cross_entropy", "categorical_cross_entropy", "binary_cross_entropy",
    "soft_cross_entropy", "softmax_cross_entropy", "brier",
)  # fmt: skip


def metric_mode(monitor: str, mode: str = "auto") -> str:
    """ "max" or "min": which direction of `monitor` is better.

    Args:
        monitor: A metric or loss name, optionally prefixed "val_" (as in the epoch events).
        mode: "min" or "max" to decide explicitly; "auto" looks the name up.

    Raises:
        ValueError: for an unknown mode, or with "auto" a metric the rule does not know.
    """
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"mode must be auto, min or max, got {mode!r}")
    name = monitor.lower().removeprefix("val_")
    if name in HIGHER_IS_BETTER:
        return "max"
    if name in LOWER_IS_BETTER or name.endswith("loss"):
        return "min"
    raise ValueError(
        f"unknown direction for metric {monitor!r}: pass mode='min' or mode='max' (known higher "
        f"is better: {', '.join(HIGHER_IS_BETTER)}; lower: {', '.join(LOWER_IS_BETTER)})"
    )


class _Monitored(Callback):
    """Base of the callbacks that follow one value of the epoch events and its best so far."""

    def __init__(self, monitor: str, min_delta: float, mode: str) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__} mode must be auto, min or max, got {mode!r}")
        self.monitor, self.min_delta = monitor, min_delta
        self.mode = metric_mode(monitor, mode)
        self.best: float | None = None

    def improved(self, event: dict[str, Any]) -> bool:
        """Whether this epoch beats the best so far by `min_delta` (then it becomes the best)."""
        row = flat(event)
        key = self.monitor
        if key not in row and key == "val_loss":
            key = "loss"  # no validation data
        if key not in row:
            raise KeyError(
                f"{type(self).__name__} monitors {self.monitor!r}, which the epoch events do not "
                f"have; available: {sorted(k for k, v in row.items() if isinstance(v, float))}"
            )
        value = float(row[key])
        if not math.isfinite(value):
            return False  # NaN/inf never becomes the best
        sign = 1.0 if self.mode == "min" else -1.0
        if self.best is None or sign * (value - self.best) < -self.min_delta:
            self.best = value
            return True
        return False


class EarlyStopping(_Monitored):
    """Stop when `monitor` has not improved by `min_delta` for `patience` epochs.

    Args:
        monitor: "val_loss" (default; "loss" when there is no validation data), a metric name, or
            "val_<metric>".
        patience: Epochs without improvement before stopping.
        min_delta: Smallest change that counts as an improvement.
        mode: "min", "max" or "auto" (`metric_mode`: max for accuracy, auc, dice, iou,
            sensitivity, specificity, f1 ...; min for losses, mse, mae, error rate; an unknown
            metric is an error).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 3,
        min_delta: float = 0.0,
        mode: str = "auto",
    ) -> None:
        super().__init__(monitor, min_delta, mode)
        self.patience = patience
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, run: FitRun, event: dict[str, Any]) -> None:
        if self.improved(event):
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            run.stop = True
            self.stopped_epoch = run.epoch + 1

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], state["wait"]


class KeepBest(_Monitored):
    """Keep the weights of the best epoch in a file and put them back when `fit` ends.

    The weights go to `path` (written atomically) each time `monitor` improves, so a run resumed
    with `fit(..., resume=...)` still ends with the best epoch's weights. In a distributed run the
    main rank writes and restores them.

    Args:
        path: Weight file of the best epoch (torch format, as `save(net, path, "pt")`).
        monitor: As `EarlyStopping` ("val_loss" by default).
        min_delta: Smallest change that counts as an improvement.
        mode: "min", "max" or "auto".
    """

    main_only = True

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        mode: str = "auto",
    ) -> None:
        super().__init__(monitor, min_delta, mode)
        self.path = Path(path)
        self.best_epoch: int | None = None

    def on_epoch_end(self, run: FitRun, event: dict[str, Any]) -> None:
        if not self.improved(event):
            return
        from deephealth.eddl.training.weights import save

        self.best_epoch = run.epoch + 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save(run.net, self.path, "pt")  # atomic: temp file + rename

    def on_fit_end(self, run: FitRun) -> None:
        if self.best_epoch is not None and self.path.is_file():
            from deephealth.eddl.training.weights import load

            load(run.net, self.path, "pt")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]


class LRSchedule(Callback):
    """Set the learning rate at the start of each epoch to `schedule(epoch, base_lr)`."""

    def __init__(self, schedule: Callable[[int, float], float]) -> None:
        self.schedule = schedule
        self.base_lr: float | None = None

    def on_fit_begin(self, run: FitRun) -> None:
        if run.state.spec is None:
            raise ValueError("an LR schedule needs a model built with an optimizer")
        if self.base_lr is None:
            self.base_lr = run.state.spec.lr

    def on_epoch_begin(self, run: FitRun) -> None:
        lr = float(self.schedule(run.epoch, self.base_lr))
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"the LR schedule gave {lr} for epoch {run.epoch + 1}")
        run.state.spec.set([lr], run.state.optimizer)

    def state_dict(self) -> dict[str, Any]:
        return {"base_lr": self.base_lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lr = state["base_lr"]


class StepLR(LRSchedule):
    """Multiply the learning rate by `gamma` every `step` epochs."""

    def __init__(self, step: int, gamma: float = 0.1) -> None:
        if step < 1:
            raise ValueError(f"StepLR needs step >= 1, got {step}")
        super().__init__(lambda epoch, lr: lr * gamma ** (epoch // step))


class CosineLR(LRSchedule):
    """Cosine decay from the initial learning rate to `min_lr` over `epochs` epochs."""

    def __init__(self, epochs: int, min_lr: float = 0.0) -> None:
        if epochs < 1:
            raise ValueError(f"CosineLR needs epochs >= 1, got {epochs}")
        super().__init__(
            lambda e, lr: (
                min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * min(e, epochs) / epochs))
            )
        )
