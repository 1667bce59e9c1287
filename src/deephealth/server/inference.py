"""Single-image inference for the REST endpoint and the inference page, with onnxruntime.

`predict_file` reads an image with ECVL (PNG, JPEG, DICOM, NIfTI; a volume gives its middle slice
for 2D models and is predicted whole by 3D models, whose label volume comes back with the slice
of most foreground for display), fits it to the model's input size and channel count, and runs it through a cached
`deephealth.serving.InferenceSession` (which applies the preprocessing stored with the model; when
none is stored, each image is min-max scaled to [0, 1], the pipelines default). It returns the
class probabilities and label (classification), the label mask (segmentation), the values
(regression) or, for an exported detector, its boxes, scores and class names in the image's own
pixels (`deephealth.serving.detection`). A model trained with clinical values (`scalar_regression`,
`survival`; its schema and training statistics lie beside it as `<model>.onnx.features.json`) also
takes a JSON object of clinical values, checked against that schema: `FeatureInputError` names the
feature at fault. A packed report generator (`deephealth.serving.reports`, recognised by its
metadata whatever the project's task) answers the generated report text and the findings it states.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deephealth.errors import ServerError

_cache: dict[str, tuple[float, Any]] = {}
_lock = threading.Lock()
# One onnxruntime thread per run and at most one run per core: under many concurrent requests this
# keeps the cores busy without the oversubscription of every run spawning a full thread pool.
SLOTS = max(1, os.cpu_count() or 1)
_slots = threading.BoundedSemaphore(SLOTS)


class PredictionError(ServerError, ValueError):
    """The image cannot be given to this model (message says why)."""


class FeatureInputError(PredictionError):
    """The clinical values sent with an image do not fit the model's schema (names the feature)."""

    def __init__(self, feature: str, message: str) -> None:
        super().__init__(message)
        self.feature = feature


def session_for(path: str | Path) -> Any:
    """A cached `InferenceSession` for an ONNX file (reloaded when the file changes)."""
    from deephealth.serving import InferenceSession

    key = str(Path(path).resolve())
    mtime = Path(key).stat().st_mtime
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == mtime:
            return hit[1]
    session = InferenceSession(key, device="cpu", threads=1)
    with _lock:
        _cache[key] = (mtime, session)
    return session


def report_generator_for(path: str | Path) -> Any:
    """A cached `ReportGenerator` for a packed `report_generator.onnx` (reloaded on change)."""
    from deephealth.serving.reports import ReportGenerator

    key = "report:" + str(Path(path).resolve())
    mtime = Path(path).stat().st_mtime
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == mtime:
            return hit[1]
    generator = ReportGenerator(path, threads=1)
    with _lock:
        _cache[key] = (mtime, generator)
    return generator


def predict_report(generator: Any, hwc: np.ndarray, beam: int = 3) -> dict:
    """The generated report of one (H, W, C) image and the findings its text states."""
    from deephealth.pipelines.report_generation.findings import parse_findings

    x = generator.fit_image(hwc)[None]
    with _slots:
        text = generator.generate(x, beam=beam)[0]
    return {"task": "report_generation", "report": text, "findings": sorted(parse_findings(text))}


def is_volume_model(session: Any) -> bool:
    """Whether the session takes 3D volumes (N, C, D, H, W)."""
    return len(session.input_shapes[0]) == 5


def _resize_volume(x: np.ndarray, size: tuple[int, ...], order: int) -> np.ndarray:
    """A (D, H, W, C) volume resized to `size` = (D, H, W) (None keeps an axis)."""
    from scipy.ndimage import zoom

    target = [t or s for t, s in zip(size, x.shape[:3])]
    if list(x.shape[:3]) == target:
        return x
    factors = [t / s for t, s in zip(target, x.shape[:3])] + [1.0]
    out = zoom(x, factors, order=order)
    return out[: target[0], : target[1], : target[2]]


def volume_input(session: Any, dhwc: np.ndarray) -> np.ndarray:
    """One (C, D, H, W) sample for a 3D model, resized to its input (min-max scaled when no
    preprocessing is stored)."""
    shape = session.input_shapes[0]
    channels = shape[1]
    x = _resize_volume(dhwc.astype(np.float32), tuple(shape[2:5]), order=1)
    if channels and x.shape[3] != channels:
        x = x.mean(axis=3, keepdims=True) if channels == 1 else np.repeat(x[..., :1], channels, 3)
    if session.preprocessing.is_identity:
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    return np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2)))


