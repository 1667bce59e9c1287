"""The pipeline config: a versioned YAML schema with defaults, and its validator.

A pipeline is described by one YAML (or dict) config. Only `task` and `dataset` are required; every
other key has a default good for a first run, so a five-line config works::

    version: 1
    task: segmentation
    dataset: nuclei/dataset.yml
    model: unet
    epochs: 20

`load_config` reads the YAML, checks it against the schema of its `version` and returns a plain dict
with every default filled in (JSON-ready, stored with each run). An invalid config raises
`ConfigError` listing every problem with its key (`optimizer.lr: must be a number > 0, got 'fast'`),
not only the first. `SCHEMA` is the single table of keys, so `describe_schema` documents it.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deephealth.ecvl.dataset import yaml_limits
from deephealth.errors import PipelineError

SCHEMA_VERSION = 1
TASKS = (
    "classification", "segmentation", "regression", "scalar_regression", "survival",
    "multimodal_classification", "detection",
)  # fmt: skip
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam")
NORMALIZATIONS = ("minmax", "zscore", "divby255", "none")
SPLITS = ("training", "validation", "test")
METRICS = {
    "classification": (
        "accuracy", "error_rate", "sensitivity", "specificity", "precision", "f1",
        "balanced_accuracy", "roc_auc",
    ),
    "segmentation": ("dice", "iou", "miou", "hausdorff95", "volume_similarity"),
    "regression": ("mse", "mae", "psnr"),
    "scalar_regression": ("mae", "rmse", "r2"),
    "survival": ("c_index", "td_auc"),
    "detection": ("map50", "map", "map75", "cpm"),
}  # fmt: skip
METRICS["multimodal_classification"] = METRICS["classification"]
DEFAULT_METRICS = {
    "classification": ["accuracy", "sensitivity", "specificity", "f1", "roc_auc"],
    "segmentation": ["dice", "iou"],
    "regression": ["mse", "mae", "psnr"],
    "scalar_regression": ["mae", "rmse", "r2"],
    "survival": ["c_index", "td_auc"],
    "multimodal_classification": ["accuracy", "sensitivity", "specificity", "f1", "roc_auc"],
    "detection": ["map50", "map"],
}
CLINICAL_TASKS = ("scalar_regression", "survival", "multimodal_classification")
MONITOR = {
    "classification": "accuracy", "segmentation": "dice", "regression": "mse",
    "scalar_regression": "r2", "survival": "c_index", "multimodal_classification": "accuracy",
    "detection": "map50",
}  # fmt: skip


class ConfigError(PipelineError, ValueError):
    """An invalid config; `problems` lists (key, message) for every problem found."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "config") -> None:
        self.problems = problems
        lines = "\n".join(f"  {key}: {msg}" for key, msg in problems)
        super().__init__(f"{source} has {len(problems)} problem(s):\n{lines}")


Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Field:
    """One config key: its default, a check returning an error message or None, and its doc."""

    default: Any
    check: Check
    doc: str
    required: bool = False


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _pos_int(v: Any) -> str | None:
    return None if _is_int(v) and v > 0 else f"must be an integer > 0, got {v!r}"


def _int(v: Any) -> str | None:
    return None if _is_int(v) else f"must be an integer, got {v!r}"


def _pos_num(v: Any) -> str | None:
    return None if _is_num(v) and v > 0 else f"must be a number > 0, got {v!r}"


def _fraction(v: Any) -> str | None:
    return None if _is_num(v) and 0 <= v < 1 else f"must be a number in [0, 1), got {v!r}"


