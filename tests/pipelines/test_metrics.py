"""The metrics library against scikit-learn and hand-computed cases."""

import numpy as np
import pytest
from sklearn import metrics as skm

from deephealth.pipelines import metrics as M


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    scores = rng.random((300, 4)) + np.eye(4)[y] * 0.6
    scores /= scores.sum(1, keepdims=True)
    return y, scores


def test_confusion_matrix_hand_computed():
    cm = M.confusion_matrix([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_binary_rates_hand_computed():
    # TP=3 FN=1 FP=2 TN=4
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    p = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
    r = M.classification_metrics(y, p)
    assert r["sensitivity"] == pytest.approx(3 / 4)
    assert r["specificity"] == pytest.approx(4 / 6)
    assert r["precision"] == pytest.approx(3 / 5)
    assert r["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert r["accuracy"] == pytest.approx(0.7)
    assert r["error_rate"] == pytest.approx(0.3)
    assert r["balanced_accuracy"] == pytest.approx((3 / 4 + 4 / 6) / 2)


def test_multiclass_matches_sklearn(multiclass):
    y, scores = multiclass
    pred = scores.argmax(1)
    r = M.classification_metrics(y, scores, class_names=list("abcd"))
    assert r["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert r["sensitivity"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert r["precision"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert r["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert r["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert r["roc_auc"] == pytest.approx(skm.roc_auc_score(y, scores, multi_class="ovr"))
    assert r["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    per = skm.recall_score(y, pred, average=None)
    assert [r["per_class"][c]["sensitivity"] for c in "abcd"] == pytest.approx(per)


def test_one_hot_inputs_equal_indices(multiclass):
    y, scores = multiclass
    assert M.accuracy(np.eye(4)[y], scores) == pytest.approx(M.accuracy(y, scores.argmax(1)))
    assert M.error_rate(y, scores) == pytest.approx(1 - skm.accuracy_score(y, scores.argmax(1)))


def test_roc_curve_and_auc_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200) + 0.5 * y, 2)  # ties included
    fpr, tpr, thr = M.roc_curve(y, s)
    sf, st, sth = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sf)
    np.testing.assert_allclose(tpr, st)
    np.testing.assert_allclose(thr[1:], sth[1:])
    assert M.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s))
    two = np.stack([1 - s, s], 1)
    assert M.roc_auc(y, two) == pytest.approx(skm.roc_auc_score(y, s))


def test_segmentation_hand_computed():
    p = np.zeros((10, 10), int)
    t = np.zeros((10, 10), int)
    p[0:4, 0:4] = 1  # 16 px
    t[2:6, 0:4] = 1  # 16 px, overlap 8
    assert M.dice(p, t) == pytest.approx(2 * 8 / 32)
    assert M.iou(p, t) == pytest.approx(8 / 24)
    assert M.volume_similarity(p, t) == pytest.approx(1.0)
    assert M.dice(p, p) == 1.0 and M.dice(0 * p, 0 * t) == 1.0
    assert M.volume_similarity(p[:, :2], t[:, :2] * 0) == 0.0
    r = M.segmentation_metrics(p, t)
    assert r["dice"] == pytest.approx(0.5)
    assert r["miou"] == pytest.approx((8 / 24 + 76 / 92) / 2)
    assert r["miou"] == pytest.approx(skm.jaccard_score(t.ravel(), p.ravel(), average="macro"))


def test_hausdorff95_shifted_square():
    a = np.zeros((40, 40), bool)
    b = np.zeros((40, 40), bool)
    a[10:20, 10:20] = True
    b[13:23, 10:20] = True  # shift by 3 rows
    assert M.hausdorff95(a, b) == pytest.approx(3.0)
    assert M.hausdorff95(a, b, spacing=(2.0, 1.0)) == pytest.approx(6.0)
    assert M.hausdorff95(a, a) == 0.0
    assert M.hausdorff95(a, np.zeros_like(a)) == float("inf")
    assert M.hausdorff95(np.zeros_like(a), np.zeros_like(a)) == 0.0


def test_aggregate_by_patient():
    ids, labels, agg = M.aggregate_by_patient(
        ["p1", "p1", "p2", "p3", "p2"],
        [1, 1, 0, 1, 0],
        np.array([[0.2, 0.8], [0.4, 0.6], [0.9, 0.1], [0.3, 0.7], [0.7, 0.3]]),
    )
    assert ids == ["p1", "p2", "p3"]
    assert labels.tolist() == [1, 0, 1]
    np.testing.assert_allclose(agg, [[0.3, 0.7], [0.8, 0.2], [0.3, 0.7]])
    _, _, mx = M.aggregate_by_patient(["a", "a"], [0, 0], [[0.1, 0.9], [0.5, 0.2]], how="max")
    np.testing.assert_allclose(mx, [[0.5, 0.9]])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: M.confusion_matrix([0, 1], [0]), "2 samples"),
        (lambda: M.confusion_matrix([0, 3], [0, 1], num_classes=2), "num_classes"),
        (lambda: M.confusion_matrix([0, -1], [0, 1]), "non-negative"),
        (lambda: M.confusion_matrix(np.zeros((2, 2, 2)), [0, 1]), "1-D"),
        (lambda: M.roc_curve([1, 1], [0.2, 0.3]), "both positive and negative"),
        (lambda: M.roc_curve([1, 0], [0.2]), "samples"),
        (lambda: M.dice(np.zeros((2, 2)), np.zeros((3, 2))), "shape"),
        (lambda: M.hausdorff95(np.ones((3, 3)), np.ones((3, 3)), spacing=(1,)), "spacing"),
        (lambda: M.aggregate_by_patient(["a"], [0, 1], [[1], [0]]), "differ in length"),
        (lambda: M.aggregate_by_patient(["a", "a"], [0, 1], [[1], [0]]), "different labels"),
        (lambda: M.aggregate_by_patient(["a"], [0], [[1]], how="median"), "unknown aggregation"),
    ],
)
def test_errors(call, match):
    with pytest.raises(M.MetricError, match=match):
        call()
