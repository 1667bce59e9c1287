"""The viewers' API on real files: volumes as NIfTI (a NIfTI sample served as stored, a DICOM
series converted with ECVL's reader), Deep Zoom tiles of the CMU-1 slide against OpenSlide's own
`read_region`, the tile cache, and 2D images with their masks and boxes."""

from __future__ import annotations

import gzip
import io
import re

import _viewer_data
import cv2
import numpy as np
import pytest


@pytest.fixture
def viewer_ds(users, project, config) -> dict:
    """The viewer dataset registered in `project` (admin added as owner)."""
    folder = config.approved_folders[0] / "viewers"
    _viewer_data.make_viewer_dataset(folder)
    users["owner"].post(
        f"/api/projects/{project['id']}/members",
        json={"email": "admin@example.org", "role": "owner"},
    )
    r = users["admin"].post(
        f"/api/projects/{project['id']}/datasets/register", json={"path": str(folder)}
    )
    assert r.status_code == 201, r.text
    return r.json()


def _url(ds: dict, index: int, rest: str) -> str:
    return f"/api/datasets/{ds['id']}/samples/{index}/{rest}"


def test_view_kinds_and_access(users, viewer_ds):
    viewer = users["viewer"]
    kinds = [viewer.get(_url(viewer_ds, i, "view")).json()["kind"] for i in range(5)]
    assert kinds == ["volume", "volume", "image", "slide", "volume"]
    series = viewer.get(_url(viewer_ds, 1, "view")).json()
    assert series["mask"] is None and series["image"].endswith("volume.nii.gz")
    for who in ("stranger", "anonymous"):
        assert users[who].get(_url(viewer_ds, 0, "view")).status_code in (401, 404)
        assert users[who].get(_url(viewer_ds, 3, "slide.dzi")).status_code in (401, 404)
    assert viewer.get(_url(viewer_ds, 9, "view")).status_code == 404
    assert viewer.get(_url(viewer_ds, 0, "volume.nii.gz?part=nope")).status_code == 422


def test_volumes_as_nifti(users, viewer_ds, config):
    import nibabel as nib

    from deephealth.ecvl import ImRead

    client = users["viewer"]
    r = client.get(_url(viewer_ds, 0, "volume.nii.gz"))
    assert r.status_code == 200
    assert r.content == _viewer_data.t1_path().read_bytes()  # served as stored
    mask = nib.Nifti1Image.from_bytes(
        gzip.decompress(client.get(_url(viewer_ds, 0, "volume.nii.gz?part=mask")).content)
    )
    assert set(np.unique(np.asarray(mask.dataobj)).tolist()) == {0, 1, 2}

    # The DICOM series, converted server-side: the same voxels as ECVL's reader, RAS affine.
    r = client.get(_url(viewer_ds, 1, "volume.nii.gz"))
    assert r.status_code == 200 and r.content[:2] == b"\x1f\x8b"
    nii = nib.Nifti1Image.from_bytes(gzip.decompress(r.content))
    files = sorted((config.approved_folders[0] / "viewers" / "series").glob("*.dcm"))
    ref = ImRead([str(f) for f in files])
    assert nii.shape == (256, 256, 20)
    np.testing.assert_array_equal(np.asarray(nii.dataobj), np.asarray(ref.data)[..., 0])
    lps = np.asarray(ref.meta["affine"])
    np.testing.assert_allclose(nii.affine, np.diag([-1, -1, 1, 1]) @ lps, atol=1e-4)
    np.testing.assert_allclose(nii.header.get_zooms(), ref.spacings[:3], rtol=1e-5)
    assert client.get(_url(viewer_ds, 1, "volume.nii.gz")).content == r.content  # cached copy
    assert len(list(config.path("cache", "volumes").glob("*.nii.gz"))) == 1


