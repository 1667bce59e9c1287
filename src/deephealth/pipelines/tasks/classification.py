"""Classification of 2D images and 3D volumes: one class per sample, softmax output, metrics per
image and, when the dataset names the patient, per patient (mean of the patient's image scores).
The test split is streamed; only the true class and the class scores of each sample are kept."""

from __future__ import annotations

from typing import Any

import numpy as np

from deephealth.pipelines import metrics
from deephealth.pipelines.stream import Batch
from deephealth.pipelines.tasks.base import Scorer, SoftmaxClassHead, Task


class ClassificationScorer(Scorer):
    """Keeps (class, scores, patient) per sample: a few numbers, never the images."""

    max_explained_classes = 8

    def __init__(self, task: Task, split: str) -> None:
        super().__init__(task, split)
        self.y: list[int] = []
        self.scores: list[np.ndarray] = []
        self.patients: list[Any] = []
        self._seen: set[tuple[int, bool]] = set()

    def update(self, batch: Batch, outputs: Any) -> None:
        probs = np.asarray(outputs).reshape(len(batch.indices), -1)
        y = [int(v) for v in np.asarray(batch.y).argmax(axis=1)]
        self.y.extend(y)
        self.scores.extend(probs)
        self.patients.extend(self.task.data.patient(i) for i in batch.indices)
        self._keep_examples(batch, probs, y)

    def _keep_examples(self, batch: Batch, probs: np.ndarray, y: list[int]) -> None:
        """The first correct and the first wrong sample of each true class, as report cases
        (the report explains them, see `deephealth.pipelines.explain.explain_cases`)."""
        names = self.task.data.classes or [str(i) for i in range(probs.shape[1])]
        for j, (truth, p) in enumerate(zip(y, probs)):
            pred = int(p.argmax())
            key = (truth, pred == truth)
            if key in self._seen or len(self._seen) >= 2 * self.max_explained_classes:
                continue
            self._seen.add(key)
            self.overlays.append({
                "name": self.task.data.sample_name(batch.indices[j]), "kind": "classification",
                "input": np.array(batch.x[j], dtype=np.float32), "true": names[truth],
                "predicted": names[pred], "score": float(p[pred]), "correct": pred == truth,
                "class_index": pred,
            })  # fmt: skip

    def result(self) -> dict[str, Any]:
        k = self.task.num_outputs()
        y = np.asarray(self.y, dtype=int)
        probs = np.stack(self.scores) if self.scores else np.zeros((0, k))
        result = metrics.classification_metrics(
            y, probs, k, class_names=self.task.data.classes or None
        )
        if self.patients and all(p is not None for p in self.patients):
            ids, py, pscores = metrics.aggregate_by_patient(self.patients, y, probs)
            per = metrics.classification_metrics(py, pscores, k)
            result["per_patient"] = {
                key: per[key]
                for key in ("accuracy", "error_rate", "sensitivity", "specificity", "roc_auc")
            }
            result["per_patient"]["patients"] = len(ids)
        result["y_true"] = y.tolist()
        result["scores"] = probs.round(5).tolist()
        return result


class ClassificationTask(SoftmaxClassHead, Task):
    """Image or volume classification."""

    kind = "classification"

    def prepare(self) -> None:
        for split in self.data.splits:
            self.data.check_labels(split, "class")
        self.data.start()

    def default_model(self) -> str:
        return "cnn3d" if self.data.dims == 3 else "resnet18"

    def encode(self, y: np.ndarray) -> np.ndarray:
        k = self.num_outputs()
        if y.shape[1] == k:
            return y.astype(np.float32, copy=False)
        return np.eye(k, dtype=np.float32)[y.argmax(axis=1)]

    def scorer(self, split: str) -> Scorer:
        return ClassificationScorer(self, split)
