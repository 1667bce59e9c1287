"""The slide pipeline config: slides with labels or annotations, a tiler, a patch model.

A slide pipeline is one YAML (or dict) config with ``task: slide_classification`` (each slide
has a class ``label``) or ``task: patch_segmentation`` (each slide has a GeoJSON
``annotations`` file; ``classes[0]`` is the class of unannotated tissue). Slides carry a
``split`` (training, validation or test). The schema reuses the ``Field`` tables and the
checker of :mod:`deephealth.pipelines.config`, so an invalid config raises ``ConfigError``
listing every problem with its key (``slides[2].label: ...``, ``tiler.size: ...``).
``load_slide_config`` returns a plain dict with every default filled in and slide paths made
absolute against the config file's folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from deephealth.ecvl.dataset import yaml_limits
from deephealth.pipelines.config import (
    CS_FIELDS,
    EXPORT_FIELDS,
    OPTIMIZER_FIELDS,
    SCHEMA_VERSION,
    SPLITS,
    ConfigError,
    Field,
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
from deephealth.pipelines.pathology.aggregate import METHODS

SLIDE_TASKS = ("slide_classification", "patch_segmentation")
DEFAULT_MODEL = {"slide_classification": "lenet", "patch_segmentation": "unet"}
DEFAULT_MODEL_PARAMS = {"unet": {"base_filters": 8, "depth": 2}}


def _classes(v: Any) -> str | None:
    ok = isinstance(v, list) and len(v) >= 2 and all(isinstance(c, str) and c for c in v)
    if ok and len(set(v)) == len(v):
        return None
    return f"must be a list of at least 2 distinct class names, got {v!r}"


def _slides(v: Any) -> str | None:
    return None if isinstance(v, list) and v else f"must be a non-empty list of slides, got {v!r}"


SLIDE_FIELDS: dict[str, Field] = {
    "path": Field(None, _text, "Slide file (any format OpenSlide reads).", required=True),
    "label": Field(None, _optional(_text), "Slide class (slide_classification)."),
    "annotations": Field(None, _optional(_text), "GeoJSON annotations (patch_segmentation)."),
    "split": Field("training", _one_of(SPLITS), "training, validation or test."),
}
TILER_FIELDS: dict[str, Field] = {
    "size": Field(256, _pos_int, "Tile side in pixels."),
    "mpp": Field(None, _optional(_pos_num), "Microns per pixel of the tiles."),
    "magnification": Field(None, _optional(_pos_num), "Objective magnification, e.g. 10."),
    "level": Field(None, _optional(lambda v: _int(v) or (None if v >= 0 else "must be >= 0")),
                   "Pyramid level read as is."),
    "overlap": Field(0, lambda v: _int(v) or (None if v >= 0 else f"must be >= 0, got {v}"),
                     "Overlap between tiles in pixels."),
    "min_tissue": Field(0.5, lambda v: _fraction(v) if v != 1 else None,
                        "Minimum tissue fraction of a tile (0 keeps every tile)."),
}  # fmt: skip
SLIDE_SCHEMA: dict[str, Field | dict[str, Field]] = {
    "version": Field(SCHEMA_VERSION, lambda v: None if v == SCHEMA_VERSION else f"unsupported schema version {v!r}; this deephealth reads version {SCHEMA_VERSION}", "Schema version."),
    "task": Field(None, _one_of(SLIDE_TASKS), "slide_classification or patch_segmentation.", required=True),
    "name": Field(None, _optional(_text), "Run name (default: the task)."),
    "slides": Field(None, _slides, "Slides: {path, label | annotations, split}.", required=True),
    "classes": Field(None, _classes, "Class names (segmentation: the first is unannotated tissue).", required=True),
    "tiler": TILER_FIELDS,
    "model": Field(None, _optional(_text), "Zoo model name (default: lenet / unet)."),
    "model_params": Field({}, _model_params, "Extra arguments for the zoo model."),
    "epochs": Field(5, _pos_int, "Training epochs."),
    "batch_size": Field(32, _pos_int, "Tiles per batch."),
    "optimizer": OPTIMIZER_FIELDS,
    "aggregate": Field("mean", _one_of(METHODS), "Slide label from tiles: mean, vote, topk or max."),
    "workers": Field(2, _pos_int, "Tile-reader threads."),
    "seed": Field(0, _int, "Random seed."),
    "computing_service": CS_FIELDS,
    "export": EXPORT_FIELDS,
}  # fmt: skip


def _check_slides(cfg: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    """Check every slide entry (fields, label / annotations per task) and the splits."""
    task, classes = cfg.get("task"), cfg.get("classes")
    known = classes if _classes(classes) is None else None
    slides = cfg.get("slides")
    if not isinstance(slides, list):
        return
    checked = []
    for i, entry in enumerate(slides):
        key = f"slides[{i}]"
        slide = _check_section(entry, SLIDE_FIELDS, f"{key}.", problems)
        checked.append(slide)
        if not slide:
            continue
        if task == "slide_classification":
            label = slide.get("label")
            if label is None:
                problems.append((f"{key}.label", "is required for slide_classification"))
            elif known and isinstance(label, str) and label not in known:
                problems.append((f"{key}.label", f"{label!r} is not one of classes {known}"))
        elif task == "patch_segmentation" and slide.get("annotations") is None:
            problems.append((f"{key}.annotations", "is required for patch_segmentation"))
    cfg["slides"] = checked
    for split in ("training", "test"):
        if checked and all(s and s.get("split") != split for s in checked):
            problems.append(("slides", f"needs at least one slide with split: {split}"))


def _check_tiler(cfg: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    tiler = cfg.get("tiler", {})
    chosen = [k for k in ("mpp", "magnification", "level") if tiler.get(k) is not None]
    if len(chosen) > 1:
        problems.append(("tiler", f"choose one of mpp, magnification and level, got {chosen}"))
    size, overlap = tiler.get("size"), tiler.get("overlap")
    if _pos_int(size) is None and _int(overlap) is None and overlap >= size:
        problems.append(("tiler.overlap", f"must be smaller than tiler.size ({size})"))


def validate_slide_config(data: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """Check a slide pipeline config and fill in every default.

    Args:
        data: The parsed config.
        source: Name used in the error message (e.g. the file path).

    Returns:
        The complete config (a new dict; the task's default model resolved).

    Raises:
        ConfigError: listing every problem with its key.
    """
    problems: list[tuple[str, str]] = []
    cfg = _check_section(data, SLIDE_SCHEMA, "", problems)
    if cfg:
        _check_slides(cfg, problems)
        _check_tiler(cfg, problems)
    if problems:
        raise ConfigError(problems, source)
    cfg["model"] = cfg["model"] or DEFAULT_MODEL[cfg["task"]]
    defaults = DEFAULT_MODEL_PARAMS.get(cfg["model"].lower(), {})
    cfg["model_params"] = {**defaults, **cfg["model_params"]}
    return cfg


def load_slide_config(source: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """Read a slide pipeline config from a dict or a YAML file; validate it; fill defaults.

    Relative slide and annotation paths in a file are made absolute against its folder.

    Raises:
        ConfigError: when the file cannot be read or parsed, or the config is invalid.
    """
    if isinstance(source, Mapping):
        return validate_slide_config(source)
    path = Path(source)
    if not path.is_file():
        raise ConfigError([("config", f"file {str(path)!r} not found")], str(path))
    try:
        data = yaml_limits.safe_load(yaml_limits.read_text(path))
    except yaml.YAMLError as err:
        raise ConfigError([("config", f"is not valid YAML: {err}")], str(path)) from None
    if not isinstance(data, Mapping):
        raise ConfigError([("config", f"must be a YAML mapping, got {data!r}")], str(path))
    cfg = validate_slide_config(data, str(path))
    base = path.resolve().parent
    for slide in cfg["slides"]:
        for key in ("path", "annotations"):
            if slide[key] is not None and not Path(slide[key]).is_absolute():
                slide[key] = str(base / slide[key])
    return cfg
