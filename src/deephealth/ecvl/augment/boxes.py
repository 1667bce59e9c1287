"""Bounding boxes that follow the geometry of any augmentation (2D and 3D).

Boxes are corner coordinates in pixels/voxels, ``[x0, y0, x1, y1]`` or
``[x0, y0, z0, x1, y1, z1]``, with pixel edges as coordinates: the pixel in column ``c`` spans
``[c, c + 1)``, so the box of a single pixel is ``[c, r, c + 1, r + 1]``.

`apply_with_boxes` runs an augmentation (any of ECVL's, or a container of them, written in ECVL
text or built in code) on an image together with its boxes. Each box travels as a mask through the
augmentation's ground-truth path (the same random draw as the image), and comes back as the
bounding box of what remains of it. When instance masks are given (one label per object), the
objects' own masks travel instead and the result is exactly the box recomputed from the
transformed mask. This holds for every geometric augmentation, elastic and grid distortions
included, with no per-augmentation code; intensity augmentations leave boxes unchanged.

The rule for boxes at the border: a box is clipped to the image; a box of which nothing remains
inside the image is dropped (with its label). `boxes_from_labels` turns an instance label map into
boxes (what `deephealth dataset boxes-from-masks` uses).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deephealth.ecvl.errors import EcvlError

FILL = 255  # mask value of a box; a transformed mask counts where it is >= FILL / 2


def _check_boxes(boxes: Any, nd: int) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 2 * nd) if len(boxes) else None
    if arr is None:
        return np.zeros((0, 2 * nd))
    if np.any(arr[:, nd:] < arr[:, :nd]):
        raise EcvlError("boxes: a box has its far corner before its near corner")
    return arr


def boxes_from_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding boxes of the objects of an instance label map (0 = background).

    Args:
        labels: Integer map in numpy order, (H, W) or (D, H, W).

    Returns:
        (boxes (N, 4 or 6) in x, y[, z] corner order, object labels (N,)), sorted by label.
    """
    from scipy import ndimage

    lab = np.asarray(labels)
    if lab.ndim not in (2, 3):
        raise EcvlError(f"boxes_from_labels needs a 2D or 3D label map, got shape {lab.shape}")
    if not np.issubdtype(lab.dtype, np.integer):
        lab = lab.astype(np.int64)
    ids = np.unique(lab)
    ids = ids[ids != 0]
    if ids.size == 0:
        return np.zeros((0, 2 * lab.ndim)), ids
    slices = ndimage.find_objects(lab, max_label=int(ids.max()))
    out = []
    for i in ids:
        sl = slices[int(i) - 1]
        lo = [s.start for s in reversed(sl)]
        hi = [s.stop for s in reversed(sl)]
        out.append([*lo, *hi])
    return np.asarray(out, dtype=np.float64), ids


def boxes_to_masks(boxes: Any, spatial: tuple[int, ...]) -> np.ndarray:
    """One uint8 mask per box (FILL inside), canonical: (H, W, N) or (D, H, W, N).

    Box edges are rounded to the nearest pixel edge.
    """
    nd = len(spatial)
    arr = _check_boxes(boxes, nd)
    out = np.zeros((*spatial, len(arr)), dtype=np.uint8)
    size_xyz = list(reversed(spatial))
    for k, b in enumerate(arr):
        lo = np.clip(np.round(b[:nd]).astype(int), 0, size_xyz)
        hi = np.clip(np.round(b[nd:]).astype(int), 0, size_xyz)
        region = [slice(int(lo[a]), int(hi[a])) for a in reversed(range(nd))]
        out[(*region, k)] = FILL  # type: ignore[index]
    return out


def boxes_of_masks(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes of each mask channel (canonical array, a box counts where >= FILL / 2) and whether
    each is non-empty."""
    nd = masks.ndim - 1
    boxes = np.zeros((masks.shape[-1], 2 * nd))
    keep = np.zeros(masks.shape[-1], dtype=bool)
    on = masks >= FILL / 2
    for k in range(masks.shape[-1]):
        idx = np.nonzero(on[..., k])
        if not idx[0].size:
            continue
        keep[k] = True
        lo = [int(a.min()) for a in reversed(idx)]
        hi = [int(a.max()) + 1 for a in reversed(idx)]
        boxes[k] = [*lo, *hi]
    return boxes, keep


def apply_with_boxes(
    aug: Any,
    x: np.ndarray,
    boxes: Any,
    labels: Any,
    rng: np.random.Generator | None = None,
    instances: np.ndarray | None = None,
    gt: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Augment a canonical image array and its boxes together (see the module docstring).

    Args:
        aug: An ECVL augmentation (or container).
        x: Canonical image (H, W, C) or (D, H, W, C).
        boxes: (N, 4) or (N, 6) corner boxes.
        labels: Class of each box (N,).
        rng: Random generator of this application.
        instances: Optional instance masks, canonical (H, W, N) or (D, H, W, N), one channel per
            box, any non-zero value inside; used instead of the boxes' rectangles.
        gt: Optional ground truth (segmentation), transformed with the same draw.

    Returns:
        (image, boxes, labels, gt) after the augmentation; dropped boxes removed.

    Raises:
        EcvlError: on boxes of the wrong size or instance masks that do not fit the image.
    """
    nd = x.ndim - 1
    spatial = x.shape[:-1]
    box_arr = _check_boxes(boxes, nd)
    lab = np.asarray(labels).reshape(-1)
    if len(lab) != len(box_arr):
        raise EcvlError(f"boxes: {len(box_arr)} boxes but {len(lab)} labels")
    if instances is not None:
        inst = np.asarray(instances)
        if inst.shape != (*spatial, len(box_arr)):
            raise EcvlError(
                f"boxes: instance masks must have shape {(*spatial, len(box_arr))}, "
                f"got {inst.shape}"
            )
        masks = np.where(inst != 0, FILL, 0).astype(np.uint8)
    else:
        masks = boxes_to_masks(box_arr, spatial)
    n_gt = 0 if gt is None else gt.shape[-1]
    carried = masks if gt is None else np.concatenate([gt.astype(np.float32), masks], axis=-1)
    if not carried.shape[-1]:
        x_out, _ = aug.apply_arrays(x, None, rng)
        return x_out, box_arr, lab, None
    x_out, carried_out = aug.apply_arrays(x, carried, rng)
    assert carried_out is not None
    gt_out = None if gt is None else carried_out[..., :n_gt].astype(gt.dtype)
    out_boxes, keep = boxes_of_masks(carried_out[..., n_gt:])
    return x_out, out_boxes[keep], lab[keep], gt_out
