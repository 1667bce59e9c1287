"""What every pipeline task shares: model choice, batching, augmentation and batched prediction.

A task (classification, segmentation, regression) turns the in-memory dataset (`LoadedData`) into
training batches and scores predictions. The run loop (`pipelines.run`) is the same for all: it asks
the task for the model's input shape, output count and activation, the loss and the eddl metric,
the batches of an epoch, and, for a split, the predictions of a forward function (the trained torch
model or the exported ONNX model in onnxruntime), which the task scores with `pipelines.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from deephealth.pipelines.data import DataError, LoadedData, SplitData

Forward = Callable[[np.ndarray], np.ndarray]


def build_augmentations(texts: dict[str, str]) -> dict[str, Any]:
    """Parse the config's ECVL augmentation text per split (empty text: none).

    Raises:
        DataError: naming the split, when the text does not parse.
    """
    import deephealth.ecvl as ecvl

    out = {}
    for split, text in texts.items():
        if not text.strip():
            continue
        try:
            out[split] = ecvl.AugmentationFactory.create(text)
        except Exception as err:
            raise DataError(f"augmentations.{split}: {err}") from None
    return out


def augment_pair(
    aug: Any, x: np.ndarray, gt: np.ndarray | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply an ECVL augmentation jointly to a channels-first image and its ground truth."""
    xs, gs = aug.apply_arrays(
        np.moveaxis(x, 0, -1), None if gt is None else np.moveaxis(gt, 0, -1), rng
    )
    xs = np.ascontiguousarray(np.moveaxis(xs, -1, 0), dtype=np.float32)
    return xs, None if gs is None else np.ascontiguousarray(np.moveaxis(gs, -1, 0))


class Task:
    """Base class of the pipeline tasks.

    Args:
        cfg: The validated config.
        data: The loaded dataset.
    """

    kind = ""
    model_kind = "classifier"  # zoo kind the task needs: "classifier" or "dense"

    def __init__(self, cfg: dict[str, Any], data: LoadedData) -> None:
        self.cfg = cfg
        self.data = data
        self.augs = build_augmentations(cfg.get("augmentations") or {})

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

    def input_shape(self) -> list[int]:
        """Channels-first input shape of the network.

        Raises:
            DataError: when the images differ in size and no input_size (or patch size) is set.
        """
        if self.data.spatial is None:
            raise DataError(
                f"the images of dataset '{self.data.name}' differ in size; set input_size"
            )
        return [self.data.channels, *self.data.spatial]

    # -- data ------------------------------------------------------------------------------------
    def split(self, name: str) -> SplitData:
        """The loaded split `name` (empty when the dataset has none)."""
        return self.data.splits.get(name, SplitData())

    def sample(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        """Training sample `i` after augmentation: (image, target)."""
        raise NotImplementedError

    def encode(self, targets: list[Any]) -> np.ndarray:
        """Stack targets into the network's target batch."""
        raise NotImplementedError

    def epoch_size(self) -> int:
        """Training samples per epoch."""
        return len(self.split("training"))

    def batches(
        self, rng: np.random.Generator, batch_size: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Shuffled, augmented training batches of one epoch, as float32 arrays (x, y)."""
        n = len(self.split("training"))
        order = np.concatenate([rng.permutation(n) for _ in range(-(-self.epoch_size() // n))])
        order = order[: self.epoch_size()]
        for start in range(0, len(order), batch_size):
            items = [self.sample(int(i), rng) for i in order[start : start + batch_size]]
            x = np.stack([it[0] for it in items]).astype(np.float32)
            yield x, self.encode([it[1] for it in items]).astype(np.float32)

    def num_batches(self, batch_size: int) -> int:
        """Batches per training epoch."""
        return -(-self.epoch_size() // batch_size)

    # -- prediction and scoring ------------------------------------------------------------------
    def predict(self, split: str, forward: Forward, batch_size: int) -> list[np.ndarray]:
        """Network outputs for every sample of `split` (one array per sample)."""
        images = self.split(split).images
        out: list[np.ndarray] = []
        for start in range(0, len(images), batch_size):
            batch = np.stack(images[start : start + batch_size]).astype(np.float32)
            out.extend(np.asarray(forward(batch)))
        return out

    def score(self, split: str, outputs: list[np.ndarray]) -> dict[str, Any]:
        """Metrics of `outputs` against the split's targets."""
        raise NotImplementedError

    def overlays(self, split: str, outputs: list[np.ndarray], n: int = 4) -> list[dict[str, Any]]:
        """Sample cases for the report: image, target and prediction as 2D arrays (if meaningful)."""
        return []