def model_input(session: Any, hwc: np.ndarray) -> np.ndarray:
    """One sample (no batch axis) in the layout the session expects, resized to its input."""
    names = list(getattr(session, "input_names", []))
    shape = session.input_shapes[names.index("image") if "image" in names else 0]
    if len(shape) != 4:
        raise PredictionError(
            f"model input shape {shape}: a 3D model takes a volume (NIfTI, DICOM series)"
            if len(shape) == 5
            else f"model input shape {shape}: only 2D and 3D image models are served here"
        )
    channels, height, width = shape[1], shape[2], shape[3]
    x = hwc.astype(np.float32)
    if height and width and x.shape[:2] != (height, width):
        x = cv2.resize(x, (width, height), interpolation=cv2.INTER_LINEAR)
        if x.ndim == 2:
            x = x[:, :, None]
    if channels and x.shape[2] != channels:
        if channels == 1:
            x = x.mean(axis=2, keepdims=True)
        elif x.shape[2] == 1:
            x = np.repeat(x, channels, axis=2)
        else:
            x = x[:, :, :channels]
    prep = session.preprocessing
    if prep.is_identity:
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    layout = prep.layout or "CHW"
    return np.ascontiguousarray(np.transpose(x, ["HWC".index(a) for a in layout]))


def _softmax(v: np.ndarray) -> np.ndarray:
    if v.min() >= 0 and abs(float(v.sum()) - 1.0) < 1e-3:
        return v
    e = np.exp(v - v.max())
    return e / e.sum()


def detect_volume_array(
    session: Any, dhwc: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> dict:
    """3D detections in a (D, H, W, C) volume with an exported 3D detector: sliding windows of
    its patch over the whole volume (not resized), boxes [x0, y0, z0, x1, y1, z1] in voxels and,
    with `spacing` (x, y, z), in mm from the volume's first voxel corner."""
    from deephealth.serving.detection3d import detect_volume_session

    channels = session.input_shapes[0][1]
    x = dhwc.astype(np.float32)
    if channels and x.shape[3] != channels:
        x = x.mean(axis=3, keepdims=True) if channels == 1 else np.repeat(x[..., :1], channels, 3)
    if session.preprocessing.is_identity:
        lo, hi = float(x.min()), float(x.max())
        x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    with _slots:
        det = detect_volume_session(session, np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2))))
    mm = np.array([*spacing, *spacing], dtype=np.float64)
    names = session.class_names

    def rounded(rows: np.ndarray) -> list[list[float]]:
        return [[round(float(v), 3) for v in row] for row in rows]

    return {
        "task": "detection",
        "boxes": rounded(det["boxes"]),
        "boxes_mm": rounded(det["boxes"] * mm),
        "centres": rounded(det["centres"][:, ::-1]),
        "diameters_mm": [round(float(d) * float(np.mean(spacing)), 3) for d in det["diameters"]],
        "scores": [round(float(v), 5) for v in det["scores"]],
        "labels": [names[int(k)] if int(k) < len(names) else int(k) for k in det["labels"]],
        "count": len(det["scores"]),
        "spacing": [float(v) for v in spacing],
        "volume_shape": list(dhwc.shape[:3]),
    }


def slice_boxes(boxes: list[list[float]], z: int) -> list[list[float]]:
    """The [x0, y0, x1, y1] rectangles of the 3D boxes [x0, y0, z0, x1, y1, z1] crossing slice
    `z` (voxel z covers [z, z + 1))."""
    return [[b[0], b[1], b[3], b[4]] for b in boxes if b[2] < z + 1 and b[5] > z]


