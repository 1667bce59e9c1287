"""The ``detection`` task: boxes of objects in 2D images (the zoo's FCOS-style detector) and in
3D volumes (the CenterNet-style nodule detector, trained on patches, run by sliding windows).

Data: each sample's `boxes` in the dataset YAML (`docs/dataset-format.md`); classes are the
dataset's `classes` (one class "object" when it lists none). The boxes travel through the loader
as ground-truth masks, one channel per box (`DLDataset`'s `gt_fn`), so the resize of `input_size`
and every geometric augmentation move them with the image (the rule of
`ecvl.augment.boxes`: clipped to the image, dropped when nothing remains). `encode_batch` turns
the transformed masks back into boxes and the boxes into FCOS target maps.

Prediction: the trained network's output maps are decoded with `decode.decode_fcos` (torch);
the exported ONNX file carries the same decoding and `NonMaxSuppression` (`onnx_nms`), so the
exported model returns final boxes and the same scorer reads both. Scores: COCO mAP@[.5:.95],
mAP@0.5 and mAP@0.75 (equal to pycocotools), the precision-recall curve at IoU 0.5, and the FROC
curve with the LUNA16 competition performance metric (a detection hits an object when its centre
lies within the object's radius, the half mean side of its box). Coordinates are those of the
model's input (after `input_size`).

Volumes need `patch.size`: training draws `patch.per_image` patches per volume and epoch (a share
`patch.foreground_fraction` centred on a box), the targets are the boxes' centres and diameters
(`centernet3d.encode_centres`), and prediction slides patch-sized windows over each whole volume
(`patch.overlap`) and merges their detections (`centernet3d.detect_volume`); the exported ONNX
file carries the peak finding (`onnx_peaks`: per patch, final centres, diameters, scores and
labels) and the windows' merging runs in numpy (`serving.detection3d`, no torch). A newly built
3D detector starts its heat-map at `detection.heat_prior` (`centernet3d.set_heat_prior`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from deephealth.pipelines.data import DataError
from deephealth.pipelines.detection_metrics import box_iou, coco_map, froc
from deephealth.pipelines.stream import Batch
from deephealth.pipelines.tasks.base import Forward, Scorer, Task

Detections = dict[str, np.ndarray]


def pr_curve(
    truth: list[Detections], preds: list[Detections], iou: float = 0.5
) -> dict[str, list[float]]:
    """Precision and recall of the detections ranked by score (all classes pooled; a detection
    is a hit when it matches a free object of its class with IoU >= `iou`, greedy by score)."""
    scores, hits = [], []
    n_gt = 0
    for t, p in zip(truth, preds):
        n_gt += len(t["boxes"])
        order = np.argsort(-p["scores"], kind="mergesort")
        taken = np.zeros(len(t["boxes"]), dtype=bool)
        ious = box_iou(p["boxes"][order], t["boxes"]) if len(order) else np.zeros((0, 0))
        for row, k in enumerate(order):
            ok = (t["labels"] == p["labels"][k]) & ~taken
            cand = np.where(ok, ious[row], -1.0) if ious.size else np.zeros(0)
            best = int(np.argmax(cand)) if cand.size else -1
            hit = best >= 0 and cand[best] >= iou
            if hit:
                taken[best] = True
            scores.append(float(p["scores"][k]))
            hits.append(hit)
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    tp = np.cumsum(np.asarray(hits, dtype=float)[order])
    precision = tp / np.arange(1, len(tp) + 1) if len(tp) else np.zeros(0)
    recall = tp / max(n_gt, 1)
    return {"precision": precision.round(5).tolist(), "recall": recall.round(5).tolist()}


def _centres(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres (K, nd) and diameters (mean side, K) of corner boxes."""
    nd = boxes.shape[1] // 2 if boxes.ndim == 2 and boxes.shape[1] else 2
    b = boxes.reshape(-1, 2 * nd)
    return (b[:, :nd] + b[:, nd:]) / 2, (b[:, nd:] - b[:, :nd]).mean(axis=1)


