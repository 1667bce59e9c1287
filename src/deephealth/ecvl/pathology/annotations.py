"""Annotation polygons (GeoJSON, as QuPath exports them) and the labels they give to tiles.

:func:`read_geojson` loads a FeatureCollection (or a bare list of features, QuPath's older
export) of ``Polygon`` / ``MultiPolygon`` geometries in level-0 pixel coordinates, taking each
feature's class from ``properties.classification.name`` (QuPath) or ``properties.label`` /
``properties.name``. :class:`AnnotationLabeler` rasterizes them once at a low resolution and
gives each tile the class covering most of it (or the background class), and rasterizes the
exact polygons into a per-tile label mask for segmentation. :func:`write_geojson` writes
polygons back in the form QuPath imports.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deephealth.ecvl.pathology._integral import rect_fraction, summed_area


@dataclass(frozen=True)
class Annotation:
    """One annotated polygon (with holes) in level-0 pixel coordinates.

    Attributes:
        label: class name.
        exterior: ``(N, 2)`` float array of ``(x, y)`` vertices.
        holes: interior rings, each ``(M, 2)``.
        properties: the feature's other properties.
    """

    label: str
    exterior: np.ndarray
    holes: tuple[np.ndarray, ...] = ()
    properties: Mapping[str, Any] | None = None

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of the exterior ring."""
        x0, y0 = self.exterior.min(0)
        x1, y1 = self.exterior.max(0)
        return float(x0), float(y0), float(x1), float(y1)


def _feature_label(props: Mapping[str, Any], default: str) -> str:
    cls = props.get("classification")
    if isinstance(cls, Mapping) and cls.get("name"):
        return str(cls["name"])
    if isinstance(cls, str) and cls:
        return cls
    for key in ("label", "class", "name"):
        if props.get(key):
            return str(props[key])
    return default


def parse_geojson(
    data: Any, *, default_label: str = "annotation", source: str = "<geojson>"
) -> list[Annotation]:
    """Turn parsed GeoJSON (FeatureCollection, Feature or list of features) into annotations.

    Raises:
        ValueError: the structure is not GeoJSON polygons (the message names ``source``).
    """
    if isinstance(data, Mapping) and data.get("type") == "FeatureCollection":
        features = data.get("features", [])
    elif isinstance(data, Mapping) and data.get("type") == "Feature":
        features = [data]
    elif isinstance(data, list):
        features = data
    else:
        raise ValueError(
            f"{source}: expected a GeoJSON FeatureCollection, Feature or list of features"
        )
    out: list[Annotation] = []
    for i, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, Mapping) else None
        if not isinstance(geometry, Mapping):
            raise ValueError(f"{source}: feature {i} has no geometry")
        props = feature.get("properties") or {}
        label = _feature_label(props, default_label)
        kind = geometry.get("type")
        if kind == "Polygon":
            polygons = [geometry["coordinates"]]
        elif kind == "MultiPolygon":
            polygons = geometry["coordinates"]
        else:
            continue  # points and lines carry no area
        for rings in polygons:
            try:
                arrays = [np.asarray(r, dtype=np.float64)[:, :2] for r in rings]
            except (ValueError, IndexError, TypeError) as exc:
                raise ValueError(
                    f"{source}: feature {i} has malformed coordinates ({exc})"
                ) from exc
            if not arrays or len(arrays[0]) < 3:
                raise ValueError(f"{source}: feature {i} has a polygon with fewer than 3 vertices")
            out.append(Annotation(label, arrays[0], tuple(arrays[1:]), dict(props)))
    return out