def predict_array(
    session: Any, hwc: np.ndarray, task: str, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> dict:
    """Run the model on one (H, W, C) image, or (D, H, W, C) volume for a 3D model; the result
    dict depends on `task` (a 3D segmentation's `mask` is (D, H, W)); a 3D detector answers
    boxes in voxels and in mm (`spacing`: x, y, z)."""
    from deephealth.serving.detection3d import is_detector3d

    volume = hwc.ndim == 4
    if volume and is_detector3d(session):
        return detect_volume_array(session, hwc, spacing)
    x = volume_input(session, hwc) if volume else model_input(session, hwc)
    from deephealth.serving.detection import detect, is_detector

    if not volume and is_detector(session):  # boxes in the image's own pixels
        h, w = hwc.shape[:2]
        with _slots:
            found = detect(session, x[None], (w / x.shape[-1], h / x.shape[-2]))[0]
        return {"task": "detection", **found, "count": len(found["boxes"])}
    with _slots:
        out = np.asarray(session.run(x))
    names = list(session.class_names)
    if task == "classification":
        probs = _softmax(out.reshape(-1).astype(np.float64))
        names = names if len(names) == probs.size else [str(i) for i in range(probs.size)]
        best = int(probs.argmax())
        return {
            "task": task,
            "label": names[best],
            "label_index": best,
            "probabilities": {n: float(p) for n, p in zip(names, probs)},
        }
    if task == "segmentation" and volume:
        scores = out.reshape(out.shape[-4:])
        if scores.shape[0] == 1:
            vmask = (scores[0] > (0.5 if scores.min() >= 0 else 0.0)).astype(np.uint8)
        else:
            vmask = scores.argmax(axis=0).astype(np.uint8)
        vmask = _resize_volume(vmask[..., None], hwc.shape[:3], order=0)[..., 0]
        return {
            "task": task,
            "mask": vmask,
            "classes": names,
            "foreground_fraction": float((vmask > 0).mean()),
        }
    if task == "segmentation":
        scores = out.reshape(out.shape[-3:]) if out.ndim >= 3 else out[None]
        if scores.shape[0] == 1:
            mask = (scores[0] > (0.5 if scores.min() >= 0 else 0.0)).astype(np.uint8)
        else:
            mask = scores.argmax(axis=0).astype(np.uint8)
        h, w = hwc.shape[:2]
        if mask.shape != (h, w):
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
        return {
            "task": task,
            "mask": mask,
            "classes": names,
            "foreground_fraction": float((mask > 0).mean()),
        }
    return {"task": task, "values": [float(v) for v in out.reshape(-1)]}


def predict_clinical(
    session: Any, hwc: np.ndarray, state: dict[str, Any], features: Any, sample: bool = False
) -> dict[str, Any]:
    """Run an image + clinical-values model (`scalar_regression` / `survival`) on one image and
    one JSON object of clinical values, validated against the schema stored with the model.

    Raises:
        FeatureInputError: no values, or a missing, unknown or out-of-range feature (named).
    """
    from deephealth.pipelines.tabular import FeatureError
    from deephealth.pipelines.tasks.clinical import encode_request, outputs_in_units

    if not isinstance(features, dict):
        raise FeatureInputError(
            "features", "this model takes clinical values: send a JSON object as the multipart "
            "field 'features' or the query parameter 'features'",
        )  # fmt: skip
    try:
        given = {"features": encode_request(state, features, sample)}
    except FeatureError as err:
        raise FeatureInputError(err.feature, str(err)) from None
    if "image" in session.input_names:
        given["image"] = model_input(session, hwc)[None]
    with _slots:
        out = np.asarray(session.run(*[given[n] for n in session.input_names]))
    return outputs_in_units(state, out)


def predict_file(
    weights_path: str | Path, image_path: str | Path | list[Path], task: str,
    max_bytes: int | None = None,
    features: Any = None, sample: bool = False,
) -> tuple[dict, np.ndarray]:  # fmt: skip
    """Predict on an image file; returns the result and the (H, W, C) image that was used.

    Args:
        weights_path: The ONNX model.
        image_path: The image (any format ECVL reads), or the files of a DICOM series.
        task: The project's task.
        max_bytes: When given, the image comes from a user: it is decoded only if its header
            declares at most this many samples (see `deephealth.server.image_check`).
        features: The clinical values (a JSON object) for models that take them.
        sample: `features` are a dataset sample's values (inference jobs): other features are
            ignored and missing values imputed as in training.

    Raises:
        PredictionError: when the image cannot be read or does not fit the model.
        UploadRejected: (413/415/422) for a user's image that is too large or cannot be decoded.
    """
    from deephealth.ecvl import ImRead
    from deephealth.ecvl.errors import EcvlError
    from deephealth.server.image_check import read_image, read_series
    from deephealth.server.imaging import image_dhwc, image_hwc
    from deephealth.serving import ServingError
    from deephealth.serving.reports import is_report_generator

    if isinstance(image_path, list):
        img = read_series(image_path, "series", max_bytes or 2**62)
    elif max_bytes is not None:
        img = read_image(Path(image_path), "image", max_bytes)
    else:
        try:
            img = ImRead(str(image_path))
        except EcvlError as err:
            raise PredictionError(f"cannot read the image: {err}") from None
    from deephealth.pipelines.tasks.clinical import load_fitted_state

    try:
        session = session_for(weights_path)
        if is_report_generator(session.metadata):
            hwc = image_hwc(img)
            return predict_report(report_generator_for(weights_path), hwc), hwc
        if not is_volume_model(session):
            hwc = image_hwc(img)
            state = load_fitted_state(weights_path, session.metadata)
            if state is not None:
                return predict_clinical(session, hwc, state, features, sample), hwc
            return predict_array(session, hwc, task), hwc
        dhwc = image_dhwc(img)
        result = predict_array(session, dhwc, task, _spacing(img))
    except ServingError as err:
        raise PredictionError(str(err)) from None
    z = dhwc.shape[0] // 2
    if "boxes" in result:  # 3D boxes: show the slice through the best one's centre
        z = int(min(result["centres"][0][2], dhwc.shape[0] - 1)) if result["count"] else z
        result["slice"] = z
        result["slice_boxes"] = slice_boxes(result["boxes"], z)
    if "mask" in result:  # show the slice with the most foreground, with its mask
        z = int(np.argmax((result["mask"] > 0).reshape(dhwc.shape[0], -1).sum(axis=1)))
        result["volume_mask"] = result["mask"]
        result["mask"] = result["mask"][z]
        result["slice"] = z
    return result, dhwc[z]


def _spacing(img: Any) -> tuple[float, float, float]:
    """An ECVL image's voxel size (x, y, z) in mm (1 where the file gives none)."""
    given = dict(zip(img.channels, img.spacings or []))
    out = [float(given.get(a) or 1.0) for a in "xyz"]
    return (out[0], out[1], out[2])


def scratch_dir(fallback: Path) -> Path:
    """Where request images are written for the moment of decoding: RAM (/dev/shm) when
    available, else `fallback`."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return fallback
