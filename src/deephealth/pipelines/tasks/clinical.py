"""Clinical-data tasks: an image plus the dataset's clinical values predict a number
(``scalar_regression``), an outcome over time with censoring (``survival``) or a class
(``multimodal_classification``).

The inputs come from the dataset's feature schema (``docs/clinical.md``): the features with role
``input`` are encoded by a `TabularEncoder` fitted on the training split only (stored beside the
model as ``model.onnx.features.json`` and in the ONNX metadata); the targets are the features with role ``target``
(regression) or ``time`` and ``event`` (survival), read per sample from the YAML, never from a
label image. The model is the zoo's ``fusion`` network; ``model_params.fusion`` picks ``image``
or ``tabular`` (single-modality baselines) or ``early`` / ``late`` / ``gated`` fusion (default
``early``). With ``ablation: true`` the run also trains the two baselines and the report shows
what each modality adds.

``multimodal_classification`` classifies the sample (its class label, as the ``classification``
task) from the image and the clinical values with the same networks.

Scoring keeps a few numbers per sample (prediction, target, time, event), never the images:
MAE, RMSE, R² and a calibration table for regression; Harrell's C, the time-dependent AUC and the
Kaplan–Meier curves of the low- and high-risk halves for survival. `permutation_importance`
streams the split again once per input feature with that feature's values shuffled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.eddl.zoo.fusion import FUSIONS
from deephealth.pipelines import metrics
from deephealth.pipelines.data import DataError
from deephealth.pipelines.metrics import MetricError
from deephealth.pipelines.regression_metrics import calibration_table, regression_metrics
from deephealth.pipelines.stream import Batch
from deephealth.pipelines.survival_metrics import (
    concordance_index,
    cumulative_dynamic_auc,
    risk_groups,
)
from deephealth.pipelines.tabular import TabularEncoder
from deephealth.pipelines.tasks.base import Forward, Scorer, SoftmaxClassHead, Task

ENCODER_SUFFIX = ".features.json"


METADATA_KEY = "deephealth.clinical"


def load_fitted_state(
    onnx_path: str | Path, metadata: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """The fitted state of a clinical model: the sidecar `<model>.onnx.features.json`, else the
    ONNX metadata entry `deephealth.clinical` (a model uploaded alone); None when the model takes
    no clinical values."""
    path = Path(str(onnx_path) + ENCODER_SUFFIX)
    if path.is_file():
        return dict(json.loads(path.read_text()))
    if metadata and METADATA_KEY in metadata:
        return dict(json.loads(metadata[METADATA_KEY]))
    return None


def encode_request(state: dict[str, Any], row: dict[str, Any], sample: bool = False) -> np.ndarray:
    """One request's clinical values checked against the schema and encoded, (1, columns).

    Args:
        state: The model's fitted state (`load_fitted_state`).
        row: Feature name -> value.
        sample: The row is a dataset sample's values (batch inference): features that are not
            model inputs are ignored and missing values imputed, as in training. Otherwise
            every input feature must be given; a None (JSON null) value is declared unknown and
            imputed as in training.

    Raises:
        FeatureError: naming the first unknown, missing or invalid feature.
    """
    encoder = TabularEncoder.from_json(json.dumps(state["encoder"]))
    if sample:
        inputs = {s.name for s in encoder.inputs}
        row = {k: v for k, v in row.items() if k in inputs}
    encoder.check_row(row, allow_missing=sample)
    return encoder.transform([{k: str(v) for k, v in row.items() if v is not None}])


def outputs_in_units(state: dict[str, Any], out: np.ndarray) -> dict[str, Any]:
    """A clinical model's outputs for one request: the values in the target's units
    (scalar_regression) or the risk score (survival)."""
    out = np.asarray(out, dtype=np.float64).reshape(-1)
    if state["task"] == "survival":
        return {"task": "survival", "risk": float(out[0])}
    if state["task"] == "multimodal_classification":
        names = list(state["target"]["classes"]) or [str(i) for i in range(out.size)]
        best = int(out.argmax())
        return {
            "task": state["task"], "label": names[best], "label_index": best,
            "probabilities": {n: float(p) for n, p in zip(names, out)},
        }  # fmt: skip
    t = state["target"]
    values = out * np.asarray(t["std"]) + np.asarray(t["mean"])
    return {"task": state["task"], "values": [float(v) for v in values]}


class ClinicalScorer(Scorer):
    """Keeps the prediction and the targets of each sample (a few floats)."""

    def __init__(self, task: Task, split: str) -> None:
        super().__init__(task, split)
        self.pred: list[np.ndarray] = []
        self.true: list[np.ndarray] = []

    def update(self, batch: Batch, outputs: Any) -> None:
        n = len(batch.indices)
        self.pred.append(np.asarray(outputs, dtype=np.float64).reshape(n, -1))
        assert isinstance(self.task, ClinicalTask)
        self.true.append(self.task.targets(batch.indices).astype(np.float64))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(predictions, targets) of the split so far."""
        if not self.pred:
            return np.zeros((0, 1)), np.zeros((0, 1))
        return np.concatenate(self.pred), np.concatenate(self.true)


