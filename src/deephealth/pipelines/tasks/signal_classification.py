"""The ``signal_classification`` task: window-level classification of recordings, aggregated to
events and recordings.

The task streams its own windows (it holds a :class:`~deephealth.ecvl.signal.windows_dataset.
WindowsDataset` per split, never a split in memory) and gives what the run loop asks of a task:
the model (zoo kind ``signal``: cnn1d, resnet1d, cnnlstm, eegnet), the loss and eddl metric, the
training batches of an epoch (balanced sampling of the event classes, ECVL signal augmentations
per window), and the scoring of a split: window accuracy, sensitivity, specificity and AUC
(:func:`deephealth.pipelines.metrics.classification_metrics`), the events detected per recording
and the seizure-detection metrics (event sensitivity, false alarms per 24 h, latency; see
:mod:`deephealth.pipelines.signals.events`), and per recording whether it holds an event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from deephealth.ecvl.dataset.recordings import RecordingsDataset, decode_recordings
from deephealth.ecvl.signal.windows import windows_to_events
from deephealth.ecvl.signal.windows_dataset import WindowsDataset, WindowSpec
from deephealth.pipelines import metrics
from deephealth.pipelines.data import DataError
from deephealth.pipelines.signals.events import split_event_metrics

Forward = Callable[[np.ndarray], np.ndarray]


class SignalClassificationTask:
    """Window classification of recordings (see the module doc).

    Args:
        cfg: A config validated by :func:`deephealth.pipelines.signals.config.load_signal_config`.
        data: The recordings dataset (decoded), or None to decode ``cfg["dataset"]``.

    Raises:
        DataError: Dataset problems (listed), an empty training split, or no event windows.
    """

    kind = "signal_classification"
    model_kind = "signal"

    def __init__(self, cfg: dict[str, Any], data: RecordingsDataset | None = None) -> None:
        self.cfg = cfg
        self.data = data if data is not None else decode_recordings(cfg["dataset"])
        errors = [str(i) for i in self.data.issues if i.severity == "error"]
        if errors:
            raise DataError("dataset problems:\n" + "\n".join(errors))
        self.classes = tuple(self.data.classes)
        w = cfg["window"]
        self.spec = WindowSpec(
            length=float(w["length"]), step=w["step"], classes=self.classes, rule=w["rule"],
            min_overlap=w["min_overlap"], fs=w["fs"], channels=tuple(w["channels"]) if w["channels"] else None,
            bandpass=tuple(w["bandpass"]) if w["bandpass"] else None, notch=w["notch"], normalize=w["normalize"],
        )  # fmt: skip
        self.augs = _augmentations(cfg.get("augmentations") or {})
        self._splits: dict[str, WindowsDataset] = {}
        train = self.split("training")
        if not len(train):
            raise DataError(f"dataset {cfg['dataset']}: the training split has no windows")
        if not train.class_counts()[1:].sum():
            raise DataError(
                f"dataset {cfg['dataset']}: no training window holds an event of {list(self.classes[1:])}"
            )

    # -- model -----------------------------------------------------------------------------------
    def default_model(self) -> str:
        return "cnn1d"

    def num_outputs(self) -> int:
        return len(self.classes)

    def activation(self) -> str:
        return "softmax"

    def default_loss(self) -> str:
        return "softmax_cross_entropy"

    def eddl_metric(self) -> str:
        return "categorical_accuracy"

    def input_shape(self) -> list[int]:
        return list(self.split("training").shape)

    # -- data ------------------------------------------------------------------------------------
    def split(self, name: str, predict: bool = False) -> WindowsDataset:
        """The windows of split ``name`` (``predict``: at the evaluation step)."""
        key = name + (":predict" if predict else "")
        if key not in self._splits:
            recs = self.data.split(name)
            spec = WindowSpec(**{**self.spec.__dict__})
            if self._splits.get("training") is not None:  # same channels and rate as training
                spec.channels, spec.fs = (
                    self._splits["training"].spec.channels,
                    self._splits["training"].spec.fs,
                )
            if predict:
                spec.step = self.cfg["window"]["predict_step"] or spec.step
            aug = self.augs.get(name) if not predict else None
            self._splits[key] = WindowsDataset(recs, spec, augmentation=aug)
        return self._splits[key]

    def epoch_size(self) -> int:
        return int(self.cfg["sampling"]["windows_per_epoch"])

    def num_batches(self, batch_size: int) -> int:
        return -(-self.epoch_size() // batch_size)

    def encode(self, y: np.ndarray) -> np.ndarray:
        return np.eye(self.num_outputs(), dtype=np.float32)[np.asarray(y, dtype=int)]

    def batches(
        self, rng: np.random.Generator, batch_size: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Balanced, augmented training batches of one epoch."""
        ds = self.split("training")
        idx = ds.balanced_indices(self.epoch_size(), rng, self.cfg["sampling"]["balance"])
        for x, y, _ in ds.batches(idx, batch_size, rng):
            yield x, self.encode(y)

    def check_batch(self, n: int = 8) -> np.ndarray:
        """A few model inputs for the ONNX check (validation windows, else training)."""
        name = "validation" if self.data.split("validation") else "training"
        for x, _, _ in self.split(name).sequential(n):
            return x
        raise DataError(f"split {name} has no windows")

    # -- prediction and scoring ------------------------------------------------------------------
    def predict(self, split: str, forward: Forward, batch_size: int) -> np.ndarray:
        """Class probabilities of every window of ``split`` (prediction step), in index order."""
        ds = self.split(split, predict=True)
        out = np.zeros((len(ds), self.num_outputs()), np.float32)
        for x, _, idx in ds.sequential(batch_size):
            out[idx] = np.asarray(forward(x)).reshape(len(idx), -1)
        return out

    def detections(
        self, split: str, probs: np.ndarray
    ) -> list[list[tuple[float, float, float, str]]]:
        """Detected events per recording of ``split``: (onset, end, score, label)."""
        ds = self.split(split, predict=True)
        ev = {k: v for k, v in self.cfg["events"].items() if k != "tolerance"}
        out = []
        for k in range(len(ds.sources)):
            sel = np.flatnonzero(ds.rec == k)
            dets = []
            for c in range(1, self.num_outputs()):
                for a, b, p in windows_to_events(
                    probs[sel, c], ds.start[sel], ds.spec.length, **ev
                ):
                    dets.append((a, b, p, self.classes[c]))
            out.append(sorted(dets))
        return out

    def score(self, split: str, probs: np.ndarray) -> dict[str, Any]:
        """Window, event and recording metrics of ``split``."""
        ds = self.split(split, predict=True)
        y = ds.labels.astype(int)
        result = metrics.classification_metrics(
            y, probs, self.num_outputs(), class_names=list(self.classes)
        )
        dets = self.detections(split, probs)
        hours = float(sum(ds.durations)) / 3600
        tolerance = self.cfg["events"]["tolerance"]
        result.update(split_event_metrics(ds.events, dets, self.classes, hours, tolerance))
        has = np.array(
            [any(e.label in self.classes[1:] for e in evs) for evs in ds.events], dtype=int
        )
        rec_score = np.array(
            [
                probs[ds.rec == k, 1:].max() if (ds.rec == k).any() else 0.0
                for k in range(len(ds.sources))
            ]
        )
        result["per_recording"] = {
            "recordings": len(ds.sources),
            "accuracy": float(np.mean((rec_score >= self.cfg["events"]["threshold"]) == has))
            if len(has)
            else None,
        }
        result["detections"] = [
            {"recording": ds.sources[k].path, "events": [{"onset": a, "end": b, "score": p, "label": lab} for a, b, p, lab in det]}
            for k, det in enumerate(dets)
        ]  # fmt: skip
        result["hours"] = hours
        result["y_true"] = y.tolist()
        result["scores"] = probs.round(5).tolist()
        return result


def _augmentations(texts: dict[str, str]) -> dict[str, Any]:
    """The config's ECVL augmentation text per split, parsed (empty text: none).

    Raises:
        DataError: naming the split, when the text does not parse.
    """
    from deephealth.ecvl.augment.factory import AugmentationFactory

    out = {}
    for split, text in texts.items():
        if not text.strip():
            continue
        try:
            out[split] = AugmentationFactory.create(text)
        except Exception as err:
            raise DataError(f"augmentations.{split}: {err}") from None
    return out
