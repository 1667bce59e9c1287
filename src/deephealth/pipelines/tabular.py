"""Clinical values as model inputs: encoding fitted on the training split, stored with the model.

`TabularEncoder(specs).fit(training_rows)` learns, from the training split only:

- numeric features: mean and standard deviation; a value becomes (v - mean) / std;
- date features: the earliest training date; a date becomes the days since it, then standardised;
- categorical features: the categories (declared `values`, else those seen in training); a value
  becomes a one-hot vector with one more column, `<name>=<other>`, for categories never seen;
- every input feature also gets a `<name>:missing` column (1 when the value is absent). A missing
  numeric or date value is imputed with the training mean (0 after standardisation); a missing
  categorical value is all zeros in its one-hot block.

Rows are mappings of feature name to raw value (text, as in the dataset YAML, or numbers). Only
features with role `input` are encoded; `targets` reads the `target` / `time` / `event` ones.
`to_json`/`from_json` store the fitted encoder beside the model, so serving applies the exact
training statistics. `check_row` validates a request's features against the schema and names the
first feature that is missing, unknown or out of range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from deephealth.ecvl.dataset.schema import FeatureSpec, parse_date
from deephealth.pipelines.data import DataError


class FeatureError(DataError):
    """A feature value does not fit the dataset's schema (names the feature)."""

    def __init__(self, feature: str, message: str) -> None:
        super().__init__(message)
        self.feature = feature


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    return text or None


class TabularEncoder:
    """Turns rows of clinical values into a float32 matrix (see the module docstring).

    Args:
        specs: The dataset's feature schema.
    """

    def __init__(self, specs: Sequence[FeatureSpec]) -> None:
        self.specs = list(specs)
        self.inputs = [s for s in self.specs if s.role == "input" and s.type not in ("id", "text")]
        self.stats: dict[str, dict[str, Any]] = {}

    # -- fitting -----------------------------------------------------------------------------
    def _number(self, spec: FeatureSpec, raw: str) -> float:
        if spec.type == "date":
            day = parse_date(raw)
            if day is None:
                raise FeatureError(spec.name, f"feature {spec.name!r}: {raw!r} is not a date")
            return float(day.toordinal())
        try:
            return float(raw)
        except ValueError:
            raise FeatureError(
                spec.name, f"feature {spec.name!r}: {raw!r} is not a number"
            ) from None

    def fit(self, rows: Sequence[Mapping[str, Any]]) -> TabularEncoder:
        """Learn the statistics of every input feature from `rows` (the training split only)."""
        for spec in self.inputs:
            values = [_text(r.get(spec.name)) for r in rows]
            present = [v for v in values if v is not None]
            if spec.type == "categorical":
                cats = list(spec.values) or sorted(set(present))
                self.stats[spec.name] = {"categories": cats}
                continue
            nums = np.array([self._number(spec, v) for v in present], dtype=np.float64)
            origin = float(nums.min()) if spec.type == "date" and nums.size else 0.0
            nums = nums - origin
            mean = float(nums.mean()) if nums.size else 0.0
            std = float(nums.std()) if nums.size > 1 else 1.0
            self.stats[spec.name] = {"origin": origin, "mean": mean, "std": std or 1.0}
        return self

    # -- encoding ----------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """Names of the encoded columns, in order."""
        out: list[str] = []
        for spec in self.inputs:
            if spec.type == "categorical":
                cats = self.stats[spec.name]["categories"]
                out += [f"{spec.name}={c}" for c in cats] + [f"{spec.name}=<other>"]
            else:
                out.append(spec.name)
            out.append(f"{spec.name}:missing")
        return out

    def blocks(self) -> dict[str, list[int]]:
        """Encoded column indices of each input feature (for permutation importance)."""
        out: dict[str, list[int]] = {}
        for i, col in enumerate(self.columns):
            name = col.split("=", 1)[0].split(":missing", 1)[0]
            out.setdefault(name, []).append(i)
        return out

    def transform(self, rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """The encoded matrix (N, len(columns)), float32.

        Raises:
            FeatureError: naming a feature whose value cannot be read.
        """
        if not self.stats and self.inputs:
            raise DataError("the tabular encoder is not fitted: call fit on the training split")
        out = np.zeros((len(rows), len(self.columns)), dtype=np.float32)
        for n, row in enumerate(rows):
            c = 0
            for spec in self.inputs:
                raw = _text(row.get(spec.name))
                st = self.stats[spec.name]
                if spec.type == "categorical":
                    cats = st["categories"]
                    if raw is not None:
                        out[n, c + (cats.index(raw) if raw in cats else len(cats))] = 1.0
                    c += len(cats) + 1
                else:
                    if raw is not None:
                        value = self._number(spec, raw) - st["origin"]
                        out[n, c] = (value - st["mean"]) / st["std"]
                    c += 1
                out[n, c] = 1.0 if raw is None else 0.0
                c += 1
        return out

    def targets(self, rows: Sequence[Mapping[str, Any]], role: str = "target") -> np.ndarray:
        """The values of the features with `role` (target, time or event), (N, k) float32.

        Raises:
            FeatureError: naming the feature of a sample that lacks it.
        """
        names = [s for s in self.specs if s.role == role]
        if not names:
            raise DataError(f"the dataset declares no feature with role {role!r}")
        out = np.zeros((len(rows), len(names)), dtype=np.float32)
        for n, row in enumerate(rows):
            for k, spec in enumerate(names):
                raw = _text(row.get(spec.name))
                if raw is None:
                    raise FeatureError(spec.name, f"sample {n}: no value for {role} {spec.name!r}")
                out[n, k] = self._number(spec, raw) if spec.type != "categorical" else float(raw)
        return out

    # -- validation of one request -------------------------------------------------------------
    def check_row(self, row: Mapping[str, Any], allow_missing: bool = False) -> None:
        """Validate one row of input features against the schema.

        A feature given as None (JSON `null`) is declared unknown: it is imputed as a missing
        value of the training data (its indicator set); a feature left out is an error unless
        `allow_missing`.

        Raises:
            FeatureError: naming the first unknown, missing or invalid feature.
        """
        known = {s.name for s in self.inputs}
        for name in row:
            if name not in known:
                raise FeatureError(
                    str(name), f"unknown feature {name!r} (expected: {', '.join(sorted(known))})"
                )
        for spec in self.inputs:
            raw = _text(row.get(spec.name))
            if raw is None:
                if not allow_missing and (spec.name not in row or row[spec.name] is not None):
                    raise FeatureError(spec.name, f"feature {spec.name!r} is missing")
                continue
            problem = spec.check(raw)
            if problem:
                raise FeatureError(spec.name, problem)

    # -- storage -------------------------------------------------------------------------------
    def to_json(self) -> str:
        """The schema and fitted statistics as JSON (stored beside the model)."""
        return json.dumps({"specs": [asdict(s) for s in self.specs], "stats": self.stats})

    @classmethod
    def from_json(cls, text: str) -> TabularEncoder:
        """The encoder stored by `to_json`."""
        data = json.loads(text)
        enc = cls([FeatureSpec(**s) for s in data["specs"]])
        enc.stats = data["stats"]
        return enc


def dataset_rows(dataset: Any, indices: Sequence[int] | None = None) -> list[dict[str, str]]:
    """The feature values of a pyecvl `Dataset`'s samples as rows of name -> text."""
    idx = range(len(dataset.samples_)) if indices is None else indices
    names = dataset.features_
    return [{names[k]: v for k, v in (dataset.samples_[i].values_ or {}).items()} for i in idx]
