"""The streaming `Task` interface every pipeline task implements (and new task types follow).

A task turns a dataset opened for streaming (`pipelines.stream.StreamingDataset`) into what the
one run loop (`pipelines.run`) needs; it never holds a split in memory. What a task defines:

- **model**: `default_model()`, `num_outputs()`, `activation()`, `default_loss()`,
  `eddl_metric()` (the running metric of `eddl.fit`), `input_shape()`; `model_kind` picks the zoo.
- **data** (`prepare()`, called once before training): check the labels, run any dataset-level
  scan it needs (streamed: label count, target scale), set `data.target_fn` (per-image target
  conversion, runs before patches/augmentations, never random) and call `data.start(...)`
  (interpolation of the targets, patch sampler). `epoch_size()` is the training samples per
  epoch (a sample may occur several times, each with its own random draws); `encode(y)` turns a
  batch of raw targets into the network's targets (`encode_batch(batch)` when the encoding needs
  more of the batch than its targets, e.g. the samples' indices).
- **scoring**, per batch: `scorer(split)` returns a `Scorer` whose `update(batch, outputs)`
  accumulates a streamed batch with the network's outputs for it and whose `result()` gives the
  split's metrics (the same values as over the whole split at once); `Scorer.overlays` keeps a few
  cases for the report. `outputs(split, forward, batch_size)` yields `(Batch, outputs)`; override
  it when prediction is not one forward per batch (sliding windows over whole volumes).
- **export**: `export(net, path)` writes the ONNX file (default: the network as it is; a detector
  appends its post-processing), `output_difference(ref, got)` compares the trained model's and
  the exported model's outputs on the same batch for the onnxruntime check.
- `evaluate(split, forward, batch_size)` streams a split through `forward` (the trained model or
  the exported ONNX model in onnxruntime) and returns `scorer.result()`.

A new task type (signals, detection, clinical data, report generation) subclasses `Task`, gives
these methods, and registers its class in `pipelines.tasks.TASKS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.pipelines.data import DataError
from deephealth.pipelines.stream import Batch, StreamingDataset

Forward = Callable[[Any], np.ndarray]  # model inputs (one array, or a list) -> outputs


class Scorer:
    """Accumulates the metrics of one split, batch by batch.

    Attributes:
        overlays: Up to `max_overlays` report cases (dicts with name, image, target, prediction).
    """

    max_overlays = 4

    def __init__(self, task: Task, split: str) -> None:
        self.task, self.split = task, split
        self.overlays: list[dict[str, Any]] = []

    def update(self, batch: Batch, outputs: np.ndarray | list[np.ndarray]) -> None:
        """Add a batch and the network's outputs for it."""
        raise NotImplementedError

    def result(self) -> dict[str, Any]:
        """The split's metrics so far."""
        raise NotImplementedError


