"""The config of the ``signal_classification`` pipeline: the shared keys plus window, sampling and
event sections, validated with every problem listed by key (the same ``Field`` table and
``ConfigError`` as :mod:`deephealth.pipelines.config`)::

    version: 1
    task: signal_classification
    dataset: eeg/dataset.yml          # a recordings dataset (docs/dataset-format.md)
    model: cnn1d                      # cnn1d | resnet1d | cnnlstm | eegnet
    window: {length: 2, step: 1, rule: any, bandpass: [0.5, 40], notch: 50}
    sampling: {windows_per_epoch: 2000, balance: 0.5}
    events: {threshold: 0.5, smooth: 3, min_duration: 4, merge_gap: 10}
    epochs: 5
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from deephealth.pipelines.config import (
    CS_FIELDS,
    EXPORT_FIELDS,
    OPTIMIZER_FIELDS,
    ConfigError,
    Field,
    _augs,
    _check_section,
    _fraction,
    _int,
    _model_params,
    _one_of,
    _optional,
    _pos_int,
    _pos_num,
    _text,
)

TASK = "signal_classification"
MODELS = ("cnn1d", "resnet1d", "cnnlstm", "eegnet")


def _num_ge0(v: Any) -> str | None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
    return None if ok else f"must be a number >= 0, got {v!r}"


def _band(v: Any) -> str | None:
    ok = (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(f, (int, float)) for f in v)
        and 0 < v[0] < v[1]
    )
    return None if ok else f"must be [low, high] Hz with 0 < low < high, got {v!r}"


def _names(v: Any) -> str | None:
    return (
        None
        if isinstance(v, list) and all(isinstance(c, str) for c in v)
        else f"must be a list of channel names, got {v!r}"
    )


def _model(v: Any) -> str | None:
    return (
        None
        if isinstance(v, str) and (v.lower() in MODELS or v.endswith(".onnx"))
        else f"must be one of {list(MODELS)}, got {v!r}"
    )


WINDOW_FIELDS: dict[str, Field] = {
    "length": Field(2.0, _pos_num, "Window length in seconds."),
    "step": Field(None, _optional(_pos_num), "Seconds between training windows (default: length)."),
    "predict_step": Field(None, _optional(_pos_num), "Seconds between windows at evaluation/prediction (default: step)."),
    "rule": Field("any", _one_of(("any", "majority", "onset")), "Label rule: any overlap, majority, onset."),
    "min_overlap": Field(0.5, _fraction, "Fraction of the window for the majority rule."),
    "fs": Field(None, _optional(_pos_num), "Resample to this rate (default: the recordings')."),
    "channels": Field(None, _optional(_names), "Channels to use, in order (default: the first recording's)."),
    "bandpass": Field(None, _optional(_band), "Zero-phase band-pass [low, high] Hz."),
    "notch": Field(None, _optional(_pos_num), "Mains frequency to notch out (50 or 60)."),
    "normalize": Field("zscore", _one_of(("zscore", "none")), "Per-window per-channel normalisation."),
}  # fmt: skip
SAMPLING_FIELDS: dict[str, Field] = {
    "windows_per_epoch": Field(2000, _pos_int, "Training windows drawn per epoch."),
    "balance": Field(0.5, _fraction, "Share of event-class windows in an epoch (rare events)."),
}
EVENT_FIELDS: dict[str, Field] = {
    "threshold": Field(0.5, _fraction, "Probability above which a window is an event."),
    "smooth": Field(3, _pos_int, "Moving average over this many windows before thresholding."),
    "min_duration": Field(0.0, _num_ge0, "Shortest detected event kept (seconds)."),
    "merge_gap": Field(10.0, _num_ge0, "Detections closer than this (s) become one event."),
    "tolerance": Field(
        0.0, _num_ge0, "Seconds around a true event a detection may fall (scoring)."
    ),
}
SCHEMA: dict[str, Any] = {
    "version": Field(1, lambda v: None if v == 1 else f"unsupported schema version {v!r}", "Schema version."),
    "task": Field(None, _one_of((TASK,)), "signal_classification.", required=True),
    "dataset": Field(None, _text, "Recordings dataset YAML (relative to the config file).", required=True),
    "name": Field(None, _optional(_text), "Run name."),
    "model": Field(None, _optional(_model), "Zoo model (default cnn1d)."),
    "model_params": Field({}, _model_params, "Extra zoo model arguments (e.g. filters)."),
    "window": WINDOW_FIELDS,
    "sampling": SAMPLING_FIELDS,
    "events": EVENT_FIELDS,
    "augmentations": Field({}, _augs, "ECVL signal augmentation text per split."),
    "loss": Field(None, _optional(_text), "Loss (default softmax_cross_entropy)."),
    "optimizer": OPTIMIZER_FIELDS,
    "epochs": Field(5, _pos_int, "Training epochs."),
    "batch_size": Field(64, _pos_int, "Batch size."),
    "seed": Field(0, _int, "Random seed."),
    "computing_service": CS_FIELDS,
    "export": EXPORT_FIELDS,
}  # fmt: skip


def load_signal_config(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """Read and validate a signal pipeline config (dict, YAML file or YAML text); fill defaults.

    Raises:
        ConfigError: Listing every problem with its key.
    """
    base = None
    name = "config"
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        p = Path(source)
        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and p.suffix in (".yml", ".yaml")
        ):
            try:
                data = yaml.safe_load(p.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as e:
                raise ConfigError([("config", str(e))], str(p)) from None
            base, name = p.resolve().parent, str(p)
        else:
            data = yaml.safe_load(str(source))
    problems: list[tuple[str, str]] = []
    cfg = _check_section(data if data is not None else {}, SCHEMA, "", problems)
    if problems:
        raise ConfigError(problems, name)
    if base is not None and not Path(cfg["dataset"]).is_absolute():
        cfg["dataset"] = str(base / cfg["dataset"])
    cfg["model"] = (cfg["model"] or "cnn1d").lower()
    return cfg


def is_signal_config(source: Any) -> bool:
    """Whether a config (dict or YAML file) is for the signal pipeline."""
    try:
        data = (
            source
            if isinstance(source, Mapping)
            else yaml.safe_load(Path(source).read_text(encoding="utf-8"))
        )
    except (OSError, yaml.YAMLError, TypeError, ValueError):
        return False
    return isinstance(data, Mapping) and data.get("task") == TASK
