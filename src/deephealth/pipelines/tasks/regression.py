"""Image-to-image regression (as UC3's synthesis of perfusion maps from reduced data): the network
maps an image to a target image of the same size with a linear output; scored by MSE, MAE and PSNR
on targets scaled to [0, 1] by the training set's maximum (found by one streamed pass)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deephealth.pipelines.stream import Batch
from deephealth.pipelines.tasks.base import Scorer, Task


class RegressionScorer(Scorer):
    """Sums of squared and absolute errors, in float64."""

    def __init__(self, task: Task, split: str) -> None:
        super().__init__(task, split)
        self.sq = self.ab = 0.0
        self.n = 0

    def update(self, batch: Batch, outputs: Any) -> None:
        t = np.asarray(batch.y, dtype=np.float64)
        p = np.asarray(outputs, dtype=np.float64)
        self.sq += float(np.sum((p - t) ** 2))
        self.ab += float(np.sum(np.abs(p - t)))
        self.n += t.size
        for k in range(len(batch.indices)):
            if len(self.overlays) < self.max_overlays:
                self.overlays.append({
                    "name": self.task.data.sample_name(batch.indices[k]), "image": _mid(batch.x[k]),
                    "target": _mid(t[k]), "prediction": _mid(p[k]), "kind": "regression",
                })  # fmt: skip

    def result(self) -> dict[str, Any]:
        mse = self.sq / self.n if self.n else float("nan")
        return {
            "mse": mse,
            "mae": self.ab / self.n if self.n else float("nan"),
            "psnr": float(10 * np.log10(1.0 / mse)) if mse > 0 else float("inf"),
        }


class RegressionTask(Task):
    """Image-to-image regression."""

    kind = "regression"
    model_kind = "dense"

    def prepare(self) -> None:
        data = self.data
        for split in data.splits:
            data.check_labels(split, "image")
        data.start(gt_interp="linear")
        if data.target_scale_given is None:  # one streamed pass over the training targets
            peak = 0.0
            for batch in data.batches("training", 8):
                peak = max(peak, float(np.abs(batch.y).max()))
            data.target_scale = peak or 1.0
        else:
            data.target_scale = float(data.target_scale_given)
        scale = data.target_scale
        first = next(data.batches("training", 1))
        self._outputs = int(first.y.shape[1])

        def target(x: np.ndarray, gt: np.ndarray | None) -> tuple[Any, Any]:
            return x, None if gt is None else gt.astype(np.float32) / scale

        data.target_fn = target

    def default_model(self) -> str:
        return "unet3d" if self.data.dims == 3 else "unet"

    def num_outputs(self) -> int:
        return self._outputs

    def activation(self) -> str:
        return "linear"

    def default_loss(self) -> str:
        return "mse"

    def eddl_metric(self) -> str:
        return "mae"

    def encode(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float32, copy=False)

    def scorer(self, split: str) -> Scorer:
        return RegressionScorer(self, split)


def _mid(x: np.ndarray) -> np.ndarray:
    """First channel of a (C, H, W) image, or its middle slice for (C, D, H, W)."""
    x = np.asarray(x)[0]
    return x[x.shape[0] // 2] if x.ndim == 3 else x
