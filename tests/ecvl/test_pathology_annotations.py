"""GeoJSON annotations: QuPath-style parsing, tile labels and masks from polygons, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deephealth.ecvl.pathology import (
    Annotation,
    AnnotationLabeler,
    Tile,
    parse_geojson,
    read_geojson,
    write_geojson,
)

QUPATH = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[100, 100], [900, 100], [900, 500], [100, 500], [100, 100]],
                    [[300, 200], [500, 200], [500, 400], [300, 400], [300, 200]],
                ],
            },
            "properties": {
                "objectType": "annotation",
                "classification": {"name": "tumour", "color": [200, 0, 0]},
            },
        },
        {
            "type": "Feature",
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [
                    [[[0, 600], [200, 600], [200, 800], [0, 800], [0, 600]]],
                    [[[600, 600], [800, 600], [800, 800], [600, 800], [600, 600]]],
                ],
            },
            "properties": {"classification": {"name": "stroma"}},
        },
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [5, 5]}, "properties": {}},
    ],
}


def tile(x: int, y: int, size: int = 100, ds: float = 1.0) -> Tile:
    return Tile(0, 0, 0, x, y, 0, size, size, ds)


def test_parse_qupath_feature_collection() -> None:
    ann = parse_geojson(QUPATH)
    assert [a.label for a in ann] == ["tumour", "stroma", "stroma"]  # the point carries no area
    assert len(ann[0].holes) == 1
    assert ann[0].bbox == (100.0, 100.0, 900.0, 500.0)
    assert ann[2].bbox == (600.0, 600.0, 800.0, 800.0)


def test_tile_labels_from_polygons_with_holes() -> None:
    labeler = AnnotationLabeler(
        parse_geojson(QUPATH),
        ["normal", "tumour", "stroma"],
        (1000, 1000),
        background="normal",
        downsample=4,
    )
    assert labeler.label(tile(150, 150)) == 1
    assert labeler.label(tile(350, 250)) == 0  # inside the hole: background
    assert labeler.label(tile(650, 650)) == 2
    assert labeler.label(tile(880, 480)) == 0  # tumour covers only 4 % of it
    no_bg = AnnotationLabeler(
        parse_geojson(QUPATH), ["tumour", "stroma"], (1000, 1000), downsample=4
    )
    assert no_bg.label(tile(350, 250)) is None
    assert no_bg.coverage(100, 100, 800, 400)[0] == pytest.approx(1 - 0.125, abs=0.01)


def test_tile_mask_is_exact() -> None:
    labeler = AnnotationLabeler(
        parse_geojson(QUPATH), ["normal", "tumour", "stroma"], (1000, 1000), background="normal"
    )
    mask = labeler.mask(tile(250, 150, size=100, ds=2.0))  # covers level-0 [250, 450) x [150, 350)
    expected = np.ones((100, 100), np.uint8)
    expected[25:, 25:] = 0  # the hole starts at level-0 (300, 200)
    np.testing.assert_array_equal(mask, expected)


def test_write_read_round_trip(tmp_path: Path) -> None:
    ann = [Annotation("tumour", np.array([[10.0, 10.0], [50.0, 10.0], [50.0, 40.0]]))]
    path = tmp_path / "out.geojson"
    write_geojson(path, ann, {"tumour": (255, 0, 0)})
    data = json.loads(path.read_text())
    assert data["type"] == "FeatureCollection"
    props = data["features"][0]["properties"]
    assert props["objectType"] == "annotation"
    assert props["classification"] == {"name": "tumour", "color": [255, 0, 0]}
    ring = data["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1]  # closed as GeoJSON requires
    back = read_geojson(path)
    assert back[0].label == "tumour" and back[0].bbox == (10.0, 10.0, 50.0, 40.0)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not in classes"):
        AnnotationLabeler(parse_geojson(QUPATH), ["tumour"], (1000, 1000))
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.geojson"):
        read_geojson(bad)
    with pytest.raises(ValueError, match="fewer than 3"):
        parse_geojson(
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}
        )
    with pytest.raises(ValueError, match="FeatureCollection"):
        parse_geojson({"type": "Polygon"})
