"""Prediction on files: read images/volumes with ECVL, run the exported ONNX model, write results.

Used by `pipelines.run.predict` and `deephealth predict`. The pre-processing is the run's (size,
normalization, patches with sliding windows); a bare `.onnx` file gets min-max normalization at the
stored size. Classification writes `predictions.csv`; segmentation writes one mask per input (PNG
0/255 for binary 2D masks, label values otherwise, NIfTI for volumes); regression one image per input
(float TIFF for 2D, NIfTI for 3D). Clinical models (`scalar_regression`, `survival`) also take a
JSON of clinical values per input, validated against the dataset's schema stored beside the model
(a missing, unknown or out-of-range feature is an error naming it); they write `predictions.csv`
with the values in the target's units, or the risk score.
(float TIFF for 2D, NIfTI for 3D); detection (a model with boxes, scores, labels and image outputs)
writes `predictions.json` (boxes in the input's own pixels, scores, class names) and
`predictions_coco.json` (a COCO document: images, categories, and the boxes as annotations with
their `score`); a 3D detection run predicts each volume by sliding windows with merged detections
(`predictions.json` only: COCO has no 3D boxes).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.errors import PipelineError
from deephealth.pipelines.data import image_to_chw, normalize, resize_chw, write_array
from deephealth.pipelines.sliding_window import sliding_window_inference

EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".nii", ".nii.gz", ".dcm", ".npy")


class PredictError(PipelineError, ValueError):
    """A model or input given to `predict` is missing or unusable."""


def collect_inputs(inputs: list[Path]) -> list[Path]:
    """Expand folders into their image files (sorted); keep files as given.

    Raises:
        PredictError: for a path that does not exist, or when nothing is found.
    """
    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.name.lower().endswith(EXTENSIONS))
        elif p.is_file():
            files.append(p)
        else:
            raise PredictError(f"input {p} does not exist")
    if not files:
        raise PredictError(f"no image files found in {[str(p) for p in inputs]}")
    return files


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".nii.gz", *EXTENSIONS):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


def _model_settings(model: Path) -> tuple[Path, dict[str, Any]]:
    if model.is_dir():
        cfg_path, onnx = model / "config.json", model / "model.onnx"
        if not cfg_path.is_file() or not onnx.is_file():
            raise PredictError(f"{model} is not a finished run folder (config.json + model.onnx)")
        return onnx, json.loads(cfg_path.read_text())
    if model.suffix != ".onnx" or not model.is_file():
        raise PredictError(f"model {model} is neither a run folder nor an .onnx file")
    return model, {"task": None, "input_size": None, "normalize": "minmax", "patch": {}}


def _features_of(path: Path, features: Any, count: int) -> dict[str, Any]:
    """The clinical values given for one input: a mapping of file name (or stem) to values, or
    one mapping of values when there is one input."""
    if not isinstance(features, dict):
        raise PredictError("this model takes clinical values: pass features (a JSON object)")
    for key in (path.name, _stem(path), str(path)):
        if isinstance(features.get(key), dict):
            return dict(features[key])
    if count == 1 and not any(isinstance(v, dict) for v in features.values()):
        return dict(features)
    raise PredictError(f"no clinical values given for input {path.name} (key it by file name)")


def _clinical_forward(session: Any, state: dict[str, Any], row: dict[str, Any], path: Path) -> Any:
    """forward(batch) for a model that also takes the clinical values `row` (validated)."""
    from deephealth.pipelines.tabular import FeatureError
    from deephealth.pipelines.tasks.clinical import encode_request

    try:
        feats = encode_request(state, row)
    except FeatureError as err:
        raise PredictError(f"input {path.name}: {err}") from None

    def forward(batch: np.ndarray) -> np.ndarray:
        given = {"image": np.ascontiguousarray(batch, dtype=np.float32), "features": feats}
        return np.asarray(session.run(*[given[n] for n in session.input_names]))

    return forward


def predict_files(
    model: Path, inputs: list[Path], out_dir: Path, features: Any = None
) -> list[dict[str, Any]]:
    """See `pipelines.run.predict`."""
    import deephealth.ecvl as ecvl
    from deephealth.pipelines.tasks.clinical import load_fitted_state, outputs_in_units
    from deephealth.serving import InferenceSession

    onnx, cfg = _model_settings(model)
    files = collect_inputs(inputs)
    session = InferenceSession(onnx)
    state = load_fitted_state(onnx, session.metadata)
    out_dir.mkdir(parents=True, exist_ok=True)
    patch = (cfg.get("patch") or {}).get("size")
    records: list[dict[str, Any]] = []
    for path in files:
        try:
            x = image_to_chw(ecvl.ImRead(str(path)))
        except Exception as err:
            raise PredictError(f"cannot read input {path}: {err}") from None
        original = x.shape[1:]
        if cfg.get("input_size"):
            x, _ = resize_chw(x, None, tuple(cfg["input_size"]), "nearest")
        scale = [o / s for o, s in zip(original, x.shape[1:])]  # model -> input pixels
        x = normalize(x, cfg.get("normalize", "minmax"))

        def forward(batch: np.ndarray) -> Any:  # several outputs (a 3D detector's): a list
            out = session.run(np.ascontiguousarray(batch, dtype=np.float32))
            return out if isinstance(out, list) else np.asarray(out)

        if state is not None:  # image + clinical values (scalar_regression, survival)
            row = _features_of(path, features, len(files))
            out = _clinical_forward(session, state, row, path)(x[None])[0]
            result = outputs_in_units(state, out)
            records.append({"input": str(path), "output": None, "class": result.get("label"),
                            "scores": None, "features": row, **result})  # fmt: skip
            continue
        if len(session.output_names) == 4 and "boxes" in session.output_names:
            records.append(_detect(session, path, x, scale))
            continue
        if cfg.get("task") == "detection" and patch:  # volumes: sliding windows, merged
            records.append(_detect_volume(forward, path, x, cfg, scale, session.class_names))
            continue
        if patch:
            p = cfg["patch"]
            out = sliding_window_inference(x, patch, forward, p["overlap"], p["blend"])
        else:
            out = forward(x[None])[0]
        task = cfg.get("task") or ("classification" if out.ndim == 1 else "segmentation")
        record: dict[str, Any] = {"input": str(path), "output": None, "class": None, "scores": None}
        ext = ".nii.gz" if out.ndim == 4 else ".png"
        if task == "classification":
            k = int(np.argmax(out))
            names = session.class_names
            record.update({"class": names[k] if k < len(names) else k, "scores": out.tolist()})
        elif task == "segmentation":
            labels = (out[0] > 0.5).astype(np.uint8) if out.shape[0] == 1 else out.argmax(0)
            labels = labels.astype(np.uint8)
            if out.shape[0] == 1 and ext == ".png":
                labels = labels * 255
            record["output"] = str(out_dir / f"{_stem(path)}_mask{ext}")
            write_array(record["output"], labels)
        else:
            ext = ".nii.gz" if out.ndim == 4 else ".tif"
            record["output"] = str(out_dir / f"{_stem(path)}_pred{ext}")
            write_array(record["output"], out[0].astype(np.float32))
        records.append(record)
    if any("boxes" in r for r in records):
        _write_detections(records, out_dir, session.class_names)
    if state is not None:
        with (out_dir / "predictions.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            what = {"survival": "risk", "multimodal_classification": "probabilities"}
            key = what.get(state["task"], "values")
            writer.writerow(["input", *(["class"] if "label" in records[0] else []), key])
            for r in records:
                v = list(r[key].values()) if isinstance(r[key], dict) else np.ravel(r[key])
                label = [r["label"]] if "label" in r else []
                writer.writerow([r["input"], *label, " ".join(f"{s:.6g}" for s in v)])
    elif any(r["class"] is not None for r in records):
        with (out_dir / "predictions.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["input", "class", "scores"])
            for r in records:
                writer.writerow([r["input"], r["class"], " ".join(f"{s:.5f}" for s in r["scores"])])
    return records


def _detect(session: Any, path: Path, x: np.ndarray, scale: list[float]) -> dict[str, Any]:
    """Boxes of one 2D input with a detector, in the input's own pixels (`scale`: input pixels
    per model pixel, numpy order)."""
    boxes, scores, labels, _ = session.run(np.ascontiguousarray(x[None], dtype=np.float32))
    sy, sx = scale[-2:]
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) * [sx, sy, sx, sy]
    names = session.class_names
    return {
        "input": str(path), "output": None, "class": None, "scores": None,
        "size": [int(round(x.shape[-1] * sx)), int(round(x.shape[-2] * sy))],
        "boxes": [[round(float(v), 3) for v in b] for b in boxes],
        "box_scores": [round(float(v), 5) for v in scores],
        "labels": [names[int(k)] if int(k) < len(names) else int(k) for k in labels],
    }  # fmt: skip


def _detect_volume(
    forward: Any, path: Path, x: np.ndarray, cfg: dict[str, Any], scale: list[float],
    names: tuple[str, ...],
) -> dict[str, Any]:  # fmt: skip
    """Boxes [x0, y0, z0, x1, y1, z1] of one volume with a 3D detector run (sliding windows)."""
    from deephealth.eddl.zoo.detection.centernet3d import detect_volume

    p, d = cfg["patch"], cfg.get("detection") or {}
    classes = max(1, len(names))
    stride = int((cfg.get("model_params") or {}).get("stride", 2))
    det = detect_volume(x, forward, p["size"], classes, stride, p["overlap"],
                        max(float(d.get("score_threshold", 0.05)), 0.1))  # fmt: skip
    sz, sy, sx = scale
    boxes = det["boxes"] * [sx, sy, sz, sx, sy, sz]
    return {
        "input": str(path), "output": None, "class": None, "scores": None,
        "size": [int(round(x.shape[-1] * sx)), int(round(x.shape[-2] * sy)),
                 int(round(x.shape[-3] * sz))],
        "boxes": [[round(float(v), 3) for v in b] for b in boxes],
        "box_scores": [round(float(v), 5) for v in det["scores"]],
        "labels": [names[int(k)] if int(k) < len(names) else int(k) for k in det["labels"]],
    }  # fmt: skip


def _write_detections(records: list[dict[str, Any]], out_dir: Path, names: tuple[str, ...]) -> None:
    """`predictions.json` and (2D boxes) `predictions_coco.json` of the detection records."""
    dets = [r for r in records if "boxes" in r]
    (out_dir / "predictions.json").write_text(json.dumps(dets, indent=1))
    if any(len(r["size"]) == 3 for r in dets):
        return  # COCO has no 3D boxes
    seen = sorted({lab for r in dets for lab in r["labels"]}, key=str)
    categories = list(names) or [str(k) for k in seen]
    cat_id = {name: i + 1 for i, name in enumerate(categories)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for i, r in enumerate(dets, start=1):
        images.append({"id": i, "file_name": Path(r["input"]).name, "width": r["size"][0],
                       "height": r["size"][1]})  # fmt: skip
        for b, score, lab in zip(r["boxes"], r["box_scores"], r["labels"]):
            w, h = b[2] - b[0], b[3] - b[1]
            annotations.append({
                "id": len(annotations) + 1, "image_id": i, "category_id": cat_id[str(lab)],
                "bbox": [b[0], b[1], w, h], "area": w * h, "iscrowd": 0, "score": score,
            })  # fmt: skip
    doc = {
        "images": images, "annotations": annotations,
        "categories": [{"id": cat_id[c], "name": c} for c in categories],
    }  # fmt: skip
    (out_dir / "predictions_coco.json").write_text(json.dumps(doc))