def _text(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else f"must be a non-empty string, got {v!r}"


def _one_of(options: tuple[str, ...]) -> Check:
    def check(v: Any) -> str | None:
        return None if v in options else f"must be one of {list(options)}, got {v!r}"

    return check


def _optional(check: Check) -> Check:
    def wrapped(v: Any) -> str | None:
        return None if v is None else check(v)

    return wrapped


def _size(v: Any) -> str | None:
    if isinstance(v, list | tuple) and len(v) in (2, 3) and all(_is_int(d) and d > 0 for d in v):
        return None
    return f"must be a list of 2 (H, W) or 3 (D, H, W) integers > 0, got {v!r}"


def _model(v: Any) -> str | None:
    if isinstance(v, str) and v.strip():
        return None
    return f"must be a zoo model name or an .onnx path, got {v!r}"


def _metrics(v: Any) -> str | None:
    if isinstance(v, list) and v and all(isinstance(m, str) for m in v):
        return None
    return f"must be a non-empty list of metric names, got {v!r}"


def _augs(v: Any) -> str | None:
    if not isinstance(v, Mapping):
        return f"must map split names to ECVL augmentation text, got {v!r}"
    bad = [k for k, t in v.items() if not isinstance(t, str)]
    return f"splits {bad} must hold augmentation text (a string)" if bad else None


def _model_params(v: Any) -> str | None:
    return None if isinstance(v, Mapping) else f"must be a mapping of model arguments, got {v!r}"


OPTIMIZER_FIELDS: dict[str, Field] = {
    "name": Field("adam", _one_of(OPTIMIZERS), "Optimizer (pyeddl name)."),
    "lr": Field(1e-3, _pos_num, "Learning rate."),
    "momentum": Field(0.9, _fraction, "Momentum (sgd, rmsprop)."),
    "weight_decay": Field(0.0, lambda v: None if _is_num(v) and v >= 0 else f"must be >= 0, got {v!r}", "L2 weight decay."),
}  # fmt: skip
CS_FIELDS: dict[str, Field] = {
    "type": Field("cpu", _one_of(("cpu", "gpu")), "Computing service: cpu or gpu."),
    "threads": Field(-1, _int, "CPU threads (-1: all)."),
    "gpus": Field([1], lambda v: None if isinstance(v, list) and all(g in (0, 1) for g in v) else f"must be a 0/1 mask list, got {v!r}", "GPU mask as pyeddl's CS_GPU."),
    "mixed_precision": Field(None, _optional(_one_of(("bf16", "fp16"))), "bf16 or fp16 on GPU."),
}  # fmt: skip
PATCH_FIELDS: dict[str, Field] = {
    "size": Field(None, _optional(_size), "Patch size; enables patch training + sliding window."),
    "per_image": Field(4, _pos_int, "Patches drawn per image/volume and epoch."),
    "foreground_fraction": Field(0.5, lambda v: None if _is_num(v) and 0 <= v <= 1 else f"must be in [0, 1], got {v!r}", "Share of patches centred on the label."),
    "overlap": Field(0.5, _fraction, "Sliding-window overlap between neighbouring windows."),
    "blend": Field("gaussian", _one_of(("gaussian", "constant")), "Weights for blending overlapping windows."),
}  # fmt: skip
EXPORT_FIELDS: dict[str, Field] = {
    "tolerance": Field(1e-4, _pos_num, "Max abs difference allowed by the onnxruntime check."),
}
PARALLEL_FIELDS: dict[str, Field] = {
    "baseline_run": Field(None, _optional(_text), "Run folder of a one-process run on the same data: its training time gives the speedup and efficiency of a parallel run."),
    "mode": Field("gradients", _one_of(("gradients", "weights")), "gradients: all-reduce every step (same result as one process); weights: average the weights every lsb batches, as EDDL's MPI branch."),
    "lsb": Field(1, _pos_int, "Batches between weight averages (mode weights)."),
    "sync_batchnorm": Field(False, lambda v: None if isinstance(v, bool) else f"must be true or false, got {v!r}", "Batch-norm statistics over the global batch."),
    "compression": Field(None, _optional(_one_of(("bf16", "fp16"))), "Send gradients as 16-bit floats (half the bytes; for slow networks and CPU nodes)."),
}  # fmt: skip
LOADER_FIELDS: dict[str, Field] = {
    "workers": Field(0, lambda v: None if _is_int(v) and v >= 0 else f"must be an integer >= 0, got {v!r}", "Loader threads (0: auto, half the cores up to 4); onnxruntime gets the other cores."),
    "queue": Field(2, _pos_int, "Batches each worker may load ahead (the bound on memory)."),
    "cache": Field(None, _optional(_text), "Folder for the on-disk cache of the deterministic preprocessing (keyed by its text; relative to the config file)."),
    "hold_mb": Field(64, lambda v: None if _is_int(v) and v >= 0 else f"must be an integer >= 0, got {v!r}", "Patch training: MB of preprocessed images kept in RAM for reuse (least recently used dropped first), so one decode serves every patch drawn from a held image; the bound does not grow with the dataset; 0: off."),
}  # fmt: skip
DETECTION_FIELDS: dict[str, Field] = {
    "score_threshold": Field(0.05, _fraction, "Detection: boxes scoring at most this are dropped (before non-maximum suppression)."),
    "iou_threshold": Field(0.5, lambda v: None if _is_num(v) and 0 < v <= 1 else f"must be in (0, 1], got {v!r}", "Detection: non-maximum suppression drops a box overlapping a better one of its class above this IoU."),
    "max_per_class": Field(100, _pos_int, "Detection: boxes kept per image and class."),
    "heat_prior": Field(0.01, _optional(lambda v: None if _is_num(v) and 0 < v < 1 else f"must be in (0, 1), got {v!r}"), "3D detection: initial heat-map probability of a newly built CenterNet3D (its heat-map biases are set to it after the build; null keeps the layer's own initialisation)."),
}  # fmt: skip
CHECKPOINT_FIELDS: dict[str, Field] = {
    "every_batches": Field(None, _optional(_pos_int), "Also checkpoint every this many batches within an epoch (weights, optimizer, random state and the sampler's position), so a killed run resumes mid-epoch."),
}  # fmt: skip
EARLY_FIELDS: dict[str, Field] = {
    "patience": Field(
        None, _optional(_pos_int), "Stop after this many epochs without improvement."
    ),
}

SCHEMA: dict[str, Field | dict[str, Field]] = {
    "version": Field(SCHEMA_VERSION, lambda v: None if v == SCHEMA_VERSION else f"unsupported schema version {v!r}; this deephealth reads version {SCHEMA_VERSION}", "Schema version."),
    "task": Field(None, _one_of(TASKS), "classification, segmentation, regression (image to image), scalar_regression, survival or multimodal_classification (image + clinical values), or detection.", required=True),
    "dataset": Field(None, _text, "DeepHealth dataset YAML (relative to the config file).", required=True),
    "name": Field(None, _optional(_text), "Run name (default: dataset name + task)."),
    "model": Field(None, _optional(_model), "Zoo model name or .onnx file (default per task and dimension)."),
    "model_params": Field({}, _model_params, "Extra arguments for the zoo model (e.g. base_filters)."),
    "input_size": Field(None, _optional(_size), "Resize to this size (default: the first image's size)."),
    "normalize": Field("minmax", _one_of(NORMALIZATIONS), "Intensity normalization per image."),
    "augmentations": Field({}, _augs, "ECVL augmentation text per split name."),
    "loss": Field(None, _optional(_text), "Loss (pyeddl name; default per task)."),
    "metrics": Field(None, _optional(_metrics), "Validation metrics shown per epoch (default per task)."),
    "monitor": Field(None, _optional(_text), "Validation metric that selects the best model."),
    "optimizer": OPTIMIZER_FIELDS,
    "epochs": Field(10, _pos_int, "Training epochs."),
    "batch_size": Field(8, _pos_int, "Batch size."),
    "seed": Field(0, _int, "Random seed."),
    "computing_service": CS_FIELDS,
    "patch": PATCH_FIELDS,
    "early_stopping": EARLY_FIELDS,
    "parallel": PARALLEL_FIELDS,
    "export": EXPORT_FIELDS,
    "loader": LOADER_FIELDS,
    "checkpoint": CHECKPOINT_FIELDS,
    "ablation": Field(False, lambda v: None if isinstance(v, bool) else f"must be true or false, got {v!r}", "Clinical tasks: also train the image-only and tabular-only baselines and report the ablation table."),
    "detection": DETECTION_FIELDS,
}  # fmt: skip


def _unknown(key: str, options: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(options), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (known: {sorted(options)})"


def _check_section(
    data: Any, fields: Mapping[str, Any], prefix: str, problems: list[tuple[str, str]]
) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        problems.append((prefix.rstrip(".") or "config", f"must be a mapping, got {data!r}"))
        return {}
    out: dict[str, Any] = {}
    for key in data:
        if key not in fields:
            problems.append((f"{prefix}{key}", _unknown(str(key), fields)))
    for key, spec in fields.items():
        full = f"{prefix}{key}"
        if isinstance(spec, dict):
            sub = data.get(key)
            if isinstance(sub, str) and key in ("optimizer", "computing_service"):
                sub = {"name" if key == "optimizer" else "type": sub}
            out[key] = _check_section({} if sub is None else sub, spec, f"{full}.", problems)
            continue
        if key not in data or (data[key] is None and spec.required):
            if spec.required:
                problems.append((full, "is required"))
            out[key] = copy.deepcopy(spec.default)
            continue
        msg = spec.check(data[key])
        if msg:
            problems.append((full, msg))
        out[key] = data[key]
    return out


def _cross_checks(cfg: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    task = cfg.get("task")
    if task not in TASKS:
        return
    metrics = cfg.get("metrics")
    if isinstance(metrics, list):
        for i, m in enumerate(metrics):
            if isinstance(m, str) and m not in METRICS[task]:
                problems.append(
                    (f"metrics[{i}]", f"unknown {task} metric {m!r}; use {list(METRICS[task])}")
                )
    monitor = cfg.get("monitor")
    if isinstance(monitor, str) and monitor not in (*METRICS[task], "loss"):
        problems.append(
            ("monitor", f"must be 'loss' or a {task} metric {list(METRICS[task])}, got {monitor!r}")
        )
    patch = cfg.get("patch", {}).get("size")
    size = cfg.get("input_size")
    if cfg.get("ablation") is True and task not in CLINICAL_TASKS:
        problems.append(("ablation", f"the modality ablation is for clinical tasks, not {task}"))
    if patch is not None and task not in ("segmentation", "detection"):
        problems.append(
            ("patch.size", f"patch training is for segmentation and detection, not {task}")
        )
    if _size(patch) is None and _size(size) is None and len(patch) != len(size):
        problems.append(("patch.size", f"has {len(patch)} dims but input_size has {len(size)}"))
    for split in (
        cfg.get("augmentations", {}) if isinstance(cfg.get("augmentations"), Mapping) else {}
    ):
        if not isinstance(split, str):
            problems.append((f"augmentations.{split}", "split names must be strings"))  # fmt: skip


def validate_config(data: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """Check a config against the schema and fill in every default.

    Args:
        data: The parsed config.
        source: Name used in the error message (e.g. the file path).

    Returns:
        The complete config (a new dict; task-dependent defaults resolved).

    Raises:
        ConfigError: listing every problem with its key.
    """
    problems: list[tuple[str, str]] = []
    cfg = _check_section(data, SCHEMA, "", problems)
    if cfg:
        _cross_checks(cfg, problems)
    if problems:
        raise ConfigError(problems, source)
    task = cfg["task"]
    cfg["metrics"] = cfg["metrics"] or list(DEFAULT_METRICS[task])
    cfg["monitor"] = cfg["monitor"] or MONITOR[task]
    return cfg


def load_config(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """Read a config from a dict, a YAML file path, or YAML text; validate it; fill defaults.

    A relative `dataset` (and `model` ending in .onnx) in a file is made absolute against the
    file's folder.

    Raises:
        ConfigError: when the file cannot be read or parsed, or the config is invalid.
    """
    base: Path | None = None
    name = "config"
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        text = str(source)
        path = Path(text)
        if isinstance(source, Path) or ("\n" not in text and text.endswith((".yml", ".yaml"))):
            if not path.is_file():
                raise ConfigError([("config", f"file {str(path)!r} not found")], str(path))
            base, name = path.resolve().parent, str(path)
            try:
                text = yaml_limits.read_text(path)
            except yaml.YAMLError as err:
                raise ConfigError([("config", f"cannot be read: {err}")], name) from None
        try:
            data = yaml_limits.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError([("config", f"is not valid YAML: {err}")], name) from None
        if not isinstance(data, Mapping):
            raise ConfigError([("config", f"must be a YAML mapping, got {data!r}")], name)
    cfg = validate_config(data, name)
    if base is not None:
        cache = cfg["loader"].get("cache")
        if cache and not Path(cache).is_absolute():
            cfg["loader"]["cache"] = str(base / cache)
        for key in ("dataset", "model"):
            val = cfg.get(key)
            if isinstance(val, str) and (key == "dataset" or val.endswith(".onnx")):
                if not Path(val).is_absolute():
                    cfg[key] = str(base / val)
    return cfg


def describe_schema() -> str:
    """The schema as indented text: key, default and description, for `--help` and the docs."""
    lines = [f"Pipeline config, schema version {SCHEMA_VERSION}:"]

    def walk(fields: Mapping[str, Any], indent: str) -> None:
        for key, spec in fields.items():
            if isinstance(spec, dict):
                lines.append(f"{indent}{key}:")
                walk(spec, indent + "  ")
            else:
                default = "(required)" if spec.required else f"[default: {spec.default!r}]"
                lines.append(f"{indent}{key}: {spec.doc} {default}")

    walk(SCHEMA, "  ")
    return "\n".join(lines)
