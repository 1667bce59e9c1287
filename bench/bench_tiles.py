"""Benchmark: Deep Zoom tiles/s of the slide viewer's tile source against a plain OpenSlide loop.

Peers over the same regions (every full-resolution Deep Zoom tile of the slide, 254 px + 1 px
overlap, i.e. the regions OpenSeadragon asks for when zoomed in), interleaved round after round,
one thread, medians reported:

- plain openslide-python: ``np.asarray(slide.read_region(...).convert("RGB"))`` per region
  (pixels only, no encoding);
- openslide-python's own ``DeepZoomGenerator.get_tile`` + JPEG (PIL, quality 80);
- deephealth ``DeepZoom.tile_jpeg`` (ECVL ``OpenSlideImage`` read + JPEG quality 80), no cache;
- deephealth ``SlideTiles.tile`` with a warm tile cache (what a second view of the same area
  costs);
- the HTTP tile endpoint (``/api/datasets/{id}/samples/{i}/slide_files/...``, FastAPI test client,
  logged-in session, warm cache): request overhead included.

Two slides: the real Aperio SVS CMU-1-Small-Region (JPEG tiles) and a 3 x 3 mosaic of it written
as a zlib pyramidal TIFF (6660 x 8901 px; bench_slide.make_mosaic). Writes
``bench/results/tiles.md``. A benchmark, not a test: ``python bench/bench_tiles.py``.
"""

from __future__ import annotations

import argparse
import datetime
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_slide import CMU, machine, make_mosaic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def regions(dz) -> list[tuple[int, int, int, int, int, int]]:
    """``(col, row, x0, y0, w, h)`` of every full-resolution tile."""
    top = dz.max_level
    cols, rows = dz.tile_grid(top)
    out = []
    for row in range(rows):
        for col in range(cols):
            x0, y0, x1, y1 = dz.tile_region(top, col, row)
            out.append((col, row, x0, y0, x1 - x0, y1 - y0))
    return out


def endpoint_client(slide: Path, folder: Path):
    """A logged-in test client of a server whose dataset's sample 0 is `slide`; its tile URL."""
    import shutil

    import yaml
    from fastapi.testclient import TestClient

    from deephealth.server.app import create_app
    from deephealth.server.config import ServerConfig

    approved = folder / "approved"
    (approved / "ds").mkdir(parents=True)
    shutil.copy(slide, approved / "ds" / slide.name)
    (approved / "ds" / "ds.yml").write_text(yaml.safe_dump({"images": [{"location": slide.name}]}))
    config = ServerConfig(
        data_dir=folder / "data", approved_folders=[approved], argon2_time_cost=1,
        argon2_memory_kib=1024,
    )  # fmt: skip
    client = TestClient(create_app(config), base_url="https://testserver")
    r = client.post("/api/auth/signup", json={"email": "b@example.org", "password": "benchmark pw"})
    csrf = r.json().get("csrf_token") or client.cookies.get("dh_csrf", "")
    client.headers["X-CSRF-Token"] = csrf
    p = client.post("/api/projects", json={"name": "b", "task": "classification"}).json()
    ds = client.post(
        f"/api/projects/{p['id']}/datasets/register", json={"path": str(approved / "ds")}
    ).json()
    return client, f"/api/datasets/{ds['id']}/samples/0/slide_files"


def bench_slide(path: Path, rounds: int, folder: Path) -> list[tuple[str, float]]:
    """Tiles/s of each peer on one slide (medians over `rounds`)."""
    from openslide import OpenSlide
    from openslide.deepzoom import DeepZoomGenerator

    from deephealth.ecvl.slide import OpenSlideImage
    from deephealth.server.deepzoom import DeepZoom, SlideTiles, TileCache

    osr = OpenSlide(str(path))
    ref_dz = DeepZoomGenerator(osr, 254, 1, limit_bounds=False)
    dz = DeepZoom(OpenSlideImage(path))
    cached = SlideTiles(TileCache(1024 * 1024 * 1024))
    tiles = regions(dz)
    top = dz.max_level
    client, tile_url = endpoint_client(path, folder)

    def plain() -> None:
        for _, _, x, y, w, h in tiles:
            np.asarray(osr.read_region((x, y), 0, (w, h)).convert("RGB"))

    def openslide_dz() -> None:
        for col, row, *_ in tiles:
            buf = io.BytesIO()
            ref_dz.get_tile(top, (col, row)).convert("RGB").save(buf, "jpeg", quality=80)

    def ours() -> None:
        for col, row, *_ in tiles:
            dz.tile_jpeg(top, col, row)

    def ours_cached() -> None:
        for col, row, *_ in tiles:
            cached.tile(path, top, col, row)

    def http_cached() -> None:
        for col, row, *_ in tiles:
            r = client.get(f"{tile_url}/{top}/{col}_{row}.jpeg")
            assert r.status_code == 200, r.text

    peers: dict[str, Callable[[], None]] = {
        "openslide read_region loop (pixels, no encoding)": plain,
        "openslide DeepZoomGenerator + JPEG": openslide_dz,
        "deephealth DeepZoom tile (read + JPEG), uncached": ours,
        "deephealth tile cache, warm": ours_cached,
        "HTTP tile endpoint, warm cache": http_cached,
    }
    ours_cached()
    http_cached()  # warm both caches
    times: dict[str, list[float]] = {k: [] for k in peers}
    for _ in range(rounds):
        for name, fn in peers.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return [(name, len(tiles) / statistics.median(ts)) for name, ts in times.items()]


def main() -> int:
    """Run the benchmark and write bench/results/tiles.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lines = [
        "## Deep Zoom tiles for the slide viewer (bench_tiles.py)",
        "",
        f"{datetime.date.today().isoformat()}, {machine()} (shared). Every full-resolution Deep "
        f"Zoom tile (254 px + 1 px overlap), one thread, medians of {args.rounds} interleaved "
        "rounds. Ratio = tiles/s over the plain `read_region` loop (goal: uncached ≥ 0.9, "
        "cached ≥ 10).",
        "",
        "| slide | tiles | peer | tiles/s | ratio to read_region loop |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        slides = {
            "CMU-1-Small-Region SVS (JPEG)": CMU,
            "3x3 mosaic, zlib pyramidal TIFF": make_mosaic(tmpdir),
        }
        for i, (label, path) in enumerate(slides.items()):
            from deephealth.ecvl.slide import OpenSlideImage
            from deephealth.server.deepzoom import DeepZoom

            n = len(regions(DeepZoom(OpenSlideImage(path))))
            results = bench_slide(path, args.rounds, tmpdir / f"server{i}")
            base = results[0][1]
            for name, rate in results:
                ratio = rate / base
                bold = f"**{ratio:.2f}**" if name.startswith("deephealth") else f"{ratio:.2f}"
                lines.append(f"| {label} | {n} | {name} | {rate:.0f} | {bold} |")
                print(f"{label:35s} {name:50s} {rate:8.0f} tiles/s  {ratio:5.2f}x", flush=True)
    out = Path(__file__).resolve().parent / "results" / "tiles.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
