"""Evaluation metrics for the use-case pipelines, on plain numpy arrays.

Classification: confusion matrix, accuracy, error rate, sensitivity (recall), specificity,
precision, F1 and balanced accuracy (per class and macro), ROC curve and ROC AUC (binary and macro
one-vs-rest). Segmentation: Dice, IoU / mean IoU, 95th-percentile Hausdorff distance and volume
similarity, per label. `aggregate_by_patient` turns per-image scores into per-patient ones when a
dataset's features name the patient. The definitions follow scikit-learn where it has one (checked
in the tests); an empty reference and an empty prediction count as a perfect match (Dice = IoU = 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deephealth.errors import PipelineError


class MetricError(PipelineError, ValueError):
    """The arrays given to a metric do not fit together."""


def _labels(y: Any, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim == 2:  # one-hot or scores: take the arg-max
        arr = arr.argmax(axis=1)
    if arr.ndim != 1:
        raise MetricError(f"{name} must be 1-D labels or 2-D one-hot/scores, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or not np.all(np.equal(np.mod(arr, 1), 0))):
        raise MetricError(f"{name} must hold non-negative integer class indices")
    return arr.astype(np.int64)


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Confusion matrix `C[i, j]` = number of samples of true class i predicted as class j.

    Args:
        y_true: True class indices (N,) or one-hot (N, K).
        y_pred: Predicted class indices (N,) or scores/one-hot (N, K) (arg-max taken).
        num_classes: Number of classes; inferred from the labels when None.

    Returns:
        Integer array (K, K).

    Raises:
        MetricError: when the lengths differ or a label is out of range.
    """
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise MetricError(f"y_true has {t.size} samples but y_pred has {p.size}")
    k = (
        int(num_classes)
        if num_classes is not None
        else int(max(t.max(initial=0), p.max(initial=0)) + 1)
    )
    if t.size and max(t.max(), p.max()) >= k:
        raise MetricError(f"a label is >= num_classes ({k})")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def per_class_rates(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class sensitivity, specificity, precision and F1 from a confusion matrix.

    A rate whose denominator is zero is 0 (scikit-learn's `zero_division=0`).
    """
    cm = np.asarray(cm, dtype=float)
    tp = np.diag(cm)
    fn = cm.sum(axis=1) - tp
    fp = cm.sum(axis=0) - tp
    tn = cm.sum() - tp - fn - fp
    sens = _safe_div(tp, tp + fn)
    prec = _safe_div(tp, tp + fp)
    return {
        "sensitivity": sens,
        "specificity": _safe_div(tn, tn + fp),
        "precision": prec,
        "f1": _safe_div(2 * tp, 2 * tp + fp + fn),
        "support": cm.sum(axis=1),
    }


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of samples whose predicted class equals the true class."""
    cm = confusion_matrix(y_true, y_pred)
    total = cm.sum()
    return float(np.trace(cm) / total) if total else 0.0


def error_rate(y_true: Any, y_pred: Any) -> float:
    """1 - accuracy."""
    return 1.0 - accuracy(y_true, y_pred)


def classification_metrics(
    y_true: Any,
    y_pred: Any,
    num_classes: int | None = None,
    scores: Any | None = None,
    class_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Every classification KPI at once, JSON-ready.

    For two classes the headline sensitivity/specificity/precision/F1 are those of class 1 (the
    positive class, as scikit-learn's `average="binary"`); for more classes they are macro averages.
    Per-class values are under `per_class`.

    Args:
        y_true: True class indices (N,) or one-hot (N, K).
        y_pred: Predicted class indices (N,) or scores (N, K).
        num_classes: Number of classes (inferred when None).
        scores: Class probabilities (N, K) for ROC AUC; `y_pred` is used when it is 2-D.
        class_names: Names for the per-class entries.

    Returns:
        A dict with accuracy, error_rate, sensitivity, specificity, precision, f1,
        balanced_accuracy, roc_auc (None when it cannot be computed), confusion_matrix and
        per_class.
    """
    if scores is None and np.asarray(y_pred).ndim == 2:
        scores = y_pred
    cm = confusion_matrix(y_true, y_pred, num_classes)
    auc = None
    if scores is not None:
        try:
            auc = roc_auc(y_true, scores)
        except MetricError:
            auc = None
    out = confusion_summary(cm, class_names)
    out["roc_auc"] = auc
    return {k: out[k] for k in (*HEADLINE, "balanced_accuracy", "roc_auc", "confusion_matrix",
                               "per_class")}  # fmt: skip


HEADLINE = ("accuracy", "error_rate", "sensitivity", "specificity", "precision", "f1")


def confusion_summary(cm: Any, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """The metrics that follow from a confusion matrix alone (accumulated batch by batch when a
    split is streamed): headline rates as `classification_metrics`, balanced accuracy, the matrix
    and the per-class rates."""
    cm = np.asarray(cm)
    k = cm.shape[0]
    rates = per_class_rates(cm)
    total = cm.sum()
    acc = float(np.trace(cm) / total) if total else 0.0
    if k == 2:
        head = {n: float(rates[n][1]) for n in ("sensitivity", "specificity", "precision", "f1")}
    else:
        head = {
            n: float(rates[n].mean()) for n in ("sensitivity", "specificity", "precision", "f1")
        }
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    per_class = {
        names[i] if i < len(names) else str(i): {
            n: float(rates[n][i])
            for n in ("sensitivity", "specificity", "precision", "f1", "support")
        }
        for i in range(k)
    }
    return {
        "accuracy": acc,
        "error_rate": 1.0 - acc,
        **head,
        "balanced_accuracy": float(rates["sensitivity"].mean()),
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
    }


def roc_curve(y_true: Any, score: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve of a binary problem.

    Args:
        y_true: Binary labels (N,) (1 = positive).
        score: Score of the positive class (N,).

    Returns:
        (fpr, tpr, thresholds), starting at (0, 0) with threshold +inf as scikit-learn.

    Raises:
        MetricError: when one of the two classes is absent.
    """
    t = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(score, dtype=float).ravel()
    if t.shape != s.shape:
        raise MetricError(f"y_true has {t.size} samples but score has {s.size}")
    pos, neg = int(t.sum()), int((~t).sum())
    if pos == 0 or neg == 0:
        raise MetricError("ROC needs both positive and negative samples")
    order = np.argsort(-s, kind="mergesort")
    s, t = s[order], t[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tps = np.cumsum(t)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / pos]
    fpr = np.r_[0.0, fps / neg]
    return fpr, tpr, np.r_[np.inf, s[distinct]]


def roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve: binary, or the macro one-vs-rest average for K classes.

    Args:
        y_true: Class indices (N,) or one-hot (N, K).
        scores: Positive-class score (N,) for a binary problem, or class scores (N, K).

    Raises:
        MetricError: when a class has no positive or no negative sample.
    """
    s = np.asarray(scores, dtype=float)
    t = _labels(y_true, "y_true")
    if s.ndim == 1 or (s.ndim == 2 and s.shape[1] == 2):
        pos = s if s.ndim == 1 else s[:, 1]
        fpr, tpr, _ = roc_curve(t == 1, pos)
        return float(np.trapezoid(tpr, fpr))
    if s.shape[0] != t.size:
        raise MetricError(f"y_true has {t.size} samples but scores has {s.shape[0]}")
    return float(np.mean([roc_auc((t == c).astype(int), s[:, c]) for c in range(s.shape[1])]))


def _binary_masks(pred: Any, true: Any) -> tuple[np.ndarray, np.ndarray]:
    p, t = np.asarray(pred).astype(bool), np.asarray(true).astype(bool)
    if p.shape != t.shape:
        raise MetricError(f"prediction shape {p.shape} differs from reference shape {t.shape}")
    return p, t


def dice(pred: Any, true: Any) -> float:
    """Dice coefficient 2|P∩T| / (|P|+|T|) of two binary masks (1.0 when both are empty)."""
    p, t = _binary_masks(pred, true)
    den = p.sum() + t.sum()
    return float(2.0 * np.logical_and(p, t).sum() / den) if den else 1.0


def iou(pred: Any, true: Any) -> float:
    """Intersection over union |P∩T| / |P∪T| of two binary masks (1.0 when both are empty)."""
    p, t = _binary_masks(pred, true)
    union = np.logical_or(p, t).sum()
    return float(np.logical_and(p, t).sum() / union) if union else 1.0


def volume_similarity(pred: Any, true: Any) -> float:
    """Volume similarity 1 - ||P|-|T|| / (|P|+|T|) of two binary masks (1.0 when both empty)."""
    p, t = _binary_masks(pred, true)
    den = p.sum() + t.sum()
    return float(1.0 - abs(int(p.sum()) - int(t.sum())) / den) if den else 1.0


def mean_iou(pred: Any, true: Any, num_classes: int) -> float:
    """Mean IoU over the label values 0..num_classes-1 of two label maps (MIoU)."""
    p, t = np.asarray(pred), np.asarray(true)
    if p.shape != t.shape:
        raise MetricError(f"prediction shape {p.shape} differs from reference shape {t.shape}")
    return float(np.mean([iou(p == c, t == c) for c in range(num_classes)]))


def _surface(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    eroded = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(mask.ndim, 1))
    return np.argwhere(mask & ~eroded)


def hausdorff95(pred: Any, true: Any, spacing: Sequence[float] | None = None) -> float:
    """95th-percentile symmetric Hausdorff distance between the surfaces of two binary masks.

    Args:
        pred: Predicted mask.
        true: Reference mask.
        spacing: Voxel size per axis (1 when None); the distance is in these units.

    Returns:
        The distance; 0.0 when both masks are empty, +inf when exactly one is.
    """
    from scipy import ndimage

    p, t = _binary_masks(pred, true)
    if not p.any() and not t.any():
        return 0.0
    if not p.any() or not t.any():
        return float("inf")
    sp = np.ones(p.ndim) if spacing is None else np.asarray(spacing, dtype=float)
    if sp.size != p.ndim:
        raise MetricError(f"spacing has {sp.size} values for a {p.ndim}-D mask")
    dist_to_t = ndimage.distance_transform_edt(~_surface_mask(t), sampling=sp)
    dist_to_p = ndimage.distance_transform_edt(~_surface_mask(p), sampling=sp)
    ps, ts = _surface(p), _surface(t)
    d = np.r_[dist_to_t[tuple(ps.T)], dist_to_p[tuple(ts.T)]]
    return float(np.percentile(d, 95))


def _surface_mask(mask: np.ndarray) -> np.ndarray:
    out = np.zeros(mask.shape, dtype=bool)
    out[tuple(_surface(mask).T)] = True
    return out


def segmentation_metrics(
    pred: Any, true: Any, num_classes: int = 2, spacing: Sequence[float] | None = None
) -> dict[str, Any]:
    """Dice, IoU, Hausdorff-95 and volume similarity per foreground label, plus MIoU.

    Args:
        pred: Predicted label map (any shape; may hold a leading batch axis).
        true: Reference label map of the same shape.
        num_classes: Number of labels including background 0.
        spacing: Voxel size per spatial axis for Hausdorff-95 (only for a single case).

    Returns:
        `dice`, `iou`, `hausdorff95`, `volume_similarity` (means over foreground labels),
        `miou`, and `per_label`.
    """
    p, t = np.asarray(pred), np.asarray(true)
    if p.shape != t.shape:
        raise MetricError(f"prediction shape {p.shape} differs from reference shape {t.shape}")
    per_label = {}
    for c in range(1, max(2, num_classes)):
        pc, tc = p == c, t == c
        per_label[str(c)] = {
            "dice": dice(pc, tc),
            "iou": iou(pc, tc),
            "hausdorff95": hausdorff95(pc, tc, spacing),
            "volume_similarity": volume_similarity(pc, tc),
        }
    keys = ("dice", "iou", "hausdorff95", "volume_similarity")
    out: dict[str, Any] = {k: float(np.mean([v[k] for v in per_label.values()])) for k in keys}
    out["miou"] = mean_iou(p, t, max(2, num_classes))
    out["per_label"] = per_label
    return out


def aggregate_by_patient(
    patients: Sequence[Any], y_true: Any, scores: Any, how: str = "mean"
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Aggregate per-image class scores into per-patient ones.

    Args:
        patients: The patient of each image (from the dataset's features).
        y_true: True class index of each image (N,); all images of a patient must agree.
        scores: Class scores (N, K).
        how: "mean" (average the scores) or "max" (maximum per class).

    Returns:
        (patient ids in first-seen order, their labels (P,), their scores (P, K)).

    Raises:
        MetricError: on mismatched lengths, an unknown `how`, or a patient with two labels.
    """
    t = _labels(y_true, "y_true")
    s = np.asarray(scores, dtype=float)
    if s.ndim == 1:
        s = s[:, None]
    if not (len(patients) == t.size == s.shape[0]):
        raise MetricError(
            f"patients ({len(patients)}), y_true ({t.size}) and scores ({s.shape[0]}) differ in length"
        )
    reducers = {"mean": np.mean, "max": np.max}
    if how not in reducers:
        raise MetricError(f"unknown aggregation {how!r}; use one of {sorted(reducers)}")
    ids: list[Any] = list(dict.fromkeys(patients))
    index = {pid: i for i, pid in enumerate(ids)}
    rows = np.array([index[p] for p in patients])
    labels = np.empty(len(ids), dtype=np.int64)
    agg = np.empty((len(ids), s.shape[1]))
    for i, pid in enumerate(ids):
        sel = rows == i
        lab = np.unique(t[sel])
        if lab.size != 1:
            raise MetricError(f"patient {pid!r} has images with different labels {lab.tolist()}")
        labels[i] = lab[0]
        agg[i] = reducers[how](s[sel], axis=0)
    return ids, labels, agg
