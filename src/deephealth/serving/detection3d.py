"""3D detections (nodules in CT volumes) from an exported CenterNet-style detector, numpy only.

A 3D detector exported by the pipelines (`eddl.zoo.detection.onnx_peaks.save_detector3d`) finds
the peaks of its heat-map in the graph: for a batch of patches it returns ``centres`` (N, K, 3)
in patch voxels (z, y, x), ``diameters`` (N, K) in voxels, ``scores`` (N, K) and ``labels``
(N, K), the K best local maxima of each patch (a score of 0 marks an unused slot). A whole volume
is run by sliding patch-sized windows (`detect_volume`): each window's peaks are offset to the
volume, and overlapping windows' detections are merged (`merge_detections`: in decreasing score,
a detection whose centre lies within the radius of a kept detection of its class is dropped; a
nodule larger than the overlap is seen by several windows and kept once), and each kept
detection is scored by the windows that hold its centre (`vote_scores`: the mean of their best
scores near it, 0 for a window that found nothing there), so a peak that only one window's
context produced ranks below an object every window finds. `decode_centres` does
the same peak finding on the raw output maps of a network (the torch path, and models exported
without the peak finding).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from itertools import product
from typing import Any

import numpy as np

from deephealth.serving.session import InferenceSession, ServingError

PEAKS_KEY = "deephealth.detection3d"
OUTPUTS = ("centres", "diameters", "scores", "labels")
Detections = dict[str, np.ndarray]
WindowFn = Callable[[np.ndarray], list[Detections]]


def decode_centres(
    raw: np.ndarray, num_classes: int, stride: int = 2, threshold: float = 0.1, top_k: int = 50
) -> list[Detections]:
    """Detections of output maps (N, C + 1, d, h, w), or (N, C + 4, ...) ending with the
    centre offsets within the location: per image ``centres`` (K, 3) in voxels (z, y, x),
    ``diameters``, ``scores`` and ``labels``; local maxima (3×3×3) above `threshold`, at most
    `top_k`, decreasing score (ties by location order)."""
    from scipy import ndimage

    result = []
    for m in np.asarray(raw, dtype=np.float32):
        heat = 1 / (1 + np.exp(-m[:num_classes]))
        peaks = (heat == ndimage.maximum_filter(heat, size=(1, 3, 3, 3))) & (heat > threshold)
        k, *loc = np.nonzero(peaks)
        scores = heat[(k, *loc)]
        order = np.argsort(-scores, kind="stable")[:top_k]
        loc_arr = np.stack(loc, axis=1)[order] if len(order) else np.zeros((0, 3), int)
        where = (loc_arr + 0.5) if len(m) == num_classes + 1 else (
            loc_arr + m[num_classes + 1 :][(slice(None), *loc_arr.T)].T.astype(np.float64)
        )  # fmt: skip
        result.append({
            "centres": where * stride,
            "diameters": m[num_classes][tuple(loc_arr.T)].astype(np.float64) * stride,
            "scores": scores[order].astype(np.float64), "labels": k[order].astype(np.int64),
        })  # fmt: skip
    return result


def peaks_of_outputs(outputs: Sequence[np.ndarray], threshold: float = 0.0) -> list[Detections]:
    """Per-patch detections of the exported model's (centres, diameters, scores, labels)
    outputs, the slots scoring above `threshold` (and above 0: unused slots score 0)."""
    centres, diameters, scores, labels = (np.asarray(a) for a in outputs)
    result = []
    for i in range(scores.shape[0]):
        keep = np.nonzero(scores[i] > max(threshold, 0.0))[0]
        result.append({
            "centres": centres[i][keep].astype(np.float64).reshape(-1, 3),
            "diameters": diameters[i][keep].astype(np.float64),
            "scores": scores[i][keep].astype(np.float64),
            "labels": labels[i][keep].astype(np.int64),
        })  # fmt: skip
    return result


def window_starts(size: int, patch: int, overlap: float) -> list[int]:
    """Start offsets of windows of `patch` covering `size` with the given overlap."""
    if size <= patch:
        return [0]
    step = max(1, int(patch * (1 - overlap)))
    starts = list(range(0, size - patch + 1, step))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def merge_detections(det: Detections) -> Detections:
    """Merge detections of overlapping windows: in decreasing score, drop a detection whose
    centre lies within the radius of a kept one of its class."""
    order = np.argsort(-det["scores"], kind="stable")
    centres, labels = det["centres"][order], det["labels"][order]
    radii = np.maximum(det["diameters"][order] / 2, 1.5)
    alive = np.ones(len(order), dtype=bool)
    for i in range(len(order)):  # kept in score order: suppress what lies within its radius
        if not alive[i]:
            continue
        near = np.linalg.norm(centres[i + 1 :] - centres[i], axis=1) <= radii[i]
        alive[i + 1 :] &= ~(near & (labels[i + 1 :] == labels[i]))
    keep = order[alive]
    return {key: v[keep] for key, v in det.items()}


def vote_scores(kept: Detections, windows: Sequence[tuple[np.ndarray, Detections]],
                patch: Sequence[int]) -> np.ndarray:  # fmt: skip
    """Each kept detection's score averaged over the windows whose extent holds its centre: a
    window votes its best score of the detection's class within the detection's radius, 0 when
    it found nothing there. An object is found by every window that sees it; a peak that one
    window's context produced (a structure cut by its border) is voted down."""
    centres, labels = kept["centres"], kept["labels"]
    radii = np.maximum(kept["diameters"] / 2, 1.5)
    total = np.zeros(len(centres))
    count = np.zeros(len(centres))
    size = np.asarray(patch, dtype=float)
    for start, det in windows:
        inside = np.all((centres >= start) & (centres < start + size), axis=1)
        if not inside.any():
            continue
        count += inside
        if not len(det["scores"]):
            continue
        dist = np.linalg.norm(centres[:, None] - det["centres"][None], axis=2)
        near = (dist <= radii[:, None]) & (labels[:, None] == det["labels"][None])
        best = np.where(near, det["scores"][None], 0.0).max(axis=1)
        total += np.where(inside, best, 0.0)
    return np.where(count > 0, total / np.maximum(count, 1), kept["scores"])


