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


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def mask_to_polygons(
    mask: np.ndarray, downsample: float, min_area: float = 0.0
) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """Polygons of a boolean map as ``(exterior, holes)`` in level-0 pixel coordinates.

    Map pixel ``(i, j)`` covers level-0 ``[j * ds, (j + 1) * ds) x [i * ds, (i + 1) * ds)``; the
    polygons follow the pixel edges (iso-line 0.5 of the map, so corners are cut by half a
    pixel), hence a region painted on the slide comes back with its own bounding box.

    Args:
        mask: ``(H, W)`` boolean.
        downsample: level-0 pixels per map pixel.
        min_area: drop polygons smaller than this area in level-0 pixels².
    """
    import cv2
    from skimage.measure import find_contours

    padded = np.pad(np.asarray(mask, dtype=np.float32), 1)
    rings = []
    for contour in find_contours(padded, 0.5):
        # (row, col) in padded pixel centres -> level-0 (x, y): centre c covers [c - 1, c) * ds
        ring = np.stack([contour[:, 1] - 0.5, contour[:, 0] - 0.5], axis=1) * downsample
        if len(ring) >= 4:
            rings.append((ring, _signed_area(ring)))
    if not rings:
        return []
    outer_sign = np.sign(max(rings, key=lambda r: abs(r[1]))[1])
    outers = [(r, abs(a)) for r, a in rings if np.sign(a) == outer_sign]
    holes = [r for r, a in rings if np.sign(a) != outer_sign]
    polygons: list[tuple[np.ndarray, list[np.ndarray]]] = [(r, []) for r, _ in outers]
    for hole in holes:
        px, py = (float(v) for v in hole[0])
        containing = [
            (area, i)
            for i, (ring, area) in enumerate(outers)
            if cv2.pointPolygonTest(ring.astype(np.float32), (px, py), False) >= 0
        ]
        if containing:
            polygons[min(containing)[1]][1].append(hole)
    return [
        (ext, hs)
        for (ext, hs), (_, area) in zip(polygons, outers)
        if area - sum(abs(_signed_area(h)) for h in hs) >= min_area
    ]


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