class RegressionScorer(ClinicalScorer):
    """MAE, RMSE, R² (equal to scikit-learn's) and a calibration table."""

    def result(self) -> dict[str, Any]:
        p, t = self.arrays()
        assert isinstance(self.task, ClinicalTask)
        p = self.task.unscale(p)
        out = regression_metrics(t, p)
        out["calibration"] = calibration_table(t, p, bins=min(10, max(1, len(t) // 5)))
        out["y_true"] = t[:, 0].round(6).tolist()
        out["y_pred"] = p[:, 0].round(6).tolist()
        return out


class SurvivalScorer(ClinicalScorer):
    """Harrell's C, time-dependent AUC at the quartiles of event times, risk-group KM curves."""

    def result(self) -> dict[str, Any]:
        r, t = self.arrays()
        risk, time, event = r[:, 0], t[:, 0], t[:, 1]
        out: dict[str, Any] = {"c_index": concordance_index(time, risk, event)}
        assert isinstance(self.task, SurvivalTask)
        tt, te = self.task.train_outcomes
        events = time[event > 0]
        if events.size >= 4:
            taus = [float(v) for v in np.percentile(events, [25, 50, 75])]
            try:
                aucs, mean = cumulative_dynamic_auc(tt, te, time, event, risk, taus)
                out["td_auc"] = mean
                out["td_auc_at"] = {f"{tau:.4g}": float(a) for tau, a in zip(taus, aucs)}
            except MetricError:
                out["td_auc"] = None
        groups = risk_groups(risk, time, event, [float(np.median(risk))])
        out["km_groups"] = [
            {"group": name, "n": g["n"], "times": np.asarray(g["times"]).round(4).tolist(),
             "survival": np.asarray(g["survival"]).round(6).tolist()}
            for name, g in zip(("low risk", "high risk"), groups)
        ]  # fmt: skip
        out["events"], out["samples"] = int(event.sum()), int(len(event))
        return out


class ClassificationScorer(ClinicalScorer):
    """Every classification KPI (`metrics.classification_metrics`) of the image + values model."""

    def result(self) -> dict[str, Any]:
        p, t = self.arrays()
        k = self.task.num_outputs()
        y = t.argmax(1)
        names = self.task.data.classes or None
        out = metrics.classification_metrics(y, p, k, class_names=names)
        out["y_true"] = y.tolist()
        out["scores"] = p.round(5).tolist()
        return out


class ClinicalTask(Task):
    """Base of the image + clinical-values tasks (see the module docstring)."""

    model_kind = "multimodal"
    roles: tuple[str, ...] = ()

    def prepare(self) -> None:
        data = self.data
        if not any(s.role == "input" for s in data.feature_specs):
            raise DataError(
                f"dataset {data.path}: {self.kind} needs a feature schema with input features "
                "(features: [{name: age, type: numeric}, ...]; see docs/clinical.md)"
            )
        fitted = self.cfg.get("fitted_state")  # evaluation of a trained run: its statistics
        if fitted:
            self.encoder = TabularEncoder.from_json(json.dumps(fitted["encoder"]))
        else:
            self.encoder = TabularEncoder(data.feature_specs).fit(
                data.rows(data.splits["training"])
            )
        for split, indices in data.splits.items():  # every sample has its targets
            try:
                self.targets(indices)
            except DataError as err:
                raise DataError(f"dataset {data.path}, split {split}: {err}") from None
        self.fusion = str((self.cfg.get("model_params") or {}).get("fusion", "early"))
        if self.fusion not in FUSIONS:
            raise DataError(f"model_params.fusion must be one of {list(FUSIONS)}: {self.fusion!r}")
        if fitted:
            self.restore_targets(fitted["target"])
        else:
            self.fit_targets(self.targets(data.splits["training"]))
        data.start()

    def fitted_state(self) -> dict[str, Any]:
        """What was learned from the training split (encoder statistics, target scaling): stored
        with the run and beside the model, so evaluation and serving apply it unchanged."""
        return {
            "task": self.kind, "fusion": self.fusion,
            "encoder": json.loads(self.encoder.to_json()), "target": self.target_info(),
        }  # fmt: skip

    def target_info(self) -> dict[str, Any]:
        """The target statistics learned from the training split (JSON-ready)."""
        raise NotImplementedError

    def restore_targets(self, info: dict[str, Any]) -> None:
        """Set the target statistics from `target_info()`'s record."""
        raise NotImplementedError

    def _targets(self, rows: list[dict[str, str]]) -> np.ndarray:
        return np.concatenate([self.encoder.targets(rows, role) for role in self.roles], axis=1)

    def fit_targets(self, train: np.ndarray) -> None:
        """Learn what the targets need from the training split (scaling)."""

    def targets(self, indices: list[int]) -> np.ndarray:
        """The raw targets of samples (N, k) from the dataset's feature values."""
        return self._targets(self.data.rows(indices))

    def unscale(self, p: np.ndarray) -> np.ndarray:
        """Network outputs in the targets' units."""
        return p

    # -- model -----------------------------------------------------------------------------------
    def default_model(self) -> str:
        return "fusion"

    def activation(self) -> str:
        return "linear"

    def model_args(self) -> dict[str, Any]:
        return {"num_features": len(self.encoder.columns), "fusion": self.fusion}

    def features(self, indices: list[int]) -> np.ndarray:
        """The encoded clinical values of samples (N, columns)."""
        return self.encoder.transform(self.data.rows(indices))

    def inputs(self, batch: Batch) -> Any:
        return self.model_inputs(batch.x, self.features(batch.indices))

    def model_inputs(self, image: np.ndarray, features: np.ndarray) -> list[np.ndarray]:
        """The inputs the chosen fusion takes, in the network's order (image, then features)."""
        out = [] if self.fusion == "tabular" else [image]
        return out if self.fusion == "image" else [*out, features]

    def train_batch(self, batch: Batch) -> tuple[Any, np.ndarray]:
        return self.inputs(batch), self.train_targets(batch.indices)

    def train_targets(self, indices: list[int]) -> np.ndarray:
        """The network's targets of samples (float32)."""
        raise NotImplementedError

    def save_sidecars(self, onnx_path: Path) -> None:
        import onnx

        text = json.dumps(self.fitted_state())
        Path(str(onnx_path) + ENCODER_SUFFIX).write_text(text)
        model = onnx.load(str(onnx_path))
        model.metadata_props.add(key=METADATA_KEY, value=text)
        onnx.save(model, str(onnx_path))

    # -- scoring ---------------------------------------------------------------------------------
    def report_extras(
        self, split: str, forward: Forward, batch_size: int, metrics: dict[str, Any]
    ) -> dict[str, Any]:
        base = self.score_value(metrics)
        return {
            "fusion": self.fusion, "columns": self.encoder.columns,
            "permutation_importance": self.permutation_importance(split, forward, batch_size, base),
        }  # fmt: skip

    def score_value(self, metrics: dict[str, Any]) -> float:
        """The higher-is-better figure that permutation importance follows."""
        raise NotImplementedError

    def permutation_importance(
        self, split: str, forward: Forward, batch_size: int, base: float, seed: int = 0
    ) -> dict[str, float]:
        """Drop of the score when one input feature's values are shuffled across the split
        (one streamed pass per feature; nothing of the images is kept)."""
        if self.fusion == "image":
            return {}
        indices = self.data.splits[split]
        matrix = self.features(indices)
        pos = {idx: k for k, idx in enumerate(indices)}
        rng = np.random.default_rng(seed)
        out: dict[str, float] = {}
        for name, cols in self.encoder.blocks().items():
            shuffled = matrix.copy()
            shuffled[:, cols] = matrix[rng.permutation(len(matrix))][:, cols]
            scorer = self.scorer(split)
            for batch in self.data.batches(split, batch_size):
                rows = shuffled[[pos[i] for i in batch.indices]]
                scorer.update(batch, np.asarray(forward(self.model_inputs(batch.x, rows))))
            out[name] = base - self.score_value(scorer.result())
        return out


class ScalarRegressionTask(ClinicalTask):
    """A number (or several) per sample from the image and the clinical values."""

    kind = "scalar_regression"
    roles = ("target",)

    def fit_targets(self, train: np.ndarray) -> None:
        self.mean = train.mean(0)
        self.std = np.where(train.std(0) > 0, train.std(0), 1.0)

    def unscale(self, p: np.ndarray) -> np.ndarray:
        return p * self.std + self.mean

    def num_outputs(self) -> int:
        return int(self.mean.size)

    def default_loss(self) -> str:
        return "mse"

    def eddl_metric(self) -> str:
        return "mae"

    def train_targets(self, indices: list[int]) -> np.ndarray:
        """Targets standardised with the training split's mean and sd (float32)."""
        return ((self.targets(indices) - self.mean) / self.std).astype(np.float32)

    def scorer(self, split: str) -> Scorer:
        return RegressionScorer(self, split)

    def score_value(self, metrics: dict[str, Any]) -> float:
        return float(metrics["r2"])

    def target_info(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def restore_targets(self, info: dict[str, Any]) -> None:
        self.mean, self.std = np.asarray(info["mean"]), np.asarray(info["std"])


class SurvivalTask(ClinicalTask):
    """A risk score per sample trained with the Cox partial likelihood (times and censoring)."""

    kind = "survival"
    roles = ("time", "event")

    def fit_targets(self, train: np.ndarray) -> None:
        self.train_outcomes = (train[:, 0], train[:, 1])
        if not train[:, 1].any():
            raise DataError(f"dataset {self.data.path}: no event in the training split")

    def num_outputs(self) -> int:
        return 1

    def default_loss(self) -> str:
        return "cox"

    def eddl_metric(self) -> str:
        return "concordance"

    def train_targets(self, indices: list[int]) -> np.ndarray:
        """(time, event) per sample, float32."""
        return self.targets(indices).astype(np.float32)

    def scorer(self, split: str) -> Scorer:
        return SurvivalScorer(self, split)

    def score_value(self, metrics: dict[str, Any]) -> float:
        return float(metrics["c_index"])

    def target_info(self) -> dict[str, Any]:
        tt, te = self.train_outcomes
        return {"train_time": tt.tolist(), "train_event": te.tolist()}

    def restore_targets(self, info: dict[str, Any]) -> None:
        self.train_outcomes = (np.asarray(info["train_time"]), np.asarray(info["train_event"]))


class MultimodalClassificationTask(SoftmaxClassHead, ClinicalTask):
    """The sample's class from the image and the clinical values (softmax over the classes)."""

    kind = "multimodal_classification"

    def targets(self, indices: list[int]) -> np.ndarray:
        """One-hot class of each sample (its first label).

        Raises:
            DataError: naming a sample without a class label.
        """
        out = np.zeros((len(indices), self.num_outputs()), dtype=np.float32)
        for n, i in enumerate(indices):
            label = self.data.samples[i].label_
            if not label:
                where = self.data.samples[i].location_[0]
                raise DataError(f"sample {i} ({where}) has no class label")
            out[n, int(label[0])] = 1.0
        return out

    def train_targets(self, indices: list[int]) -> np.ndarray:
        return self.targets(indices)

    def scorer(self, split: str) -> Scorer:
        return ClassificationScorer(self, split)

    def score_value(self, metrics: dict[str, Any]) -> float:
        auc = metrics.get("roc_auc")
        return float(auc if isinstance(auc, float) else metrics["accuracy"])

    def target_info(self) -> dict[str, Any]:
        return {"classes": list(self.data.classes)}

    def restore_targets(self, info: dict[str, Any]) -> None:
        pass
