"""Drawing on images in place (pyecvl DrawEllipse), with OpenCV."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from deephealth.ecvl.image import Image
from deephealth.ecvl.imgproc._common import cv_view


def DrawEllipse(
    src: Image,
    center: Sequence[int],
    axes: Sequence[int],
    angle: float,
    color: Sequence[float] | float,
    thickness: int = 1,
) -> None:
    """Draw an ellipse on ``src`` in place (``cv2.ellipse``).

    Args:
        src: A 2D image; modified in place.
        center: ``[x, y]`` of the centre.
        axes: Half-axes ``[a, b]`` in pixels.
        angle: Rotation in degrees.
        color: One value per channel (or one value for all).
        thickness: Line width; negative fills the ellipse.
    """
    arr = cv_view(
        src,
        "DrawEllipse",
        frozenset({"uint8", "int8", "uint16", "int16", "int32", "float32", "float64"}),
    )
    col = [float(color)] * 4 if np.isscalar(color) else [float(c) for c in color]  # type: ignore[arg-type]
    target = arr if arr.flags.c_contiguous and arr.flags.writeable else np.ascontiguousarray(arr)
    cv2.ellipse(
        target,
        (int(center[0]), int(center[1])),
        (int(axes[0]), int(axes[1])),
        float(angle),
        0.0,
        360.0,
        col,
        int(thickness),
    )
    if target is not arr:
        arr[...] = target
