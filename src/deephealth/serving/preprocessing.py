"""Preprocessing stored beside a served model: input layout, scaling, normalization, class names.

A `Preprocessing` is plain data (JSON): how to turn what a caller has (e.g. an 8-bit `HWC` image)
into the tensor the network expects (float32, channels first), and what the output classes are called.
It travels with the model in two interchangeable places, so any ONNX consumer can read it: the
ONNX file's metadata (`metadata_props` key `deephealth.preprocessing`, written at export) and a JSON
sidecar `<model>.preprocessing.json` (written by `save_preprocessing`). The sidecar wins when both
exist. Nothing here imports torch or onnx.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.errors import ServerError

METADATA_KEY = "deephealth.preprocessing"
SIDECAR_SUFFIX = ".preprocessing.json"


class PreprocessingError(ServerError, ValueError):
    """Preprocessing data is malformed or does not fit the input it is applied to."""


@dataclass(frozen=True)
class Preprocessing:
    """How raw samples become network input, and what the outputs mean.

    Attributes:
        layout: Axis letters of one sample as callers pass it (batch excluded): "CHW" (the
            network's own layout, no transpose), "HWC" (OpenCV/PIL images), "C", "CDHW", "DHWC"...
            The network always receives channels first.
        scale: Factor applied first (e.g. 1/255 for 8-bit images).
        mean: Per-channel mean subtracted after scaling (one value, or one per channel).
        std: Per-channel standard deviation divided by after subtracting the mean.
        class_names: Names of the output classes, in output order (may be empty).
    """

    layout: str = ""
    scale: float = 1.0
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    class_names: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        layout = self.layout.upper()
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(self, "scale", float(self.scale))
        if len(set(layout)) != len(layout) or (layout and "C" not in layout):
            raise PreprocessingError(
                f"layout {self.layout!r} must name each axis once and include the channel axis C"
            )
        if any(s == 0 for s in self.std):
            raise PreprocessingError(f"std must not contain zeros, got {list(self.std)}")

    @property
    def is_identity(self) -> bool:
        """True when `apply` would only cast to float32."""
        channels_first = not self.layout or self.layout[0] == "C"
        return channels_first and self.scale == 1.0 and not self.mean and not self.std

    def apply(self, x: np.ndarray, batched: bool) -> np.ndarray:
        """Turn samples in `layout` into float32 channels-first network input.

        Args:
            x: One sample (`batched=False`) or a batch whose axes follow `layout`.
            batched: Whether `x` has a leading batch axis.

        Returns:
            A C-contiguous float32 array, channels first (batch axis kept as given).

        Raises:
            PreprocessingError: when `x`'s rank or channel count does not fit.
        """
        x = np.asarray(x)
        lead = 1 if batched else 0
        if self.layout and x.ndim != len(self.layout) + lead:
            raise PreprocessingError(
                f"input of shape {x.shape} does not match layout {self.layout!r}"
                f"{' with a batch axis' if batched else ''}"
            )
        x = x.astype(np.float32, copy=False)
        if self.layout and self.layout[0] != "C":
            c = self.layout.index("C") + lead
            x = np.moveaxis(x, c, lead)
        if self.scale != 1.0:
            x = x * np.float32(self.scale)
        channels = x.shape[lead] if x.ndim > lead else 1
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values and len(values) not in (1, channels):
                raise PreprocessingError(
                    f"{name} has {len(values)} values but the input has {channels} channels"
                )
        if self.mean or self.std:
            bshape = (-1,) + (1,) * (x.ndim - lead - 1)
            if self.mean:
                x = x - np.asarray(self.mean, np.float32).reshape(bshape)
            if self.std:
                x = x / np.asarray(self.std, np.float32).reshape(bshape)
        return np.ascontiguousarray(x, dtype=np.float32)

    def to_json(self) -> str:
        """The preprocessing as a JSON string."""
        data = asdict(self)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        data["class_names"] = list(self.class_names)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "preprocessing") -> Preprocessing:
        """Parse `to_json` output; `source` names where it came from in errors."""
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as err:
            raise PreprocessingError(f"{source}: not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise PreprocessingError(f"{source}: expected a JSON object, got {type(data).__name__}")
        known = {"layout", "scale", "mean", "std", "class_names"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise PreprocessingError(
                f"{source}: unknown field(s) {unknown}; known: {sorted(known)}"
            )
        try:
            return cls(**data)
        except (TypeError, ValueError) as err:
            raise PreprocessingError(f"{source}: {err}") from None


def sidecar_path(model_path: str | os.PathLike[str]) -> Path:
    """The JSON sidecar path of a model file (`model.onnx` -> `model.onnx.preprocessing.json`)."""
    return Path(str(model_path) + SIDECAR_SUFFIX)


def save_preprocessing(model_path: str | os.PathLike[str], prep: Preprocessing) -> Path:
    """Write `prep` as the JSON sidecar of `model_path`; returns the sidecar path."""
    path = sidecar_path(model_path)
    path.write_text(prep.to_json() + "\n", encoding="utf-8")
    return path


def load_preprocessing(
    model_path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> Preprocessing:
    """The preprocessing of a model: its sidecar, else its ONNX metadata, else the identity."""
    path = sidecar_path(model_path)
    if path.is_file():
        return Preprocessing.from_json(path.read_text(encoding="utf-8"), str(path))
    if metadata and METADATA_KEY in metadata:
        return Preprocessing.from_json(metadata[METADATA_KEY], f"{model_path} metadata")
    return Preprocessing()
