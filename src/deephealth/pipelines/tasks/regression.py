"""Image-to-image regression (as UC3's synthesis of perfusion maps from reduced data): the network
maps an image to a target image of the same size with a linear output; scored by MSE, MAE and PSNR
on targets scaled to [0, 1] by the training set's maximum."""

from __future__ import annotations

from typing import Any

import numpy as np

from deephealth.pipelines.tasks.base import Task, augment_pair


class RegressionTask(Task):
    """Image-to-image regression."""

    kind = "regression"
    model_kind = "dense"

    def default_model(self) -> str:
        return "unet3d" if self.data.dims == 3 else "unet"

    def num_outputs(self) -> int:
        return int(self.split("training").targets[0].shape[0])

    def activation(self) -> str:
        return "linear"

    def default_loss(self) -> str:
        return "mse"

    def eddl_metric(self) -> str:
        return "mae"

    def sample(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        s = self.split("training")
        x, t = s.images[i], s.targets[i]
        aug = self.augs.get("training")
        if aug is not None:
            x, t = augment_pair(aug, x, t, rng)
        return x, t

    def encode(self, targets: list[Any]) -> np.ndarray:
        return np.stack(targets).astype(np.float32)

    def score(self, split: str, outputs: list[np.ndarray]) -> dict[str, Any]:
        t = np.stack(self.split(split).targets).astype(np.float64)
        p = np.stack(outputs).astype(np.float64)
        mse = float(np.mean((p - t) ** 2))
        return {
            "mse": mse,
            "mae": float(np.mean(np.abs(p - t))),
            "psnr": float(10 * np.log10(1.0 / mse)) if mse > 0 else float("inf"),
        }

    def overlays(self, split: str, outputs: list[np.ndarray], n: int = 4) -> list[dict[str, Any]]:
        s = self.split(split)
        return [
            {"name": s.names[i], "image": _mid(s.images[i]), "target": _mid(s.targets[i]),
             "prediction": _mid(outputs[i]), "kind": "regression"}
            for i in range(min(n, len(outputs)))
        ]  # fmt: skip


def _mid(x: np.ndarray) -> np.ndarray:
    """First channel of a (C, H, W) image, or its middle slice for (C, D, H, W)."""
    x = np.asarray(x)[0]
    return x[x.shape[0] // 2] if x.ndim == 3 else x