def read_geojson(
    path: str | os.PathLike[str], *, default_label: str = "annotation"
) -> list[Annotation]:
    """Read polygons from a GeoJSON file (QuPath export)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read annotations '{path}': {exc}") from exc
    return parse_geojson(data, default_label=default_label, source=path)


def _ring(points: np.ndarray) -> list[list[float]]:
    pts = [[round(float(x), 2), round(float(y), 2)] for x, y in points]
    if pts and pts[0] != pts[-1]:
        pts.append(pts[0])
    return pts


def annotations_to_geojson(
    annotations: Iterable[Annotation], colors: Mapping[str, Sequence[int]] | None = None
) -> dict[str, Any]:
    """Build a QuPath-readable FeatureCollection from annotations.

    Each feature has ``properties.objectType = "annotation"`` and
    ``properties.classification = {"name": label, "color": [r, g, b]}``; other properties of the
    annotation are kept.
    """
    features = []
    for a in annotations:
        props = dict(a.properties or {})
        classification: dict[str, Any] = {"name": a.label}
        if colors and a.label in colors:
            classification["color"] = [int(c) for c in colors[a.label]]
        props.update({"objectType": "annotation", "classification": classification})
        rings = [_ring(a.exterior), *(_ring(h) for h in a.holes)]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": rings},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def write_geojson(
    path: str | os.PathLike[str],
    annotations: Iterable[Annotation],
    colors: Mapping[str, Sequence[int]] | None = None,
) -> None:
    """Write annotations as a GeoJSON FeatureCollection that QuPath imports."""
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        json.dump(annotations_to_geojson(annotations, colors), f)


def _paint(
    target: np.ndarray, ring: np.ndarray, value: int, offset: Sequence[float], scale: float
) -> None:
    from skimage.draw import polygon

    pts = (ring - np.asarray(offset)) * scale - 0.5  # pixel j's centre is at j + 0.5
    rr, cc = polygon(pts[:, 1], pts[:, 0], shape=target.shape)
    target[rr, cc] = value


def _fill(
    canvas: np.ndarray, annotation: Annotation, value: int, offset: Sequence[float], scale: float
) -> None:
    """Paint the pixels whose centres lie inside the polygon and outside its holes, so that a
    polygon with vertices on pixel edges covers exactly the pixels it encloses."""
    if not annotation.holes:
        _paint(canvas, annotation.exterior, value, offset, scale)
        return
    layer = np.zeros(canvas.shape, dtype=np.uint8)
    _paint(layer, annotation.exterior, 1, offset, scale)
    for hole in annotation.holes:
        _paint(layer, hole, 0, offset, scale)
    canvas[layer > 0] = value


class AnnotationLabeler:
    """Labels tiles from annotation polygons.

    Class indices follow ``classes``; index 0 is the background when ``background`` is set (the
    name of the class of unannotated tissue), otherwise annotations' classes start at 0 and a
    tile without a class gets ``None``. Later annotations overwrite earlier ones where they
    overlap.

    Args:
        annotations: polygons in level-0 pixels.
        classes: class names, in index order (annotation labels not listed raise an error).
        slide_size: level-0 ``(width, height)``.
        background: name of the class of unannotated areas, or ``None``.
        downsample: level-0 pixels per pixel of the coarse raster used for tile labels.
        min_fraction: a class must cover at least this fraction of a tile to label it.
    """

    def __init__(
        self,
        annotations: Sequence[Annotation],
        classes: Sequence[str],
        slide_size: tuple[int, int],
        *,
        background: str | None = None,
        downsample: float = 16.0,
        min_fraction: float = 0.5,
    ) -> None:
        self.classes = list(classes)
        self.background = background
        if background is not None and background not in self.classes:
            raise ValueError(f"background class '{background}' is not in classes {self.classes}")
        unknown = sorted({a.label for a in annotations} - set(self.classes))
        if unknown:
            raise ValueError(f"annotation classes {unknown} are not in classes {self.classes}")
        self.annotations = list(annotations)
        self.downsample = float(downsample)
        self.min_fraction = min_fraction
        w, h = slide_size
        shape = (max(1, int(np.ceil(h / downsample))), max(1, int(np.ceil(w / downsample))))
        raster = np.zeros(shape, dtype=np.uint8)  # 0 = nothing, k + 1 = class k
        for a in self.annotations:
            _fill(raster, a, self.classes.index(a.label) + 1, (0.0, 0.0), 1.0 / downsample)
        self.raster = raster
        onehot = raster[None, :, :] == np.arange(1, len(self.classes) + 1)[:, None, None]
        self._integral = summed_area(onehot)

    def coverage(self, x: float, y: float, w: float, h: float) -> np.ndarray:
        """Fraction of the level-0 rectangle covered by each class (annotated area only)."""
        ds = (self.downsample, self.downsample)
        return np.asarray(rect_fraction(self._integral, (x, y, w, h), ds), dtype=np.float64)

    def label(self, tile: Any) -> int | None:
        """Class index of ``tile`` (anything with ``bounds``), background or ``None``."""
        cover = self.coverage(*tile.bounds)
        if self.background is not None:
            cover[self.classes.index(self.background)] = 0.0
        best = int(np.argmax(cover))
        if cover[best] >= self.min_fraction:
            return best
        return self.classes.index(self.background) if self.background is not None else None

    def mask(self, tile: Any) -> np.ndarray:
        """Exact ``(size, size)`` uint8 label mask of ``tile`` (class index per pixel).

        Unannotated pixels get the background index (0 when there is no background class).
        """
        size = int(tile.size)
        fill0 = self.classes.index(self.background) if self.background is not None else 0
        canvas = np.full((size, size), fill0, dtype=np.uint8)
        x, y, w, h = tile.bounds
        for a in self.annotations:
            ax0, ay0, ax1, ay1 = a.bbox
            if ax1 < x or ay1 < y or ax0 > x + w or ay0 > y + h:
                continue
            _fill(canvas, a, self.classes.index(a.label), (x, y), 1.0 / tile.downsample)
        return canvas
