"""Detection metrics: COCO mean average precision (2D and 3D boxes) and FROC with the LUNA16 CPM.

Boxes are corner coordinates, ``[x0, y0, x1, y1]`` in 2D and ``[x0, y0, z0, x1, y1, z1]`` in 3D,
in pixels/voxels. Ground truth per image: ``{"boxes": (M, 2d), "labels": (M,)}``; predictions
per image: ``{"boxes": (K, 2d), "scores": (K,), "labels": (K,)}``.

`coco_map` follows pycocotools' `COCOeval` for boxes with area range "all" and 100 detections per
image exactly (checked against pycocotools to 1e-6 in the tests): per class, detections of each
image ranked by score (stable) and cut at `max_dets`; each matched greedily to the unmatched
ground truth of highest IoU at or above the threshold; ranked over the whole set (stable, images
in order); precision made monotone and read at 101 recall points; AP averaged over the classes
that have ground truth, and over the IoU thresholds 0.50:0.05:0.95 for mAP@[.5:.95].

`froc` counts, for a 3D (or 2D) detector, the sensitivity at given average false positives per
scan: a detection is a hit when its centre lies within the radius of a true lesion (LUNA16's rule:
the lesion's diameter / 2), each lesion counted once. `cpm` is LUNA16's competition performance
metric: the mean sensitivity at 1/8, 1/4, 1/2, 1, 2, 4 and 8 false positives per scan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from deephealth.pipelines.metrics import MetricError

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
CPM_FP_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def _boxes(value: Any, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] not in (4, 6):
        raise MetricError(f"{what} must be (N, 4) or (N, 6) corner boxes, got shape {arr.shape}")
    nd = arr.shape[1] // 2
    if np.any(arr[:, nd:] < arr[:, :nd]):
        raise MetricError(f"{what}: a box has its far corner before its near corner")
    return arr


def box_iou(a: Any, b: Any) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of corner boxes (2D or 3D)."""
    a, b = _boxes(a, "boxes"), _boxes(b, "boxes")
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    if a.shape[1] != b.shape[1]:
        raise MetricError("cannot compare 2D and 3D boxes")
    nd = a.shape[1] // 2
    lo = np.maximum(a[:, None, :nd], b[None, :, :nd])
    hi = np.minimum(a[:, None, nd:], b[None, :, nd:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    vol_a = np.prod(a[:, nd:] - a[:, :nd], axis=1)
    vol_b = np.prod(b[:, nd:] - b[:, :nd], axis=1)
    union = vol_a[:, None] + vol_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _match(ious: np.ndarray, threshold: float) -> np.ndarray:
    """For each detection (rows, in rank order), whether it matches a still-free ground truth."""
    n_det, n_gt = ious.shape
    taken = np.zeros(n_gt, dtype=bool)
    hit = np.zeros(n_det, dtype=bool)
    t = min(threshold, 1 - 1e-10)
    for d in range(n_det):
        best, m = t, -1
        for g in range(n_gt):
            if taken[g] or ious[d, g] < best:
                continue
            best, m = ious[d, g], g
        if m >= 0:
            taken[m], hit[d] = True, True
    return hit


def _average_precision(hits: np.ndarray, scores: np.ndarray, n_gt: int) -> float:
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(hits[order]).astype(np.float64)
    fp = np.cumsum(~hits[order]).astype(np.float64)
    recall = tp / n_gt
    precision = tp / (tp + fp + np.spacing(1))
    for i in range(len(precision) - 1, 0, -1):
        precision[i - 1] = max(precision[i - 1], precision[i])
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    q = np.zeros(len(RECALL_POINTS))
    ok = idx < len(precision)
    q[ok] = precision[idx[ok]]
    return float(q.mean())


def coco_map(
    ground_truth: Sequence[Mapping[str, Any]],
    predictions: Sequence[Mapping[str, Any]],
    max_dets: int = 100,
) -> dict[str, Any]:
    """COCO box mAP over images (see the module docstring).

    Args:
        ground_truth: Per image: ``boxes`` and ``labels``.
        predictions: Per image (same order): ``boxes``, ``scores`` and ``labels``.
        max_dets: Detections kept per image and class, highest scores first.

    Returns:
        ``map`` (mAP@[.5:.95]), ``map50``, ``map75`` and ``per_class`` ({label: AP@[.5:.95]}).

    Raises:
        MetricError: when the lists differ in length or an entry is malformed.
    """
    if len(ground_truth) != len(predictions):
        raise MetricError(
            f"{len(ground_truth)} ground-truth images but {len(predictions)} prediction entries"
        )
    gts = [
        (_boxes(g["boxes"], "ground truth"), np.asarray(g["labels"]).reshape(-1))
        for g in ground_truth
    ]
    dts = [
        (
            _boxes(p["boxes"], "predictions"),
            np.asarray(p["scores"], dtype=np.float64).reshape(-1),
            np.asarray(p["labels"]).reshape(-1),
        )
        for p in predictions
    ]
    labels = sorted({int(v) for _, lab in gts for v in lab})
    ap = np.full((len(IOU_THRESHOLDS), len(labels)), np.nan)
    for k, label in enumerate(labels):
        n_gt = 0
        hits: list[list[np.ndarray]] = [[] for _ in IOU_THRESHOLDS]
        scores: list[np.ndarray] = []
        for (gb, gl), (db, ds, dl) in zip(gts, dts):
            g = gb[gl == label]
            sel = np.flatnonzero(dl == label)
            sel = sel[np.argsort(-ds[sel], kind="mergesort")][:max_dets]
            n_gt += len(g)
            ious = box_iou(db[sel], g)
            scores.append(ds[sel])
            for t, thr in enumerate(IOU_THRESHOLDS):
                hits[t].append(_match(ious, thr))
        all_scores = np.concatenate(scores) if scores else np.zeros(0)
        for t in range(len(IOU_THRESHOLDS)):
            h = np.concatenate(hits[t]) if hits[t] else np.zeros(0, dtype=bool)
            ap[t, k] = _average_precision(h, all_scores, n_gt)
    if not labels:
        raise MetricError("the ground truth holds no box: mAP is undefined")
    return {
        "map": float(np.mean(ap)),
        "map50": float(np.mean(ap[0])),
        "map75": float(np.mean(ap[5])),
        "per_class": {label: float(np.mean(ap[:, k])) for k, label in enumerate(labels)},
    }


def froc(
    lesions: Sequence[Mapping[str, Any]],
    detections: Sequence[Mapping[str, Any]],
    fp_rates: Sequence[float] = CPM_FP_RATES,
) -> dict[str, Any]:
    """Free-response ROC: sensitivity at average false positives per scan.

    Args:
        lesions: Per scan: ``centers`` (M, nd) and ``diameters`` (M,) of the true lesions.
        detections: Per scan (same order): ``centers`` (K, nd) and ``scores`` (K,).
        fp_rates: False positives per scan at which to read the sensitivity.

    Returns:
        ``sensitivity`` at each rate, ``cpm`` (their mean), and the curve (``fps``,
        ``sensitivities``, ``thresholds``) for plotting.
    """
    if len(lesions) != len(detections):
        raise MetricError(f"{len(lesions)} scans of lesions but {len(detections)} of detections")
    n_scans = len(lesions)
    n_lesions = 0
    entries: list[tuple[float, int, int]] = []  # (score, is_hit, lesion id or -1)
    for les, det in zip(lesions, detections):
        radius = np.asarray(les["diameters"], dtype=np.float64).reshape(-1) / 2
        lc = np.asarray(les["centers"], dtype=np.float64)
        lc = lc.reshape(len(radius), -1) if len(radius) else lc.reshape(0, lc.shape[-1] or 3)
        dc = np.asarray(det["centers"], dtype=np.float64)
        ds = np.asarray(det["scores"], dtype=np.float64).reshape(-1)
        dc = dc.reshape(len(ds), -1) if len(ds) else np.zeros((0, lc.shape[1] or 3))
        base = n_lesions
        n_lesions += len(radius)
        for c, score in zip(dc, ds):
            dist = np.sqrt(((lc - c) ** 2).sum(1)) if len(lc) else np.zeros(0)
            inside = np.flatnonzero(dist <= radius)
            # a detection inside a lesion is a hit on the nearest such lesion, never a false positive
            lesion = base + int(inside[np.argmin(dist[inside])]) if inside.size else -1
            entries.append((float(score), int(inside.size > 0), lesion))
    if n_lesions == 0:
        raise MetricError("no true lesion: the FROC is undefined")
    entries.sort(key=lambda e: -e[0])
    found: set[int] = set()
    fps, sens, thresholds = [0.0], [0.0], [np.inf]
    fp = 0
    for value, is_hit, lesion in entries:
        if is_hit:
            found.add(lesion)
        else:
            fp += 1
        fps.append(fp / n_scans)
        sens.append(len(found) / n_lesions)
        thresholds.append(value)
    fps_a, sens_a = np.asarray(fps), np.asarray(sens)
    at = [float(sens_a[fps_a <= rate].max()) for rate in fp_rates]
    return {
        "fp_rates": list(fp_rates),
        "sensitivity": at,
        "cpm": float(np.mean(at)),
        "fps": fps_a,
        "sensitivities": sens_a,
        "thresholds": np.asarray(thresholds),
    }
