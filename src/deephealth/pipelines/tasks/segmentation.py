"""Segmentation of 2D images and 3D volumes, on whole images or by patches.

Binary masks get one sigmoid output channel, label maps with K labels a K-channel softmax. With
`patch.size` set, training draws `patch.per_image` random patches per image and epoch (a share
`patch.foreground_fraction` centred on a labelled voxel, the rest uniform), and prediction covers
each whole image or volume with sliding windows whose overlaps are blended (`sliding_window`).
Scores are the mean over cases of Dice, IoU, Hausdorff-95 and volume similarity, plus MIoU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deephealth.pipelines import metrics
from deephealth.pipelines.sliding_window import sliding_window_inference
from deephealth.pipelines.tasks.base import Forward, Task, augment_pair


def random_patch(
    image: np.ndarray,
    target: np.ndarray,
    size: tuple[int, ...],
    rng: np.random.Generator,
    foreground: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut one patch of `size` from a channels-first image and its label map.

    Args:
        image: (C, *spatial).
        target: (1, *spatial) label map.
        size: Patch size per spatial axis.
        rng: Random generator.
        foreground: Centre the patch on a random labelled voxel (uniform when there is none).

    Returns:
        (image patch, target patch); images smaller than the patch are zero-padded.
    """
    spatial = image.shape[1:]
    if any(s < p for s, p in zip(spatial, size)):
        pads = [(0, 0)] + [(0, max(0, p - s)) for s, p in zip(spatial, size)]
        image, target = np.pad(image, pads), np.pad(target, pads)
        spatial = image.shape[1:]
    hi = [s - p for s, p in zip(spatial, size)]
    if foreground:
        fg = np.flatnonzero(target[0])
        if fg.size:
            centre = np.unravel_index(fg[rng.integers(fg.size)], spatial)
            start = [int(np.clip(c - p // 2, 0, h)) for c, p, h in zip(centre, size, hi)]
        else:
            start = [int(rng.integers(h + 1)) for h in hi]
    else:
        start = [int(rng.integers(h + 1)) for h in hi]
    sl = (slice(None), *[slice(s, s + p) for s, p in zip(start, size)])
    return image[sl], target[sl]


class SegmentationTask(Task):
    """Image or volume segmentation, optionally by patches with sliding-window inference."""

    kind = "segmentation"
    model_kind = "dense"

    @property
    def patch(self) -> tuple[int, ...] | None:
        """Patch size, or None for whole-image training."""
        size = (self.cfg.get("patch") or {}).get("size")
        return tuple(size) if size else None

    def default_model(self) -> str:
        return "unet3d" if self.data.dims == 3 else "unet"

    def num_outputs(self) -> int:
        return 1 if self.data.num_labels <= 2 else self.data.num_labels

    def activation(self) -> str:
        return "sigmoid" if self.num_outputs() == 1 else "softmax"

    def default_loss(self) -> str:
        return "binary_cross_entropy" if self.num_outputs() == 1 else "softmax_cross_entropy"

    def eddl_metric(self) -> str:
        return "dice"

    def input_shape(self) -> list[int]:
        if self.patch is not None:
            return [self.data.channels, *self.patch]
        return super().input_shape()

    def epoch_size(self) -> int:
        n = len(self.split("training"))
        return n * int(self.cfg["patch"]["per_image"]) if self.patch else n

    def sample(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        s = self.split("training")
        x, t = s.images[i], s.targets[i]
        if self.patch is not None:
            fg = rng.random() < float(self.cfg["patch"]["foreground_fraction"])
            x, t = random_patch(x, t, self.patch, rng, fg)
        aug = self.augs.get("training")
        if aug is not None:
            x, t = augment_pair(aug, x, t, rng)
        return x, t

    def encode(self, targets: list[Any]) -> np.ndarray:
        t = np.stack(targets).astype(np.int64)  # (N, 1, ...)
        if self.num_outputs() == 1:
            return (t > 0).astype(np.float32)
        onehot = np.eye(self.num_outputs(), dtype=np.float32)[t[:, 0]]  # (N, ..., K)
        return np.moveaxis(onehot, -1, 1)

    def predict(self, split: str, forward: Forward, batch_size: int) -> list[np.ndarray]:
        if self.patch is None:
            return super().predict(split, forward, batch_size)
        patch = self.cfg["patch"]
        return [
            sliding_window_inference(
                img, self.patch, forward, patch["overlap"], patch["blend"], batch_size
            )
            for img in self.split(split).images
        ]

    def labels(self, output: np.ndarray) -> np.ndarray:
        """Label map (spatial) of one network output (K, ...)."""
        if output.shape[0] == 1:
            return (output[0] > 0.5).astype(np.uint8)
        return output.argmax(axis=0).astype(np.uint8)

    def score(self, split: str, outputs: list[np.ndarray]) -> dict[str, Any]:
        targets = self.split(split).targets
        k = max(2, self.data.num_labels)
        cases = [
            metrics.segmentation_metrics(self.labels(o), t[0], k) for o, t in zip(outputs, targets)
        ]
        keys = ("dice", "iou", "miou", "hausdorff95", "volume_similarity")
        out: dict[str, Any] = {}
        for key in keys:
            values = np.array([c[key] for c in cases], dtype=float)
            finite = values[np.isfinite(values)]
            out[key] = float(finite.mean()) if finite.size else float("inf")
        pred_all = np.concatenate([self.labels(o).ravel() for o in outputs])
        true_all = np.concatenate([t[0].ravel() for t in targets])
        pixel = metrics.classification_metrics(true_all, pred_all, k)
        out["pixel"] = {key: pixel[key] for key in (
            "accuracy", "error_rate", "sensitivity", "specificity", "confusion_matrix")}  # fmt: skip
        out["cases"] = len(cases)
        out["dice_per_case"] = [round(c["dice"], 5) for c in cases]
        return out

    def overlays(self, split: str, outputs: list[np.ndarray], n: int = 4) -> list[dict[str, Any]]:
        s = self.split(split)
        items = []
        for i in range(min(n, len(outputs))):
            img, tgt, pred = s.images[i][0], s.targets[i][0], self.labels(outputs[i])
            if img.ndim == 3:  # volume: the slice with the most reference label
                z = int(np.argmax(tgt.reshape(tgt.shape[0], -1).sum(1)))
                img, tgt, pred = img[z], tgt[z], pred[z]
            items.append(
                {"name": s.names[i], "image": img, "target": tgt, "prediction": pred,
                 "kind": "segmentation"}
            )  # fmt: skip
        return items
