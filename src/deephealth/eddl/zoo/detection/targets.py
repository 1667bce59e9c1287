"""Training targets of the FCOS-style detector, from boxes (numpy only).

For an output map of stride s, location (i, j) stands for the image point
((j + 0.5) s, (i + 0.5) s). A location is positive for a box when it lies inside the box and
within `radius` × s of the box centre (centre sampling; the box's own centre cell is always
positive), assigned to the smallest such box. The target map has ``num_classes + 5`` channels, as
the network's output: one-hot class at positives, the distances left/top/right/bottom to the box
sides divided by s, and the centerness ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``,
which is > 0 exactly at the positives (the loss reads the positives from it).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def location_grid(height: int, width: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) image coordinates of the locations of an output map, each (h, w)."""
    ys, xs = np.meshgrid(
        (np.arange(height // stride) + 0.5) * stride,
        (np.arange(width // stride) + 0.5) * stride,
        indexing="ij",
    )
    return xs, ys


def encode_fcos(
    boxes: Any,
    labels: Any,
    image_hw: tuple[int, int],
    num_classes: int,
    stride: int = 4,
    radius: float = 1.5,
) -> np.ndarray:
    """The target map (num_classes + 5, H / stride, W / stride) of one image's boxes.

    Args:
        boxes: (N, 4) corner boxes [x0, y0, x1, y1] in pixels.
        labels: (N,) class indices.
        image_hw: (H, W) of the image.
        num_classes: Classes of the detector.
        stride: Output stride.
        radius: Centre-sampling radius in strides.
    """
    h, w = image_hw[0] // stride, image_hw[1] // stride
    out = np.zeros((num_classes + 5, h, w), dtype=np.float32)
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    lab = np.asarray(labels).reshape(-1).astype(int)
    if not len(b):
        return out
    xs, ys = location_grid(image_hw[0], image_hw[1], stride)
    best = np.full((h, w), np.inf)
    for k in np.argsort(-np.prod(b[:, 2:] - b[:, :2], axis=1), kind="stable"):
        x0, y0, x1, y1 = b[k]
        area = (x1 - x0) * (y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        r = radius * stride
        near = (np.abs(xs - cx) <= r) & (np.abs(ys - cy) <= r)
        own = np.zeros_like(near)
        i, j = min(int(cy // stride), h - 1), min(int(cx // stride), w - 1)
        own[i, j] = True
        inside = (xs > x0) & (xs < x1) & (ys > y0) & (ys < y1)
        pos = ((near & inside) | own) & (area <= best)
        best[pos] = area
        dist = np.stack([xs - x0, ys - y0, x1 - xs, y1 - ys])
        dist = np.maximum(dist, 1e-3)  # the centre cell of a tiny box may lie on its edge
        ctr = np.sqrt(
            np.minimum(dist[0], dist[2]) / np.maximum(dist[0], dist[2])
            * np.minimum(dist[1], dist[3]) / np.maximum(dist[1], dist[3])
        )  # fmt: skip
        out[:num_classes, pos] = 0
        out[lab[k], pos] = 1
        out[num_classes : num_classes + 4, pos] = dist[:, pos] / stride
        out[num_classes + 4, pos] = np.maximum(ctr[pos], 1e-3)
    return out