def detect_volume(
    volume: np.ndarray,
    windows: WindowFn,
    patch: Sequence[int],
    overlap: float = 0.25,
    batch_size: int = 4,
    vote: bool = True,
) -> Detections:
    """Detections in a whole volume (C, D, H, W) by sliding windows (see the module docstring).

    Args:
        volume: The model input, channels first.
        windows: A batch of patches (N, C, *patch) -> each patch's detections (patch voxels).
        patch: Window size (D, H, W); a smaller volume is zero-padded to it.
        overlap: Fraction of a window shared with the next.
        batch_size: Windows per call of `windows`.
        vote: Score each merged detection by the vote of the windows holding it
            (`vote_scores`); False keeps the best window's score.

    Returns:
        ``centres`` (K, 3) z, y, x; ``diameters``; ``scores``; ``labels``; ``boxes`` (K, 6)
        [x0, y0, z0, x1, y1, z1], in voxels of the volume, decreasing score.
    """
    spatial = volume.shape[1:]
    pad = [(0, 0)] + [(0, max(0, p - s)) for s, p in zip(spatial, patch)]
    vol = np.pad(volume, pad)
    starts = list(product(*[window_starts(s, p, overlap) for s, p in zip(vol.shape[1:], patch)]))
    found: list[tuple[np.ndarray, Detections]] = []
    for lo in range(0, len(starts), batch_size):
        chunk = starts[lo : lo + batch_size]
        batch = np.stack([
            vol[(slice(None), *[slice(a, a + p) for a, p in zip(s, patch)])] for s in chunk
        ]).astype(np.float32)  # fmt: skip
        for s, det in zip(chunk, windows(batch)):
            det["centres"] = det["centres"].reshape(-1, 3) + np.asarray(s, dtype=float)
            found.append((np.asarray(s, dtype=float), det))
    keys = OUTPUTS
    allk = {k: np.concatenate([d[k] for _, d in found]) if found else np.zeros(0) for k in keys}
    allk["centres"] = allk["centres"].reshape(-1, 3)
    inside = np.all(allk["centres"] < np.asarray(spatial), axis=1)
    merged = merge_detections({k: v[inside] for k, v in allk.items()})
    if vote and len(starts) > 1:
        merged["scores"] = vote_scores(merged, found, patch)
        order = np.argsort(-merged["scores"], kind="stable")
        merged = {k: v[order] for k, v in merged.items()}
    xyz, r = merged["centres"][:, ::-1], merged["diameters"][:, None] / 2
    merged["boxes"] = np.concatenate([xyz - r, xyz + r], axis=1)
    return merged


def is_detector3d(session: InferenceSession) -> bool:
    """Whether the session's model is a 3D detector with its peak finding in the graph."""
    return set(OUTPUTS) <= set(session.output_names) and PEAKS_KEY in session.metadata


def settings(session: InferenceSession) -> dict[str, Any]:
    """The detector's stored settings (num_classes, stride, threshold, top_k, overlap) and its
    patch size (D, H, W) from the input shape."""
    try:
        out = dict(json.loads(session.metadata[PEAKS_KEY]))
    except (KeyError, ValueError) as err:
        raise ServingError(f"{session.path.name}: no valid {PEAKS_KEY} metadata ({err})") from None
    patch = session.input_shapes[0][2:]
    if len(patch) != 3 or not all(patch):
        raise ServingError(
            f"{session.path.name}: input {session.input_shapes[0]} has no patch size"
        )
    out["patch"] = [int(p or 0) for p in patch]
    return out


def detect_volume_session(
    session: InferenceSession,
    volume: np.ndarray,
    overlap: float | None = None,
    threshold: float | None = None,
    batch_size: int = 4,
) -> Detections:
    """Detections in a volume (C, D, H, W) with an exported 3D detector in onnxruntime: sliding
    windows of its patch size, peaks found in the graph, merged here (see `detect_volume`).

    Raises:
        ServingError: when the model is not a 3D detector or the volume is not (C, D, H, W).
    """
    if not is_detector3d(session):
        raise ServingError(f"{session.path.name} is not a 3D detector (outputs {OUTPUTS})")
    if volume.ndim != 4:
        raise ServingError(f"detect_volume takes one volume (C, D, H, W), got {volume.shape}")
    s = settings(session)
    thr = float(s.get("threshold", 0.1) if threshold is None else threshold)

    def windows(batch: np.ndarray) -> list[Detections]:
        out = session.run_named(np.ascontiguousarray(batch, dtype=np.float32))
        return peaks_of_outputs([out[k] for k in OUTPUTS], thr)

    ov = float(s.get("overlap", 0.25) if overlap is None else overlap)
    return detect_volume(volume, windows, s["patch"], ov, batch_size)
