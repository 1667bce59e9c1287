"""Predicted regions as polygons: label map → contours → GeoJSON that QuPath imports.

Each connected region of a class in a slide-aligned label map becomes a polygon (with holes) in
level-0 pixel coordinates, classified with the class name and a colour, written as a GeoJSON
FeatureCollection of ``objectType: "annotation"`` features for a pathologist to review and
correct in QuPath.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from deephealth.ecvl.pathology.annotations import Annotation, write_geojson

_PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
]


def mask_to_polygons(
    mask: np.ndarray, downsample: float, min_area: float = 0.0
) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """Polygons of a boolean map as ``(exterior, holes)`` in level-0 pixel coordinates.

    Map pixel ``(i, j)`` covers level-0 ``[j * ds, (j + 1) * ds)``; contour vertices run through
    boundary pixel centres, i.e. ``((j + 0.5) * ds, (i + 0.5) * ds)``.

    Args:
        mask: ``(H, W)`` boolean.
        downsample: level-0 pixels per map pixel.
        min_area: drop polygons smaller than this area in level-0 pixels².
    """
    import cv2

    m = np.ascontiguousarray(mask.astype(np.uint8))
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    out = []
    hier = hierarchy[0]

    def scaled(c: np.ndarray) -> np.ndarray:
        return (c.reshape(-1, 2).astype(np.float64) + 0.5) * downsample

    for i, contour in enumerate(contours):
        if hier[i][3] != -1:
            continue  # a hole; attached to its parent below
        exterior = scaled(contour)
        if cv2.contourArea(contour) * downsample**2 < min_area:
            continue
        holes = []
        child = hier[i][2]
        while child != -1:
            if len(contours[child]) >= 3:
                holes.append(scaled(contours[child]))
            child = hier[child][0]
        if len(exterior) < 3:  # one- or two-pixel regions: use the pixel square(s)' corners
            x0, y0 = contour.reshape(-1, 2).min(0) * downsample
            x1, y1 = (contour.reshape(-1, 2).max(0) + 1) * downsample
            exterior = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        out.append((exterior, holes))
    return out


def label_map_to_annotations(
    labels: np.ndarray,
    downsample: float,
    classes: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    min_area: float = 0.0,
) -> list[Annotation]:
    """Annotations for every class of ``labels`` (class indices; 255 = no prediction)."""
    annotations = []
    for k, name in enumerate(classes):
        if name in exclude:
            continue
        for exterior, holes in mask_to_polygons(labels == k, downsample, min_area):
            annotations.append(Annotation(name, exterior, tuple(holes)))
    return annotations


def export_geojson(
    path: str | os.PathLike[str],
    labels: np.ndarray,
    downsample: float,
    classes: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    min_area: float = 0.0,
) -> int:
    """Write the regions of ``labels`` as a QuPath GeoJSON FeatureCollection.

    Returns:
        The number of polygons written.
    """
    annotations = label_map_to_annotations(
        labels, downsample, classes, exclude=exclude, min_area=min_area
    )
    colors = {c: _PALETTE[i % len(_PALETTE)] for i, c in enumerate(classes)}
    write_geojson(path, annotations, colors)
    return len(annotations)
