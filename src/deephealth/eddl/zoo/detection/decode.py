"""From the detector's output map to boxes: decoding and batched, per-class non-maximum suppression
in torch (no torchvision), with the semantics of ONNX `NonMaxSuppression` as onnxruntime runs it.

`nms` keeps, per image and class, the boxes whose score is above `score_threshold`, in order of
decreasing score (ties: lower index first), dropping every box whose IoU with an already kept box
is above `iou_threshold`, at most `max_per_class` per class; results are ordered by image, class
and decreasing score, as onnxruntime returns them. `decode_fcos` turns output maps into
(boxes, scores, labels, image index) with these rules, the same computation as the ONNX
post-processing graph of `onnx_nms`.
"""

from __future__ import annotations

import torch


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU matrix of corner boxes (N, 4) x (M, 4)."""
    lo = torch.maximum(a[:, None, :2], b[None, :, :2])
    hi = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (hi - lo).clamp_min(0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clamp_min(0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clamp_min(0).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp_min(1e-12), torch.zeros_like(inter))


def nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.05,
    max_per_class: int = 100,
) -> torch.Tensor:
    """Batched per-class NMS.

    Args:
        boxes: (N, M, 4) corner boxes per image.
        scores: (N, C, M) scores per image and class.

    Returns:
        (K, 3) int64 rows (image, class, box index), as ONNX NonMaxSuppression.
    """
    out = []
    for n in range(boxes.shape[0]):
        for c in range(scores.shape[1]):
            s = scores[n, c]
            cand = torch.nonzero(s > score_threshold).flatten()
            if not cand.numel():
                continue
            order = cand[torch.sort(s[cand], descending=True, stable=True).indices]
            ious = box_iou(boxes[n, order], boxes[n, order])
            keep: list[int] = []
            alive = torch.ones(len(order), dtype=torch.bool)
            for i in range(len(order)):
                if not alive[i]:
                    continue
                keep.append(i)
                if len(keep) == max_per_class:
                    break
                alive &= ious[i] <= iou_threshold
            for i in keep:
                out.append((n, c, int(order[i])))
    return torch.tensor(out, dtype=torch.int64).reshape(-1, 3)


def fcos_boxes(
    raw: torch.Tensor, num_classes: int, stride: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes (N, M, 4) and scores (N, C, M) of every location of output maps (N, C + 5, h, w)."""
    n, _, h, w = raw.shape
    flat = raw.reshape(n, num_classes + 5, h * w)
    scores = torch.sqrt(torch.sigmoid(flat[:, :num_classes]) * torch.sigmoid(flat[:, -1:]))
    ys, xs = torch.meshgrid(
        (torch.arange(h, dtype=raw.dtype) + 0.5) * stride,
        (torch.arange(w, dtype=raw.dtype) + 0.5) * stride,
        indexing="ij",
    )
    xs, ys = xs.reshape(1, -1), ys.reshape(1, -1)
    d = flat[:, num_classes : num_classes + 4] * stride
    boxes = torch.stack([xs - d[:, 0], ys - d[:, 1], xs + d[:, 2], ys + d[:, 3]], dim=-1)
    return boxes, scores


def decode_fcos(
    raw: torch.Tensor,
    num_classes: int,
    stride: int,
    iou_threshold: float = 0.5,
    score_threshold: float = 0.05,
    max_per_class: int = 100,
) -> dict[str, torch.Tensor]:
    """Final detections of output maps: ``boxes`` (K, 4), ``scores``, ``labels``, ``image``."""
    boxes, scores = fcos_boxes(raw, num_classes, stride)
    sel = nms(boxes, scores, iou_threshold, score_threshold, max_per_class)
    return {
        "boxes": boxes[sel[:, 0], sel[:, 2]],
        "scores": scores[sel[:, 0], sel[:, 1], sel[:, 2]],
        "labels": sel[:, 1],
        "image": sel[:, 0],
    }