class Task:
    """Base class of the pipeline tasks.

    Args:
        cfg: The validated config.
        data: The dataset opened for streaming.
    """

    kind = ""
    model_kind = "classifier"  # zoo kind the task needs: "classifier" or "dense"

    def __init__(self, cfg: dict[str, Any], data: StreamingDataset) -> None:
        self.cfg = cfg
        self.data = data
        self.prepare()

    # -- model -----------------------------------------------------------------------------------
    def default_model(self) -> str:
        """Zoo model used when the config names none."""
        raise NotImplementedError

    def num_outputs(self) -> int:
        """Output channels / classes of the network."""
        raise NotImplementedError

    def activation(self) -> str:
        """Output activation of the network."""
        raise NotImplementedError

    def default_loss(self) -> str:
        """Loss used when the config names none (pyeddl name)."""
        raise NotImplementedError

    def eddl_metric(self) -> str:
        """Metric that eddl tracks per batch during training."""
        raise NotImplementedError

    def model_args(self) -> dict[str, Any]:
        """Extra keyword arguments of the zoo constructor (e.g. the clinical-values width)."""
        return {}

    def after_build(self, net: Any) -> None:
        """Adjust a freshly built (not imported) network before training, e.g. an output
        layer's initial biases; nothing by default."""

    def input_shape(self) -> list[int]:
        """Channels-first input shape of the network."""
        return [self.data.channels, *self.data.spatial]

    # -- data ------------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Check labels, scan what the task needs, set `data.target_fn`, start the dataset."""
        self.data.start()

    def epoch_size(self) -> int:
        """Training samples per epoch."""
        return self.data.split_size("training")

    def encode(self, y: np.ndarray) -> np.ndarray:
        """A batch of raw targets as the network's targets (float32)."""
        raise NotImplementedError

    def inputs(self, batch: Batch) -> Any:
        """The network's inputs for a batch: the images, or a list (image + clinical values)."""
        return batch.x

    def encode_batch(self, batch: Batch) -> np.ndarray:
        """The network's targets of a training batch (default: `encode(batch.y)`)."""
        if batch.y is None:
            raise DataError(f"dataset {self.data.path}: split {batch.split} has no targets")
        return self.encode(batch.y)

    def train_batch(self, batch: Batch) -> tuple[Any, np.ndarray]:
        """(network inputs, network targets) of a training batch."""
        return self.inputs(batch), self.encode_batch(batch)

    def fitted_state(self) -> dict[str, Any]:
        """What the task learned from the training split and evaluation needs again (stored in
        the report's `data.task_state`; given back as the config's `fitted_state`)."""
        return {}

    def save_sidecars(self, onnx_path: Path) -> None:
        """Write what serving needs beside the exported model besides its preprocessing (e.g.
        the fitted clinical-values encoder); nothing by default."""

    def report_extras(
        self, split: str, forward: Forward, batch_size: int, metrics: dict[str, Any]
    ) -> dict[str, Any]:
        """Task-specific report sections computed with the exported model (none by default)."""
        return {}

    def num_batches(self, batch_size: int) -> int:
        """Batches per training epoch (one process)."""
        return -(-self.epoch_size() // batch_size)

    @property
    def patch(self) -> tuple[int, ...] | None:
        """Patch size (`patch.size` of the config), or None for whole-image training."""
        size = (self.cfg.get("patch") or {}).get("size")
        return tuple(size) if size else None

    def check_split(self) -> str:
        """The split the ONNX check reads: validation, else training, else test (a server's
        held-out set)."""
        for split in ("validation", "training", "test"):
            if self.data.split_size(split):
                return split
        return "training"

    def check_batch(self, n: int = 4) -> Any:
        """A few model inputs (validation, else training, else test) for the ONNX check; with
        patches, the patch-sized corner of a few images (zeros when every image is smaller)."""
        split = self.check_split()
        if self.patch is None:
            for batch in self.data.batches(split, n):
                return self.inputs(batch)
            raise DataError(f"dataset {self.data.path}: split {split} is empty")
        size = self.patch
        images = []
        for batch in self.data.batches(split, 1):
            im = batch.x[0][(slice(None), *[slice(0, s) for s in size])]
            if im.shape[1:] == tuple(size):
                images.append(im)
            if len(images) == n:
                break
        if not images:
            images = [np.zeros([self.data.channels, *size], np.float32)]
        return np.stack(images).astype(np.float32)

    # -- export ----------------------------------------------------------------------------------
    def export(self, net: Any, path: str) -> None:
        """Write the trained network `net` as the ONNX file `path`."""
        import deephealth.eddl as eddl

        eddl.save_net_to_onnx_file(net, path)

    def output_difference(self, ref: Any, got: Any) -> float:
        """Largest difference between the trained model's outputs `ref` and the exported model's
        `got` on the same batch (inf when they do not even have the same shape)."""
        ref, got = np.asarray(ref), np.asarray(got)
        return float(np.abs(ref - got).max()) if ref.shape == got.shape else float("inf")

    # -- prediction and scoring ------------------------------------------------------------------
    def outputs(self, split: str, forward: Forward, batch_size: int) -> Iterator[tuple[Batch, Any]]:
        """Stream `split` in order: each batch with the network's outputs for it."""
        for batch in self.data.batches(split, batch_size):
            yield batch, np.asarray(forward(self.inputs(batch)))

    def scorer(self, split: str) -> Scorer:
        """A fresh accumulator of the metrics of `split`."""
        raise NotImplementedError

    def evaluate(self, split: str, forward: Forward, batch_size: int) -> dict[str, Any]:
        """Metrics of `forward` on `split`, streamed batch by batch."""
        return self.evaluate_with_overlays(split, forward, batch_size)[0]

    def evaluate_with_overlays(
        self, split: str, forward: Forward, batch_size: int
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """As `evaluate`, with the report's sample cases."""
        scorer = self.scorer(split)
        for batch, out in self.outputs(split, forward, batch_size):
            scorer.update(batch, out)
        return scorer.result(), scorer.overlays


class SoftmaxClassHead:
    """The output head of a one-class-per-sample task: one softmax output per class of the
    dataset (at least two), softmax cross-entropy, categorical accuracy. Mixed in before `Task`."""

    data: StreamingDataset

    def num_outputs(self) -> int:
        return max(2, len(self.data.classes))

    def activation(self) -> str:
        return "softmax"

    def default_loss(self) -> str:
        return "softmax_cross_entropy"

    def eddl_metric(self) -> str:
        return "categorical_accuracy"
