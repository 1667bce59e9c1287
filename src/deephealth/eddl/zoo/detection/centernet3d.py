"""A 3D detector for nodules in CT volumes (CenterNet-style, anchor-free), trained on patches and
run on whole volumes by sliding windows whose detections are merged.

Network (`CenterNet3D`, built from EDDL layers): conv-BN-ReLU encoder stages that halve the size,
a feature-pyramid top-down path (1×1×1 lateral convolutions, up-sampling, addition) to the output
stride (2 by default) and a head of two 3×3×3 convolutions. Its output map has ``num_classes + 1``
channels per location: class heat-map logits (a location near an object's centre is hot) and the
object's diameter divided by the stride (softplus). Location (k, i, j) stands for the voxel point
((j + 0.5) s, (i + 0.5) s, (k + 0.5) s) in x, y, z.

`encode_centres` builds the targets from object centres and diameters (a Gaussian bump per object,
1 at its centre location, sigma a sixth of its diameter and at least half a location; the
diameter at the centre location); the ``centernet`` loss (EDDL's loss table) is the
penalty-reduced focal loss of CenterNet over the heat-map plus the L1 error of the diameter at the
centres. `decode_centres` keeps the local maxima of the heat-map (3×3×3) above a threshold;
`detect_volume` slides patch-sized windows over a whole volume (overlap given), offsets each
window's detections and merges them: in decreasing score, a detection whose centre lies within
the radius of an already kept detection of its class is dropped (the 3D analogue of non-maximum
suppression for round objects). Boxes are ``[x0, y0, z0, x1, y1, z1]`` in voxels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import product
from typing import Any

import numpy as np

import deephealth.eddl as eddl
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import check_args, finish
from deephealth.eddl.zoo.detection.pyramid import pyramid_trunk


def CenterNet3D(
    input_shape: Sequence[int] = (1, 32, 32, 32),
    num_classes: int = 1,
    filters: Sequence[int] = (8, 16, 32),
    fpn_filters: int = 16,
    stride: int = 2,
) -> Model:
    """The 3D detector network (see the module docstring).

    Args:
        input_shape: (C, D, H, W), sides divisible by the deepest stage's stride.
        num_classes: Object classes.
        filters: Filters of the encoder stages; stage k has stride 2 ** k.
        fpn_filters: Width of the pyramid and of the head.
        stride: Output stride (a power of two reached by one of the stages).

    Raises:
        ValueError: naming the bad argument.
    """
    shape = check_args(input_shape, num_classes, (3,))
    inp, h = pyramid_trunk(shape, filters, fpn_filters, stride, "CenterNet3D")
    heat = eddl.Conv3D(h, int(num_classes), [3, 3, 3], padding="same")
    size_out = eddl.Softplus(eddl.Conv3D(h, 1, [3, 3, 3], padding="same"))
    return finish(inp, eddl.Concat([heat, size_out], axis=0), "centernet3d")


def set_heat_prior(net: Model, prior: float = 0.01) -> None:
    """Set the heat-map biases of a built `CenterNet3D` so every location starts at probability
    `prior` (CenterNet's and RetinaNet's initialisation; training starts without the huge loss of
    a 0.5 prior over thousands of empty locations)."""
    import torch

    heat = net.outputs[0].parents[0]
    state = net.graph.state_dict()
    key = f"layers.{heat.name}.bias"
    with torch.no_grad():
        state[key].fill_(-float(np.log((1 - prior) / prior)))


def encode_centres(
    centres: Any,
    diameters: Any,
    labels: Any,
    shape: Sequence[int],
    num_classes: int,
    stride: int = 2,
) -> np.ndarray:
    """Target map (num_classes + 1, D / s, H / s, W / s) of the objects of one patch.

    Args:
        centres: (N, 3) object centres in voxels, numpy order (z, y, x), in the patch.
        diameters: (N,) diameters in voxels.
        labels: (N,) class indices.
        shape: (D, H, W) of the patch.
        num_classes: Classes of the detector.
        stride: Output stride.
    """
    out_shape = [int(d) // stride for d in shape]
    out = np.zeros((num_classes + 1, *out_shape), dtype=np.float32)
    grid = np.meshgrid(*[(np.arange(n) + 0.5) * stride for n in out_shape], indexing="ij")
    for c, d, k in zip(np.asarray(centres, float).reshape(-1, 3), np.ravel(diameters),
                       np.ravel(labels)):  # fmt: skip
        idx = np.floor(c / stride).astype(int)
        if np.any(idx < 0) or np.any(idx >= out_shape):
            continue  # the centre is outside this patch
        sigma = max(0.5 * stride, d / 6)
        centre = (idx + 0.5) * stride  # the bump peaks (= 1) at the centre's location
        g = np.exp(-sum((a - ci) ** 2 for a, ci in zip(grid, centre)) / (2 * sigma**2))
        out[int(k)] = np.maximum(out[int(k)], g)
        out[int(k)][tuple(idx)] = 1.0
        out[num_classes][tuple(idx)] = d / stride
    return out


def decode_centres(
    raw: np.ndarray, num_classes: int, stride: int = 2, threshold: float = 0.1, top_k: int = 50
) -> list[dict[str, np.ndarray]]:
    """Detections of output maps (N, C + 1, d, h, w): per image ``centres`` (K, 3) in voxels
    (z, y, x), ``diameters``, ``scores`` and ``labels``; local maxima of the heat-map only."""
    from scipy import ndimage

    result = []
    for m in np.asarray(raw, dtype=np.float32):
        heat = 1 / (1 + np.exp(-m[:num_classes]))
        peaks = (heat == ndimage.maximum_filter(heat, size=(1, 3, 3, 3))) & (heat > threshold)
        k, *loc = np.nonzero(peaks)
        scores = heat[(k, *loc)]
        order = np.argsort(-scores, kind="stable")[:top_k]
        loc_arr = np.stack(loc, axis=1)[order] if len(order) else np.zeros((0, 3), int)
        result.append({
            "centres": (loc_arr + 0.5) * stride,
            "diameters": m[num_classes][tuple(loc_arr.T)] * stride,
            "scores": scores[order].astype(np.float64), "labels": k[order].astype(np.int64),
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


def merge_detections(det: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
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


def detect_volume(
    volume: np.ndarray,
    forward: Callable[[np.ndarray], np.ndarray],
    patch: Sequence[int],
    num_classes: int = 1,
    stride: int = 2,
    overlap: float = 0.25,
    threshold: float = 0.1,
    batch_size: int = 4,
) -> dict[str, np.ndarray]:
    """Detections in a whole volume (C, D, H, W) by sliding windows (see the module docstring).

    Returns:
        ``centres`` (K, 3) z, y, x; ``diameters``; ``scores``; ``labels``; ``boxes`` (K, 6)
        [x0, y0, z0, x1, y1, z1], in voxels of the volume, decreasing score.
    """
    spatial = volume.shape[1:]
    pad = [(0, 0)] + [(0, max(0, p - s)) for s, p in zip(spatial, patch)]
    vol = np.pad(volume, pad)
    starts = list(product(*[window_starts(s, p, overlap) for s, p in zip(vol.shape[1:], patch)]))
    found: list[dict[str, np.ndarray]] = []
    for lo in range(0, len(starts), batch_size):
        chunk = starts[lo : lo + batch_size]
        batch = np.stack([
            vol[(slice(None), *[slice(a, a + p) for a, p in zip(s, patch)])] for s in chunk
        ]).astype(np.float32)  # fmt: skip
        for s, det in zip(chunk, decode_centres(forward(batch), num_classes, stride, threshold)):
            det["centres"] = det["centres"] + np.asarray(s, dtype=float)
            found.append(det)
    keys = ("centres", "diameters", "scores", "labels")
    allk = {k: np.concatenate([d[k] for d in found]) if found else np.zeros(0) for k in keys}
    allk["centres"] = allk["centres"].reshape(-1, 3)
    inside = np.all(allk["centres"] < np.asarray(spatial), axis=1)
    merged = merge_detections({k: v[inside] for k, v in allk.items()})
    xyz, r = merged["centres"][:, ::-1], merged["diameters"][:, None] / 2
    merged["boxes"] = np.concatenate([xyz - r, xyz + r], axis=1)
    return merged
