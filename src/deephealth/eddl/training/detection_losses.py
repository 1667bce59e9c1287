"""Detection losses, registered in `losses.LOSSES`: sigmoid focal loss, GIoU loss and the FCOS loss.

- ``sigmoid_focal``: the focal loss of Lin et al. (alpha 0.25, gamma 2) on sigmoid
  probabilities, summed over elements and divided by the number of positive targets (>= 1).
- ``giou``: 1 - generalized IoU of corner boxes (..., 4), averaged over boxes.
- ``fcos``: the FCOS detector's loss on output maps (N, C + 5, h, w) against
  `zoo.detection.targets.encode_fcos` maps: focal loss of the class channels (over the number of
  positives) + GIoU of the left/top/right/bottom distances at the positives, weighted by the
  centerness target + binary cross-entropy of the centerness logit at the positives.
- ``centernet``: the 3D detector's loss on maps (N, C + 1, d, h, w) against
  `zoo.detection.centernet3d.encode_centres` maps: CenterNet's penalty-reduced focal loss of the
  heat-map logits (alpha 2, beta 4) over the number of centres + the L1 error of the diameter
  channel at the centres (where the heat target is 1).
- ``centernet_offsets``: the same for maps (N, C + 4, d, h, w) that end with the centre's
  offset within its output location (z, y, x, in locations), L1 at the centres (CenterNet's
  offset head: a small nodule's centre to better than the output stride).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-7


def focal_with_logits(
    z: torch.Tensor, t: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Summed sigmoid focal loss of logits `z` against 0/1 targets `t`."""
    p = torch.sigmoid(z)
    ce = F.binary_cross_entropy_with_logits(z, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    a_t = alpha * t + (1 - alpha) * (1 - t)
    return (a_t * (1 - p_t) ** gamma * ce).sum()


def sigmoid_focal(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Focal loss of sigmoid probabilities `y` (the loss table's form), over the positives."""
    y, t = y.float().clamp(EPS, 1 - EPS), t.float()
    z = torch.log(y) - torch.log1p(-y)
    return focal_with_logits(z, t) / t.sum().clamp_min(1.0)


def giou_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-box 1 - GIoU of corner boxes (..., 4)."""
    lo, hi = torch.maximum(a[..., :2], b[..., :2]), torch.minimum(a[..., 2:], b[..., 2:])
    inter = (hi - lo).clamp_min(0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp_min(0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp_min(0).prod(-1)
    union = area_a + area_b - inter
    iou = inter / union.clamp_min(EPS)
    hull = (torch.maximum(a[..., 2:], b[..., 2:]) - torch.minimum(a[..., :2], b[..., :2])).prod(-1)
    return 1 - (iou - (hull - union) / hull.clamp_min(EPS))


def giou(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Mean 1 - GIoU of predicted against target corner boxes (..., 4)."""
    return giou_loss(y.float(), t.float()).mean()


def fcos(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The FCOS loss of output maps against target maps (see the module docstring)."""
    if y.dim() != 4 or y.shape != t.shape or y.shape[1] < 6:
        raise ValueError(
            f"fcos: output and target must be equal (N, classes + 5, h, w) maps, got "
            f"{tuple(y.shape)} and {tuple(t.shape)}"
        )
    y, t = y.float(), t.float()
    c = y.shape[1] - 5
    ctr_t = t[:, -1]
    pos = ctr_t > 0
    n_pos = pos.sum().clamp_min(1).float()
    cls = focal_with_logits(y[:, :c], t[:, :c]) / n_pos
    if not bool(pos.any()):
        return cls
    d_y = y[:, c : c + 4].permute(0, 2, 3, 1)[pos]
    d_t = t[:, c : c + 4].permute(0, 2, 3, 1)[pos]
    # distances -> boxes around the location (the location at 0): [-l, -t, r, b]
    to_box = torch.tensor([-1.0, -1.0, 1.0, 1.0], device=y.device)
    w = ctr_t[pos]
    box = (giou_loss(d_y * to_box, d_t * to_box) * w).sum() / w.sum().clamp_min(EPS)
    ctr = F.binary_cross_entropy_with_logits(y[:, -1][pos], ctr_t[pos], reduction="sum") / n_pos
    return cls + box + ctr


def centernet(y: torch.Tensor, t: torch.Tensor, offsets: bool = False) -> torch.Tensor:
    """The CenterNet loss of output maps against target maps (see the module docstring); with
    `offsets` the last three channels are the centre's offset within its location (z, y, x),
    regressed by L1 at the centres as the diameter."""
    extra = 4 if offsets else 1
    if y.dim() != 5 or y.shape != t.shape or y.shape[1] < extra + 1:
        layout = "classes + 4 (diameter, offsets)" if offsets else "classes + 1"
        raise ValueError(
            f"{'centernet_offsets' if offsets else 'centernet'}: output and target must be "
            f"equal (N, {layout}, d, h, w) maps, got {tuple(y.shape)} and {tuple(t.shape)}"
        )
    y, t = y.float(), t.float()
    heat_t = t[:, :-extra]
    p = torch.sigmoid(y[:, :-extra]).clamp(1e-4, 1 - 1e-4)
    centre = heat_t >= 1.0
    n = centre.sum().clamp_min(1).float()
    pos = (-torch.log(p) * (1 - p) ** 2)[centre].sum()
    neg = (-torch.log1p(-p) * p**2 * (1 - heat_t) ** 4)[~centre].sum()
    at = centre.any(dim=1)
    size = (y[:, -extra][at] - t[:, -extra][at]).abs().sum()
    off = (
        (y[:, -3:].movedim(1, -1)[at] - t[:, -3:].movedim(1, -1)[at]).abs().sum() if offsets else 0
    )
    return (pos + neg + 0.1 * size + off) / n


def centernet_offsets(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """`centernet` for maps with the three offset channels (``CenterNet3D(offsets=True)``)."""
    return centernet(y, t, offsets=True)