def _slice(
    volume: np.ndarray, truth: np.ndarray, pred: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The axial slice through the first true box's centre (the middle one without boxes) and
    the 2D boxes of the 3D boxes crossing it."""
    z = int((truth[0, 2] + truth[0, 5]) / 2) if len(truth) else volume.shape[0] // 2

    def cut(b: np.ndarray) -> np.ndarray:
        return (b[:, 2] <= z + 0.5) & (b[:, 5] >= z + 0.5)

    keep = cut(pred)
    return volume[z], truth[cut(truth)][:, [0, 1, 3, 4]], pred[keep][:, [0, 1, 3, 4]], scores[keep]


class DetectionScorer(Scorer):
    """Keeps the boxes of every image of the split; mAP, PR and FROC at `result()`."""

    def __init__(self, task: DetectionTask, split: str) -> None:
        super().__init__(task, split)
        self.truth: list[Detections] = []
        self.preds: list[Detections] = []

    def update(self, batch: Batch, outputs: Any) -> None:
        task = self.task
        assert isinstance(task, DetectionTask)
        for j, det in enumerate(outputs):
            truth = task.truth(batch, j)
            self.truth.append(truth)
            self.preds.append(det)
            if len(self.overlays) < self.max_overlays:
                shown = det["scores"] >= task.display_threshold
                image, target, pred, scores = batch.x[j][0], truth["boxes"], det["boxes"][shown], \
                    det["scores"][shown]  # fmt: skip
                if image.ndim == 3:  # a volume: the slice through the first object's centre
                    image, target, pred, scores = _slice(image, target, pred, scores)
                self.overlays.append({
                    "name": task.data.sample_name(batch.indices[j]), "image": image,
                    "target": target, "prediction": pred, "scores": scores, "kind": "detection",
                })  # fmt: skip

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {"images": len(self.truth)}
        out["objects"] = int(sum(len(t["boxes"]) for t in self.truth))
        out["detections"] = int(sum(len(p["boxes"]) for p in self.preds))
        if not self.truth:
            return out
        m = coco_map(self.truth, self.preds)
        out.update(map=m["map"], map50=m["map50"], map75=m["map75"])
        out["per_class_map"] = {str(k): v for k, v in m["per_class"].items()}
        out["pr_curve"] = pr_curve(self.truth, self.preds)
        lesions, dets = [], []
        for t, p in zip(self.truth, self.preds):
            centres, diameters = _centres(t["boxes"])
            lesions.append({"centers": centres, "diameters": diameters})
            dets.append({"centers": _centres(p["boxes"])[0], "scores": p["scores"]})
        f = froc(lesions, dets)
        out["cpm"] = f["cpm"]
        out["froc_curve"] = {
            "fps": np.round(f["fps"], 5).tolist(),
            "sensitivities": np.round(f["sensitivities"], 5).tolist(),
        }
        return out


class DetectionTask(Task):
    """2D object detection with the FCOS-style detector (see the module docstring)."""

    kind = "detection"
    display_threshold = 0.3  # report overlays show the boxes scoring at least this
    zoo_kinds = ("detector", "detector3d")  # what `model_kind` may be, before the data is known

    @property
    def model_kind(self) -> str:  # type: ignore[override]
        """Zoo kind: "detector" for images, "detector3d" for volumes."""
        return "detector3d" if self.data.dims == 3 else "detector"

    def prepare(self) -> None:
        data = self.data
        if data.dims == 3 and self.patch is None:
            raise DataError(
                f"dataset {data.path}: detection in volumes trains on patches: set patch.size"
            )
        most = 0
        for split, indices in data.splits.items():
            for index in indices:
                boxes = data.samples[index].boxes_
                if boxes is None:
                    loc = data.samples[index].location_[0]
                    raise DataError(
                        f"dataset {data.path}, split {split}: sample {index} ({loc}) has no "
                        "boxes (give `boxes: []` for an image without objects)"
                    )
                most = max(most, len(boxes))
        self.max_boxes = max(1, most)
        data.num_labels = self.num_outputs()
        sampler = None
        if self.patch is not None:
            from deephealth.pipelines.tasks.segmentation import PaddedPatchSampler

            sampler = PaddedPatchSampler(
                self.patch, float(self.cfg["patch"]["foreground_fraction"])
            )
        data.start(gt_interp="linear", patch_sampler=sampler, gt_fn=self._box_masks)

    def _box_masks(self, index: int, spatial: tuple[int, ...]) -> np.ndarray:
        """A sample's boxes as masks (H, W, max_boxes), one channel per box, the rest empty."""
        from deephealth.ecvl.augment.boxes import boxes_to_masks

        boxes = [b for b, _ in self.data.samples[index].boxes_ or []]
        out = np.zeros((*spatial, self.max_boxes), dtype=np.uint8)
        if boxes:
            out[..., : len(boxes)] = boxes_to_masks(boxes, spatial)
        return out

    @property
    def stride(self) -> int:
        """Output stride of the detector."""
        return int(self.cfg["model_params"].get("stride", 2 if self.data.dims == 3 else 4))

    @property
    def offsets(self) -> bool:
        """Whether the 3D detector has the offset head (``model_params: {offsets: true}``)."""
        return self.data.dims == 3 and bool(self.cfg["model_params"].get("offsets", False))

    def default_model(self) -> str:
        return "centernet3d" if self.data.dims == 3 else "fcos"

    def num_outputs(self) -> int:
        return max(1, len(self.data.classes))

    def activation(self) -> str:
        return ""

    def default_loss(self) -> str:
        if self.data.dims == 3:
            return "centernet_offsets" if self.offsets else "centernet"
        return "fcos"

    def input_shape(self) -> list[int]:
        if self.patch is not None:
            return [self.data.channels, *self.patch]
        return super().input_shape()

    def epoch_size(self) -> int:
        n = self.data.split_size("training")
        return n * int(self.cfg["patch"]["per_image"]) if self.patch else n

    def eddl_metric(self) -> str:
        return ""

    def truth(self, batch: Batch, j: int) -> Detections:
        """Boxes and class labels of sample `j` of a batch, after its transformations."""
        from deephealth.ecvl.augment.boxes import boxes_of_masks

        assert batch.y is not None
        boxes, keep = boxes_of_masks(np.moveaxis(batch.y[j], 0, -1))
        given = self.data.samples[batch.indices[j]].boxes_ or []
        labels = np.array([k for _, k in given] + [0] * (len(keep) - len(given)), dtype=np.int64)
        return {"boxes": boxes[keep], "labels": labels[keep]}

    def encode_batch(self, batch: Batch) -> np.ndarray:
        from deephealth.eddl.zoo.detection.centernet3d import encode_centres
        from deephealth.eddl.zoo.detection.targets import encode_fcos

        spatial = tuple(int(d) for d in batch.x.shape[2:])
        maps = []
        for j in range(len(batch.x)):
            t = self.truth(batch, j)
            if len(spatial) == 3:
                centres, diameters = _centres(t["boxes"])
                maps.append(encode_centres(centres[:, ::-1], diameters, t["labels"], spatial,
                                           self.num_outputs(), self.stride, self.offsets))  # fmt: skip
            else:
                hw = (spatial[0], spatial[1])
                maps.append(
                    encode_fcos(t["boxes"], t["labels"], hw, self.num_outputs(), self.stride)
                )
        return np.stack(maps)

    def encode(self, y: np.ndarray) -> np.ndarray:
        raise DataError("detection targets need the batch's samples: use encode_batch")

    # -- export and prediction ---------------------------------------------------------------
    def _nms(self) -> tuple[float, float, int]:
        d = self.cfg["detection"]
        return float(d["iou_threshold"]), float(d["score_threshold"]), int(d["max_per_class"])

    def after_build(self, net: Any) -> None:
        prior = self.cfg["detection"].get("heat_prior")
        if self.data.dims == 3 and prior is not None and self.cfg["model"] in (None, "centernet3d"):
            from deephealth.eddl.zoo.detection.centernet3d import set_heat_prior

            set_heat_prior(net, float(prior))

    def _peak_threshold(self) -> float:
        """Heat-map threshold of the 3D detector's peaks (the score threshold, at least 0.1)."""
        return max(self._nms()[1], 0.1)

    def export(self, net: Any, path: str) -> None:
        if self.data.dims == 3:  # the network with its peak finding; merging runs in numpy
            from deephealth.eddl.zoo.detection.onnx_peaks import save_detector3d

            save_detector3d(net, path, self.num_outputs(), self.stride, self._peak_threshold(),
                            overlap=float(self.cfg["patch"]["overlap"]))  # fmt: skip
            return
        from deephealth.eddl.zoo.detection.onnx_nms import save_detector

        save_detector(net, path, self.num_outputs(), self.stride, *self._nms())

    def detections(self, out: Any, n: int) -> list[Detections]:
        """Per-image detections of `n` images from the network's output maps (decoded in torch)
        or from the exported model's (boxes, scores, labels, image) outputs."""
        if isinstance(out, np.ndarray):
            import torch

            from deephealth.eddl.zoo.detection.decode import decode_fcos

            dec = decode_fcos(torch.from_numpy(out), self.num_outputs(), self.stride, *self._nms())
            boxes, scores, labels, image = (dec[k].numpy() for k in ("boxes", "scores", "labels",
                                                                      "image"))  # fmt: skip
        else:
            boxes, scores, labels, image = (np.asarray(a) for a in out)
        return [
            {
                "boxes": boxes[image == i].astype(np.float64).reshape(-1, 4),
                "scores": scores[image == i].astype(np.float64),
                "labels": labels[image == i].astype(np.int64),
            }
            for i in range(n)
        ]

    def output_difference(self, ref: Any, got: Any) -> float:
        if self.data.dims == 3:  # the maps' peaks (numpy) against the graph's
            from deephealth.serving.detection3d import decode_centres, peaks_of_outputs

            thr = self._peak_threshold()
            a = decode_centres(np.asarray(ref), self.num_outputs(), self.stride, thr)
            b = peaks_of_outputs(got, thr)
            for da, db in zip(a, b):
                da["boxes"], db["boxes"] = da["centres"], db["centres"]
        else:
            n = len(np.asarray(ref))
            a, b = self.detections(ref, n), self.detections(got, n)
        worst = 0.0
        for da, db in zip(a, b):
            if len(da["boxes"]) != len(db["boxes"]) or np.any(da["labels"] != db["labels"]):
                return float("inf")
            if len(da["boxes"]):  # boxes relative to their coordinates' size, scores absolute
                scale = np.maximum(1.0, np.abs(da["boxes"]))
                worst = max(worst, float((np.abs(da["boxes"] - db["boxes"]) / scale).max()))
                worst = max(worst, float(np.abs(da["scores"] - db["scores"]).max()))
        return worst

    def outputs(self, split: str, forward: Forward, batch_size: int) -> Iterator[tuple[Batch, Any]]:
        if self.patch is not None:  # whole images/volumes, one at a time, by sliding windows
            from deephealth.eddl.zoo.detection.centernet3d import detect_volume

            for batch in self.data.batches(split, 1):
                det = detect_volume(
                    batch.x[0], forward, self.patch, self.num_outputs(), self.stride,
                    float(self.cfg["patch"]["overlap"]), self._peak_threshold(), batch_size,
                )  # fmt: skip
                yield batch, [{k: det[k] for k in ("boxes", "scores", "labels")}]
            return
        for batch in self.data.batches(split, batch_size):
            yield batch, self.detections(forward(batch.x), len(batch.x))

    def scorer(self, split: str) -> Scorer:
        return DetectionScorer(self, split)
