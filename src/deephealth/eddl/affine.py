"""Affine resampling of image batches in torch, shared by the augmentation layers and the
Tensor's image methods: `affine_sample` with EDDL's border modes, rotation matrices and the offset
that makes a matrix act around a point."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def affine_sample(
    x: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor, da_mode: str, constant: float
) -> torch.Tensor:
    """Resample `x` (B, C, H, W): output pixel p reads input pixel `matrix @ p + offset`.

    `matrix` is (B, 2, 2) and `offset` (B, 2), in pixel units of (x=col, y=row) measured from the
    image centre.
    """
    b, _, h, w = x.shape
    scale = torch.tensor([w / 2.0, h / 2.0], dtype=x.dtype, device=x.device)
    theta = torch.empty(b, 2, 3, dtype=x.dtype, device=x.device)
    # normalized u = x_c / (w/2): theta = S^-1 M S, t = S^-1 offset
    theta[:, :, :2] = matrix.to(x.dtype) * scale[None, None, :] / scale[None, :, None]
    theta[:, :, 2] = offset.to(x.dtype) / scale[None, :]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if da_mode == "nearest":
        return F.grid_sample(x, grid, mode="nearest", padding_mode="border", align_corners=False)
    y = F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    ones = torch.ones_like(x[:, :1])
    inside = F.grid_sample(ones, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    fill = x if da_mode == "original" else torch.full_like(y, constant)
    return torch.where(inside > 0.5, y, fill)


def rotation_matrix(angles_deg: torch.Tensor) -> torch.Tensor:
    """(B, 2, 2) matrices mapping output to input pixels for counter-clockwise rotations."""
    a = angles_deg * (math.pi / 180.0)
    c, s = torch.cos(a), torch.sin(a)
    # rows go down, so a counter-clockwise turn on screen reads input at R(+a) in (x, y) coords
    return torch.stack((torch.stack((c, -s), -1), torch.stack((s, c), -1)), -2)


def center_offset(offset_center: Sequence[int], n: int, matrix: torch.Tensor) -> torch.Tensor:
    """Offset that makes `matrix` act around (row, col) offset_center from the image centre."""
    cy, cx = offset_center
    c = torch.tensor([float(cx), float(cy)], dtype=matrix.dtype, device=matrix.device)
    return (c - matrix @ c).expand(n, 2) if matrix.dim() == 2 else c - (matrix @ c)
