"""Classification of 2D images and 3D volumes: one class per sample, softmax output, metrics per
image and, when the dataset names the patient, per patient (mean of the patient's image scores)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deephealth.pipelines import metrics
from deephealth.pipelines.tasks.base import Task, augment_pair


class ClassificationTask(Task):
    """Image or volume classification."""

    kind = "classification"

    def default_model(self) -> str:
        if self.data.dims == 3:
            return "cnn3d"
        return "resnet18"

    def num_outputs(self) -> int:
        return max(2, len(self.data.classes))

    def activation(self) -> str:
        return "softmax"

    def default_loss(self) -> str:
        return "softmax_cross_entropy"

    def eddl_metric(self) -> str:
        return "categorical_accuracy"

    def sample(self, i: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        s = self.split("training")
        x = s.images[i]
        aug = self.augs.get("training")
        if aug is not None:
            x, _ = augment_pair(aug, x, None, rng)
        return x, s.targets[i]

    def encode(self, targets: list[Any]) -> np.ndarray:
        return np.eye(self.num_outputs(), dtype=np.float32)[np.asarray(targets, dtype=int)]

    def score(self, split: str, outputs: list[np.ndarray]) -> dict[str, Any]:
        s = self.split(split)
        y = np.asarray(s.targets, dtype=int)
        probs = np.stack(outputs).reshape(len(outputs), -1)
        result = metrics.classification_metrics(
            y, probs, self.num_outputs(), class_names=self.data.classes or None
        )
        if s.patients and all(p is not None for p in s.patients):
            ids, py, pscores = metrics.aggregate_by_patient(s.patients, y, probs)
            per = metrics.classification_metrics(py, pscores, self.num_outputs())
            result["per_patient"] = {
                k: per[k]
                for k in ("accuracy", "error_rate", "sensitivity", "specificity", "roc_auc")
            }
            result["per_patient"]["patients"] = len(ids)
        result["y_true"] = y.tolist()
        result["scores"] = probs.round(5).tolist()
        return result
