"""Segmentation of 2D images and 3D volumes, on whole images or by patches.

Binary masks get one sigmoid output channel, label maps with K labels a K-channel softmax (K from
one streamed pass over the ground truths). With `patch.size` set, training draws
`patch.per_image` random patches per image and epoch through ECVL's `PatchSampler` (a share
`patch.foreground_fraction` centred on a labelled voxel, the rest uniform), and prediction covers
each whole image or volume with sliding windows whose overlaps are blended (`sliding_window`).
Scores are the mean over cases of Dice, IoU, Hausdorff-95 and volume similarity, plus MIoU, and
pixel-wise rates from a confusion matrix accumulated case by case.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from deephealth.pipelines import metrics
from deephealth.pipelines.sliding_window import sliding_window_inference
from deephealth.pipelines.stream import Batch
from deephealth.pipelines.tasks.base import Forward, Scorer, Task


class PaddedPatchSampler:
    """ECVL's `PatchSampler`, after zero-padding images smaller than the patch (far side)."""

    def __init__(self, size: tuple[int, ...], pos_ratio: float) -> None:
        from deephealth.ecvl.dataset.samplers import PatchSampler

        self.numpy_size = size
        self.sampler = PatchSampler(tuple(reversed(size)), label_weighted=True, pos_ratio=pos_ratio)

    def __call__(self, x: np.ndarray, gt: np.ndarray | None, rng: np.random.Generator) -> Any:
        spatial = x.shape[:-1]
        if any(s < p for s, p in zip(spatial, self.numpy_size)):
            pads = [(0, max(0, p - s)) for s, p in zip(spatial, self.numpy_size)] + [(0, 0)]
            x = np.pad(x, pads)
            gt = None if gt is None else np.pad(gt, pads)
        return self.sampler(x, gt, rng)


def binarize_rule(gt: np.ndarray) -> np.ndarray:
    """A ground truth as a label map: binary masks stored as 0/255 become 0/1 (per image)."""
    if gt.max() > 1 and len(np.unique(gt)) <= 2:
        return (gt > 127).astype(np.float32)
    return gt.astype(np.float32)


class SegmentationScorer(Scorer):
    """Per-case metrics as the cases stream by, and the pixel confusion matrix."""

    def __init__(self, task: SegmentationTask, split: str) -> None:
        super().__init__(task, split)
        self.k = max(2, task.data.num_labels)
        self.cases: list[dict[str, Any]] = []
        self.cm = np.zeros((self.k, self.k), dtype=np.int64)

    def update(self, batch: Batch, outputs: Any) -> None:
        for j, out in enumerate(outputs):
            pred = self.task.labels(np.asarray(out))
            truth = np.asarray(batch.y[j][0]).astype(np.uint8)
            self.cases.append(metrics.segmentation_metrics(pred, truth, self.k))
            self.cm += metrics.confusion_matrix(truth.ravel(), pred.ravel(), self.k)
            if len(self.overlays) < self.max_overlays:
                img, tgt = batch.x[j][0], truth
                if img.ndim == 3:  # volume: the slice with the most reference label
                    z = int(np.argmax(tgt.reshape(tgt.shape[0], -1).sum(1)))
                    img, tgt, pred = img[z], tgt[z], pred[z]
                self.overlays.append({
                    "name": self.task.data.sample_name(batch.indices[j]), "image": img,
                    "target": tgt, "prediction": pred, "kind": "segmentation",
                })  # fmt: skip

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("dice", "iou", "miou", "hausdorff95", "volume_similarity"):
            values = np.array([c[key] for c in self.cases], dtype=float)
            finite = values[np.isfinite(values)]
            out[key] = float(finite.mean()) if finite.size else float("inf")
        pixel = metrics.confusion_summary(self.cm)
        out["pixel"] = {key: pixel[key] for key in (
            "accuracy", "error_rate", "sensitivity", "specificity", "confusion_matrix")}  # fmt: skip
        out["cases"] = len(self.cases)
        out["dice_per_case"] = [round(c["dice"], 5) for c in self.cases]
        return out


class SegmentationTask(Task):
    """Image or volume segmentation, optionally by patches with sliding-window inference."""

    kind = "segmentation"
    model_kind = "dense"

    @property
    def patch(self) -> tuple[int, ...] | None:
        """Patch size, or None for whole-image training."""
        size = (self.cfg.get("patch") or {}).get("size")
        return tuple(size) if size else None

    def prepare(self) -> None:
        data = self.data
        if data.num_labels_given:
            data.num_labels = int(data.num_labels_given)
        else:
            peak = 0
            for split in data.splits:  # one streamed pass over the masks: the label count
                for gt in data.read_targets(split):
                    peak = max(peak, int(binarize_rule(gt[..., :1]).max()))
            data.num_labels = max(2, peak + 1)

        def target(x: np.ndarray, gt: np.ndarray | None) -> tuple[Any, Any]:
            return x, None if gt is None else binarize_rule(gt[..., :1])

        data.target_fn = target
        sampler = None
        if self.patch is not None:
            fraction = float(self.cfg["patch"]["foreground_fraction"])
            sampler = PaddedPatchSampler(self.patch, fraction)
        data.start(gt_interp="nearest", patch_sampler=sampler)

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
        n = self.data.split_size("training")
        return n * int(self.cfg["patch"]["per_image"]) if self.patch else n

    def encode(self, y: np.ndarray) -> np.ndarray:
        t = y.astype(np.int64)  # (N, 1, ...)
        if self.num_outputs() == 1:
            return (t > 0).astype(np.float32)
        onehot = np.eye(self.num_outputs(), dtype=np.float32)[t[:, 0]]  # (N, ..., K)
        return np.moveaxis(onehot, -1, 1)

    def check_batch(self, n: int = 4) -> np.ndarray:
        if self.patch is None:
            return super().check_batch(n)
        split = self.check_split()
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

    def outputs(self, split: str, forward: Forward, batch_size: int) -> Iterator[tuple[Batch, Any]]:
        if self.patch is None:
            yield from super().outputs(split, forward, batch_size)
            return
        patch = self.cfg["patch"]
        for batch in self.data.batches(split, 1):  # whole images/volumes, one at a time
            out = sliding_window_inference(
                batch.x[0], self.patch, forward, patch["overlap"], patch["blend"], batch_size
            )
            yield batch, [out]

    def labels(self, output: np.ndarray) -> np.ndarray:
        """Label map (spatial) of one network output (K, ...)."""
        if output.shape[0] == 1:
            return (output[0] > 0.5).astype(np.uint8)
        return output.argmax(axis=0).astype(np.uint8)

    def scorer(self, split: str) -> Scorer:
        return SegmentationScorer(self, split)
