"""Clinical values as inputs: statistics from the training split only, storage, validation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import deephealth.eddl as eddl
from deephealth.ecvl.dataset.schema import FeatureSpec
from deephealth.pipelines.tabular import FeatureError, TabularEncoder

SPECS = [
    FeatureSpec("patient", "id", role="none"),
    FeatureSpec("age", "numeric", min=0, max=120),
    FeatureSpec("sex", "categorical", values=["F", "M"]),
    FeatureSpec("stage", "categorical"),
    FeatureSpec("onset", "date"),
    FeatureSpec("score", "numeric", role="target"),
]
TRAIN = [
    {"patient": "a", "age": "60", "sex": "F", "stage": "I", "onset": "2020-01-01", "score": "3"},
    {"patient": "b", "age": "70", "sex": "M", "stage": "II", "onset": "2020-01-11", "score": "5"},
    {"patient": "c", "sex": "M", "stage": "II", "onset": "2020-01-21", "score": "4"},
]


def test_encoding_of_each_type_and_of_missing_and_unseen_values() -> None:
    enc = TabularEncoder(SPECS).fit(TRAIN)
    assert enc.columns == [
        "age", "age:missing", "sex=F", "sex=M", "sex=<other>", "sex:missing",
        "stage=I", "stage=II", "stage=<other>", "stage:missing", "onset", "onset:missing",
    ]  # fmt: skip
    x = enc.transform([*TRAIN, {"age": "65", "sex": "X", "stage": "IV"}])
    np.testing.assert_allclose(x[:2, 0], [-1, 1])  # (60 - 65) / 5, (70 - 65) / 5
    assert x[2, 0] == 0 and x[2, 1] == 1  # missing age: mean imputed, indicator set
    np.testing.assert_allclose(x[:3, 10] * np.std([0, 10, 20]) + 10, [0, 10, 20], atol=1e-5)
    np.testing.assert_array_equal(x[3, 2:6], [0, 0, 1, 0])  # unseen sex -> <other>
    np.testing.assert_array_equal(x[3, 6:10], [0, 0, 1, 0])
    np.testing.assert_array_equal(x[3, 10:12], [0, 1])  # missing date
    np.testing.assert_array_equal(enc.targets(TRAIN)[:, 0], [3, 5, 4])
    assert enc.blocks()["sex"] == [2, 3, 4, 5]


def test_statistics_come_from_the_training_split_only() -> None:
    """Leak test: changing the test split's values changes nothing the encoder learned."""
    test = [{"age": "119", "sex": "F", "stage": "III", "onset": "2025-06-01"}]
    enc = TabularEncoder(SPECS).fit(TRAIN)
    before = enc.to_json()
    x1 = enc.transform(test)
    enc2 = TabularEncoder(SPECS).fit(TRAIN)
    assert enc2.to_json() == before
    test[0]["age"] = "1"
    assert enc.to_json() == before
    assert enc.transform(test)[0, 0] != x1[0, 0]
    assert enc.stats["age"] == {"origin": 0.0, "mean": 65.0, "std": 5.0}
    assert "III" not in enc.stats["stage"]["categories"]


def test_stored_encoder_gives_the_same_matrix_in_a_new_process(tmp_path) -> None:
    enc = TabularEncoder(SPECS).fit(TRAIN)
    (tmp_path / "enc.json").write_text(enc.to_json())
    np.save(tmp_path / "want.npy", enc.transform(TRAIN))
    code = (
        "import sys, json, numpy as np\n"
        "from deephealth.pipelines.tabular import TabularEncoder\n"
        "enc = TabularEncoder.from_json(open(sys.argv[1]).read())\n"
        "rows = json.loads(sys.argv[2])\n"
        "np.testing.assert_array_equal(enc.transform(rows), np.load(sys.argv[3]))\n"
    )
    import json

    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "enc.json"), json.dumps(TRAIN),
         str(tmp_path / "want.npy")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("row", "feature", "message"),
    [
        ({"sex": "F", "stage": "I", "onset": "2020-01-01"}, "age", "missing"),
        ({"age": 130, "sex": "F", "stage": "I", "onset": "2020-01-01"}, "age", "above its max"),
        ({"age": 50, "sex": "Q", "stage": "I", "onset": "2020-01-01"}, "sex", "not one of"),
        ({"age": 50, "sex": "F", "stage": "I", "onset": "June"}, "onset", "ISO 8601"),
        ({"age": 50, "sex": "F", "stage": "I", "onset": "2020-01-01", "bmi": 3}, "bmi", "unknown"),
    ],
)
def test_a_request_row_is_checked_and_the_feature_named(row, feature, message) -> None:
    enc = TabularEncoder(SPECS).fit(TRAIN)
    with pytest.raises(FeatureError, match=message) as info:
        enc.check_row(row)
    assert info.value.feature == feature


def test_tabular_mlp_on_real_breast_cancer_records() -> None:
    """scikit-learn's 569 real tumour records through the encoder and an EDDL MLP."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    rows = [dict(zip(names, map(str, r))) for r in data.data]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(rows))
    train, test = order[:400], order[400:]
    enc = TabularEncoder([FeatureSpec(n, "numeric") for n in names])
    enc.fit([rows[i] for i in train])
    x_tr, x_te = enc.transform([rows[i] for i in train]), enc.transform([rows[i] for i in test])
    y = np.eye(2, dtype=np.float32)[data.target]
    inp = eddl.Input([x_tr.shape[1]])
    out = eddl.Softmax(eddl.Dense(eddl.ReLu(eddl.Dense(inp, 16)), 2))
    net = eddl.Model([inp], [out])
    eddl.build(net, eddl.adam(0.01), ["softmax_cross_entropy"], ["accuracy"], eddl.CS_CPU())
    eddl.fit(net, [eddl.Tensor.fromarray(x_tr)], [eddl.Tensor.fromarray(y[train])], 32, 20)
    pred = np.asarray(eddl.predict(net, [eddl.Tensor.fromarray(x_te)])[0]).argmax(1)
    assert (pred == data.target[test]).mean() >= 0.93
