"""A 3D detector for nodules in CT volumes (CenterNet-style, anchor-free), trained on patches and
run on whole volumes by sliding windows whose detections are merged.

Network (`CenterNet3D`, built from EDDL layers): conv-BN-ReLU encoder stages that halve the size,
a feature-pyramid top-down path (1×1×1 lateral convolutions, up-sampling, addition) to the output
stride (2 by default) and a head of two 3×3×3 convolutions. Its output map has ``num_classes + 1``
channels per location: class heat-map logits (a location near an object's centre is hot) and the
object's diameter divided by the stride (softplus); with ``offsets=True`` three more channels
(sigmoid) give the centre's position within its location (CenterNet's offset head). Location
(k, i, j) stands for the voxel point ((j + o_x) s, (i + o_y) s, (k + o_z) s) in x, y, z, with
the offsets o (0.5 without the offset head).

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
from typing import Any

import numpy as np

import deephealth.eddl as eddl
from deephealth.eddl.model import Model
from deephealth.eddl.zoo._blocks import check_args, finish
from deephealth.eddl.zoo.detection.pyramid import pyramid_trunk
from deephealth.serving.detection3d import (  # the numpy parts, shared with serving
    decode_centres,
    merge_detections,
    peaks_of_outputs,
    window_starts,
)
from deephealth.serving.detection3d import detect_volume as _slide

__all__ = [
    "CenterNet3D", "decode_centres", "detect_volume", "encode_centres", "merge_detections",
    "set_heat_prior", "window_starts",
]  # fmt: skip


def CenterNet3D(
    input_shape: Sequence[int] = (1, 32, 32, 32),
    num_classes: int = 1,
    filters: Sequence[int] = (8, 16, 32),
    fpn_filters: int = 16,
    stride: int = 2,
    offsets: bool = False,
) -> Model:
    """The 3D detector network (see the module docstring).

    Args:
        input_shape: (C, D, H, W), sides divisible by the deepest stage's stride.
        num_classes: Object classes.
        filters: Filters of the encoder stages; stage k has stride 2 ** k.
        fpn_filters: Width of the pyramid and of the head.
        stride: Output stride (a power of two reached by one of the stages).
        offsets: Add CenterNet's offset head: three channels (sigmoid) giving the centre's
            position within its output location (z, y, x), so centres are found to better
            than the stride (train with the ``centernet_offsets`` loss and
            ``encode_centres(..., offsets=True)``).

    Raises:
        ValueError: naming the bad argument.
    """
    shape = check_args(input_shape, num_classes, (3,))
    inp, h = pyramid_trunk(shape, filters, fpn_filters, stride, "CenterNet3D")
    heat = eddl.Conv3D(h, int(num_classes), [3, 3, 3], padding="same")
    size_out = eddl.Softplus(eddl.Conv3D(h, 1, [3, 3, 3], padding="same"))
    parts = [heat, size_out]
    if offsets:
        parts.append(eddl.Sigmoid(eddl.Conv3D(h, 3, [3, 3, 3], padding="same")))
    return finish(inp, eddl.Concat(parts, axis=0), "centernet3d")


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
    offsets: bool = False,
) -> np.ndarray:
    """Target map (num_classes + 1, D / s, H / s, W / s) of the objects of one patch
    (num_classes + 4 with `offsets`: the centre's offset within its location, z, y, x).

    Args:
        centres: (N, 3) object centres in voxels, numpy order (z, y, x), in the patch.
        diameters: (N,) diameters in voxels.
        labels: (N,) class indices.
        shape: (D, H, W) of the patch.
        num_classes: Classes of the detector.
        stride: Output stride.
        offsets: Also the offset targets (for ``CenterNet3D(offsets=True)``).
    """
    out_shape = [int(d) // stride for d in shape]
    out = np.zeros((num_classes + (4 if offsets else 1), *out_shape), dtype=np.float32)
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
        if offsets:  # location k stands for voxels [k s, (k + 1) s): the centre's place in it
            out[num_classes + 1 :, idx[0], idx[1], idx[2]] = c / stride - idx
    return out


def detect_volume(
    volume: np.ndarray,
    forward: Callable[[np.ndarray], Any],
    patch: Sequence[int],
    num_classes: int = 1,
    stride: int = 2,
    overlap: float = 0.25,
    threshold: float = 0.1,
    batch_size: int = 4,
) -> dict[str, np.ndarray]:
    """Detections in a whole volume (C, D, H, W) by sliding windows (see the module docstring);
    `forward` returns a batch of patches' output maps (decoded by `decode_centres`) or, for a
    model exported with its peak finding (`onnx_peaks`), its four outputs.

    Returns:
        ``centres`` (K, 3) z, y, x; ``diameters``; ``scores``; ``labels``; ``boxes`` (K, 6)
        [x0, y0, z0, x1, y1, z1], in voxels of the volume, decreasing score.
    """

    def windows(batch: np.ndarray) -> list[dict[str, np.ndarray]]:
        out = forward(batch)
        if isinstance(out, np.ndarray):  # the network's output maps
            return decode_centres(out, num_classes, stride, threshold)
        return peaks_of_outputs(out, threshold)  # an exported model with its peak finding

    return _slide(volume, windows, patch, overlap, batch_size)
