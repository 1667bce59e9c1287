"""Detection metrics: COCO mAP equal to pycocotools, FROC/CPM on hand-checked cases."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from deephealth.pipelines.detection_metrics import box_iou, coco_map, froc
from deephealth.pipelines.metrics import MetricError

pycocotools = pytest.importorskip("pycocotools")


def _random_case(seed: int) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    for _ in range(int(rng.integers(3, 12))):
        m = int(rng.integers(0, 6))
        xy = rng.uniform(0, 80, (m, 2))
        wh = rng.uniform(4, 30, (m, 2))
        gb = np.concatenate([xy, xy + wh], 1)
        gl = rng.integers(1, 4, m)
        # predictions: jittered copies of some truths, plus false positives; tied scores
        keep = rng.random(m) < 0.8
        jitter = rng.normal(0, 3, (m, 4))
        pb = np.sort((gb + jitter)[keep].reshape(-1, 2, 2), axis=1).reshape(-1, 4)
        k = int(rng.integers(0, 5))
        fxy = rng.uniform(0, 80, (k, 2))
        pb = np.concatenate([pb, np.concatenate([fxy, fxy + rng.uniform(4, 30, (k, 2))], 1)])
        pl = np.concatenate([gl[keep], rng.integers(1, 4, k)])
        ps = rng.integers(1, 10, len(pb)) / 10.0
        gts.append({"boxes": gb, "labels": gl})
        preds.append({"boxes": pb, "scores": ps, "labels": pl})
    return gts, preds


def _pycocotools_map(gts: list[dict], preds: list[dict]) -> tuple[float, float, float]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for i, (g, p) in enumerate(zip(gts, preds), start=1):
        images.append({"id": i, "width": 128, "height": 128})
        for b, lab in zip(g["boxes"], g["labels"]):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(lab),
                         "bbox": [b[0], b[1], w, h], "area": w * h, "iscrowd": 0})  # fmt: skip
        for b, s, lab in zip(p["boxes"], p["scores"], p["labels"]):
            dets.append({"image_id": i, "category_id": int(lab), "score": float(s),
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]})  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": anns,
                        "categories": [{"id": c} for c in (1, 2, 3)]}  # fmt: skip
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[0], ev.stats[1], ev.stats[2]


@pytest.mark.parametrize("seed", range(12))
def test_map_equals_pycocotools(seed: int) -> None:
    gts, preds = _random_case(seed)
    if not any(len(g["labels"]) for g in gts) or not any(len(p["scores"]) for p in preds):
        pytest.skip("degenerate draw")
    ours = coco_map(gts, preds)
    ref = _pycocotools_map(gts, preds)
    assert ours["map"] == pytest.approx(ref[0], abs=1e-6)
    assert ours["map50"] == pytest.approx(ref[1], abs=1e-6)
    assert ours["map75"] == pytest.approx(ref[2], abs=1e-6)


def test_perfect_detections_give_map_one_and_3d_iou_is_volumetric() -> None:
    gt = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 40]], "labels": [0, 1]}]
    pred = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 40]], "scores": [0.9, 0.8], "labels": [0, 1]}]
    assert coco_map(gt, pred)["map"] == pytest.approx(1.0)
    iou = box_iou([[0, 0, 0, 2, 2, 2]], [[1, 0, 0, 3, 2, 2]])
    assert iou[0, 0] == pytest.approx(4 / 12)


def test_froc_and_cpm_on_a_hand_checked_case() -> None:
    lesions = [
        {"centers": [[10, 10, 10]], "diameters": [6.0]},
        {"centers": [[50, 50, 50], [20, 20, 20]], "diameters": [4.0, 10.0]},
    ]
    detections = [
        {"centers": [[11, 10, 10], [40, 40, 40]], "scores": [0.9, 0.8]},  # hit, FP
        {"centers": [[20, 22, 20], [21, 20, 20], [0, 0, 0]], "scores": [0.95, 0.7, 0.6]},
    ]
    out = froc(lesions, detections)
    # ranked: 0.95 hit (1/3), 0.9 hit (2/3), 0.8 FP (0.5 FP/scan), 0.7 hit on a found lesion
    # (no new lesion, not an FP), 0.6 FP (1 FP/scan); the lesion at (50,50,50) is never found
    assert out["sensitivity"] == pytest.approx([2 / 3] * 7)
    assert out["cpm"] == pytest.approx(2 / 3)
    perfect = froc(lesions, [{"centers": [[10, 10, 10]], "scores": [1]},
                             {"centers": [[50, 50, 50], [20, 20, 20]], "scores": [1, 1]}])  # fmt: skip
    assert perfect["cpm"] == pytest.approx(1.0)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(MetricError, match="far corner"):
        coco_map(
            [{"boxes": [[5, 5, 1, 1]], "labels": [0]}], [{"boxes": [], "scores": [], "labels": []}]
        )
    with pytest.raises(MetricError, match="2 ground-truth images but 1"):
        coco_map([{"boxes": [], "labels": []}] * 2, [{"boxes": [], "scores": [], "labels": []}])


def test_froc_counts_a_scan_without_lesions() -> None:
    """A scan with no lesion adds its detections as false positives (and its scan to the rate)."""
    empty = {"centers": np.zeros((0, 3)), "diameters": np.zeros(0)}
    one = {"centers": [[1.0, 1, 1]], "diameters": [4.0]}
    dets = [{"centers": np.array([[5.0, 5, 5]]), "scores": np.array([0.9])},
            {"centers": np.array([[1.0, 1, 1]]), "scores": np.array([0.5])}]  # fmt: skip
    result = froc([empty, one], dets)
    # 1 false positive over 2 scans before the hit: sensitivity 0 below 1/2 FP per scan, then 1
    assert result["sensitivity"] == [0, 0, 1, 1, 1, 1, 1]
    np.testing.assert_allclose(result["cpm"], 5 / 7)