def test_deep_zoom_tiles_match_openslide(users, viewer_ds):
    from openslide import OpenSlide

    client = users["viewer"]
    dzi = client.get(_url(viewer_ds, 3, "slide.dzi"))
    assert dzi.status_code == 200 and dzi.headers["content-type"].startswith("application/xml")
    size = tuple(int(v) for v in re.search(r'Width="(\d+)" Height="(\d+)"', dzi.text).groups())
    slide = OpenSlide(str(_viewer_data.SLIDE))
    assert size == slide.dimensions
    top = int(np.ceil(np.log2(max(size))))
    # Tile (2, 3) of the full-resolution level: pixels 507..762 x 761..1016 (1-pixel overlap).
    r = client.get(_url(viewer_ds, 3, f"slide_files/{top}/2_3.jpeg"))
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    tile = cv2.cvtColor(
        cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )
    ref = np.asarray(slide.read_region((2 * 254 - 1, 3 * 254 - 1), 0, (256, 256)).convert("RGB"))
    assert tile.shape == ref.shape
    assert np.abs(tile.astype(int) - ref.astype(int)).mean() < 3  # JPEG quality 80
    # A low level is the whole slide shrunk; the last tile of a level is cut at the edge.
    small = client.get(_url(viewer_ds, 3, f"slide_files/{top - 4}/0_0.jpeg"))
    img = cv2.imdecode(np.frombuffer(small.content, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[:2] == (int(np.ceil(size[1] / 16)), int(np.ceil(size[0] / 16)))
    # Bad tiles are 404s that name the sample, not the server path.
    for bad in (f"{top + 1}/0_0.jpeg", f"{top}/99_0.jpeg", f"{top}/a_b.jpeg", f"{top}/0_0.png"):
        r = client.get(_url(viewer_ds, 3, f"slide_files/{bad}"))
        assert r.status_code == 404 and "approved" not in r.text
    assert client.get(_url(viewer_ds, 0, "slide.dzi")).status_code == 404  # not a slide

    # The slide's heat map (pyramidal TIFF from the slide pipeline's writer) is a second layer.
    view = client.get(_url(viewer_ds, 3, "view")).json()
    assert view["mask"].endswith("slide.dzi?part=mask")
    heat = client.get(view["mask"]).text
    hw = tuple(int(v) for v in re.search(r'Width="(\d+)" Height="(\d+)"', heat).groups())
    assert hw == tuple(int(np.ceil(v / _viewer_data.HEAT_DOWNSAMPLE)) for v in size)
    htop = int(np.ceil(np.log2(max(hw))))
    r = client.get(_url(viewer_ds, 3, f"slide_files/{htop}/1_1.jpeg?part=mask"))
    rgb = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert r.status_code == 200 and rgb.shape == (256, 256, 3) and rgb.std() > 5


def test_tile_cache_is_bounded_lru():
    from deephealth.server.deepzoom import SlideTiles, TileCache

    top = SlideTiles().pyramid(_viewer_data.SLIDE).max_level
    sizes = [len(SlideTiles().tile(_viewer_data.SLIDE, top, c, 4)) for c in range(8)]
    bound = sum(sorted(sizes)[-3:])  # room for three tiles at most
    tiles = SlideTiles(TileCache(max_bytes=bound))
    first = tiles.tile(_viewer_data.SLIDE, top, 0, 4)
    assert tiles.tile(_viewer_data.SLIDE, top, 0, 4) is first and tiles.cache.hits == 1
    for col in range(1, 8):
        tiles.tile(_viewer_data.SLIDE, top, col, 4)
    assert tiles.cache.size_bytes <= bound and 1 <= len(tiles.cache) <= 3
    assert tiles.tile(_viewer_data.SLIDE, top, 0, 4) is not first  # evicted, read again
    assert tiles.tile(_viewer_data.SLIDE, top, 0, 4) == first  # same bytes


def test_2d_full_resolution_with_mask_and_boxes(users, viewer_ds):
    import tifffile

    client = users["viewer"]
    view = client.get(_url(viewer_ds, 2, "view")).json()
    assert len(view["boxes"]) == 6 and view["boxes"][0]["class"] == "nucleus"
    img = cv2.imdecode(
        np.frombuffer(client.get(view["image"]).content, np.uint8), cv2.IMREAD_UNCHANGED
    )
    assert img.shape == (512, 512)
    rgba = cv2.imdecode(
        np.frombuffer(client.get(view["mask"]).content, np.uint8), cv2.IMREAD_UNCHANGED
    )
    inst = tifffile.imread(_viewer_data.NUCLEI / "mask2d.tif")
    assert rgba.shape == (512, 512, 4)
    np.testing.assert_array_equal(rgba[..., 3] > 0, inst > 0)
    assert client.get(view["image"] + "?window=bad").status_code == 422
    assert io.BytesIO(client.get(view["image"] + "?window=40,400").content).read(4) == b"\x89PNG"


def test_deep_zoom_on_a_multilevel_pyramid_matches_openslide(tmp_path):
    """On a 3-level pyramidal TIFF, each Deep Zoom level whose scale is a slide level's
    downsample is read from that level unresized: the same pixels as openslide's own
    DeepZoomGenerator; the kind detection calls the TIFF a slide, and a dataset viewer view
    lists its levels."""
    from openslide import OpenSlide
    from openslide.deepzoom import DeepZoomGenerator

    from deephealth.ecvl.slide import OpenSlideImage, write_pyramidal_tiff
    from deephealth.server.api.viewers import kind_of
    from deephealth.server.deepzoom import DeepZoom, encode_jpeg

    with OpenSlideImage(_viewer_data.SLIDE) as slide:
        pixels = slide.read_region(0, 0, 0, 2048, 2048)
    path = tmp_path / "pyramid.tif"
    write_pyramidal_tiff(path, pixels, 0.5, min_size=512)
    dz = DeepZoom(OpenSlideImage(path))
    assert dz.slide.GetLevelCount() == 3 and kind_of([path]) == "slide"
    ref = DeepZoomGenerator(OpenSlide(str(path)), 254, 1, limit_bounds=False)
    for level in (dz.max_level, dz.max_level - 1, dz.max_level - 2):  # slide levels 0, 1, 2
        for col, row in ((0, 0), (1, 1)):
            ours = dz.tile_pixels(level, col, row)
            theirs = np.asarray(ref.get_tile(level, (col, row)).convert("RGB"))
            np.testing.assert_array_equal(ours, theirs)
            # the JPEG tile (read as BGRA, encoded without conversion) is the JPEG of those pixels
            assert dz.tile_jpeg(level, col, row) == encode_jpeg(ours, dz.quality)
    coarse = dz.max_level - 4  # cut from the overview
    assert dz.tile_jpeg(coarse, 0, 0) == encode_jpeg(dz.tile_pixels(coarse, 0, 0), dz.quality)


def test_slide_annotations_export_for_qupath(users, viewer_ds):
    from deephealth.ecvl.pathology.annotations import parse_geojson

    client = users["viewer"]
    view = client.get(_url(viewer_ds, 3, "view")).json()
    assert [a["label"] for a in view["annotations"]] == ["nucleus", "tumour"]
    r = client.get(view["geojson"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    assert "attachment" in r.headers["content-disposition"]
    got = parse_geojson(r.json())  # QuPath's form: classification.name, closed rings
    assert [a.label for a in got] == ["nucleus", "tumour"]
    x0, y0, x1, y1, _ = _viewer_data.SLIDE_BOX
    assert got[0].bbox == (x0, y0, x1, y1)
    np.testing.assert_allclose(got[1].exterior[:-1], _viewer_data.TUMOUR)
    feature = r.json()["features"][1]
    assert feature["properties"]["objectType"] == "annotation"
    assert users["stranger"].get(view["geojson"]).status_code == 404
