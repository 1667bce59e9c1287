"""The feature schema of a DeepHealth dataset: what each clinical value is, declared once.

In the dataset YAML, an entry of `features` is either a bare name (a value of unknown type, kept
as text, as in pyecvl) or a mapping that declares it::

    features:
      - {name: patient, type: id}                        # groups samples by patient
      - {name: age, type: numeric, unit: years, min: 0, max: 120}
      - {name: sex, type: categorical, values: [F, M]}
      - {name: scan_date, type: date}                    # ISO 8601, e.g. 2021-03-04
      - {name: mmse_24m, type: numeric, role: target}    # a regression target
      - {name: months, type: numeric, role: time}        # survival: time to event / censoring
      - {name: relapse, type: categorical, values: [0, 1], role: event}

`role` is `input` (the default: a model input), `target`, `time`, `event`, or `none` (kept but
not used). Every value of a sample is checked against its feature's declaration (a number, inside
[min, max], one of `values`, a valid date); each problem becomes a `DatasetIssue` with its line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TYPES = ("numeric", "categorical", "date", "id", "text")
ROLES = ("input", "target", "time", "event", "none")
KEYS = ("name", "type", "unit", "values", "min", "max", "role", "description")

IssueFn = Callable[[Any, str, str], None]


@dataclass
class FeatureSpec:
    """One declared feature.

    Attributes:
        name: Feature name (the key in a sample's `values`).
        type: One of `TYPES`; `text` for a bare name.
        role: One of `ROLES`.
        unit: Unit of a numeric value (documentation only).
        values: Allowed values of a categorical feature (as text), or empty.
        min: Smallest allowed numeric value, or None.
        max: Largest allowed numeric value, or None.
        description: Free text.
    """

    name: str
    type: str = "text"
    role: str = "input"
    unit: str = ""
    values: list[str] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    description: str = ""

    def check(self, raw: str) -> str | None:
        """Why `raw` (a sample's value, as text) is not valid for this feature, or None."""
        if self.type == "numeric":
            try:
                v = float(raw)
            except ValueError:
                return f"feature {self.name!r}: {raw!r} is not a number"
            if v != v:
                return f"feature {self.name!r}: NaN is not a value (leave the value out instead)"
            if self.min is not None and v < self.min:
                return f"feature {self.name!r}: {raw} is below its minimum {self.min:g}"
            if self.max is not None and v > self.max:
                return f"feature {self.name!r}: {raw} is above its maximum {self.max:g}"
        elif self.type == "categorical" and self.values and raw not in self.values:
            return (
                f"feature {self.name!r}: {raw!r} is not one of its values "
                f"({', '.join(self.values)})"
            )
        elif self.type == "date" and parse_date(raw) is None:
            return f"feature {self.name!r}: {raw!r} is not an ISO 8601 date (YYYY-MM-DD)"
        return None

    def as_dict(self) -> dict[str, Any]:
        """The declaration as written in the YAML (defaults left out)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.role != "input":
            out["role"] = self.role
        for key in ("unit", "description"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.values:
            out["values"] = list(self.values)
        for key in ("min", "max"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def parse_date(raw: str) -> dt.date | None:
    """An ISO 8601 date (a datetime's date part), or None."""
    try:
        return dt.date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


def _number(value: Any, what: str, where: Any, issue: IssueFn) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        issue(where, "feature-schema", f"{what} must be a number, got {value!r}")
        return None
    return float(value)


def decode_feature(entry: Any, issue: IssueFn) -> FeatureSpec | None:
    """The spec of one `features` entry (a name or a mapping); problems go to `issue`."""
    if isinstance(entry, (str, int, float)) and not isinstance(entry, bool):
        return FeatureSpec(name=str(entry))
    if not isinstance(entry, dict):
        issue(entry, "type", f"features entry {entry!r} is not a name or a mapping")
        return None
    unknown = [k for k in entry if k not in KEYS]
    for key in unknown:
        issue(entry, "feature-schema", f"feature entry: unknown key {key!r} (known: "
              f"{', '.join(KEYS)})")  # fmt: skip
    name = entry.get("name")
    if name is None or isinstance(name, (dict, list)):
        issue(entry, "feature-schema", "a feature mapping needs a 'name'")
        return None
    spec = FeatureSpec(name=str(name))
    kind = str(entry.get("type", "numeric" if "min" in entry or "max" in entry else "text"))
    if kind not in TYPES:
        issue(entry, "feature-schema", f"feature {spec.name!r}: unknown type {kind!r} "
              f"(known: {', '.join(TYPES)})")  # fmt: skip
        kind = "text"
    spec.type = kind
    role = str(entry.get("role", "input"))
    if role not in ROLES:
        issue(entry, "feature-schema", f"feature {spec.name!r}: unknown role {role!r} "
              f"(known: {', '.join(ROLES)})")  # fmt: skip
        role = "none"
    spec.role = "none" if kind == "id" and "role" not in entry else role
    spec.unit = str(entry.get("unit") or "")
    spec.description = str(entry.get("description") or "")
    values = entry.get("values")
    if values is not None:
        if not isinstance(values, list) or not values:
            issue(entry, "feature-schema", f"feature {spec.name!r}: values must be a list")
        else:
            spec.values = [str(v) for v in values]
            if kind != "categorical":
                issue(entry, "feature-schema", f"feature {spec.name!r}: values are for "
                      "categorical features")  # fmt: skip
    spec.min = _number(entry.get("min"), f"feature {spec.name!r}: min", entry, issue)
    spec.max = _number(entry.get("max"), f"feature {spec.name!r}: max", entry, issue)
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        issue(
            entry, "feature-schema", f"feature {spec.name!r}: min {spec.min:g} > max {spec.max:g}"
        )
    if (spec.min is not None or spec.max is not None) and kind != "numeric":
        issue(entry, "feature-schema", f"feature {spec.name!r}: min/max are for numeric features")
    return spec
