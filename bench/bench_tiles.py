"""Benchmark: Deep Zoom tiles/s of the slide viewer's tile source against a plain OpenSlide loop.

Peers over the same regions (every full-resolution Deep Zoom tile of the slide, 254 px + 1 px
overlap, i.e. the regions OpenSeadragon asks for when zoomed in), interleaved round after round,
one thread, medians reported:

- plain openslide-python: ``np.asarray(slide.read_region(...).convert("RGB"))`` per region
  (pixels only, no encoding: the issue's reference);
- the same loop producing what the viewer gets: ``read_region(...).convert("RGB")`` saved as
  JPEG quality 80 by PIL (4:2:0, no optimisation); the benchmark checks that its bytes are
  identical to deephealth's tiles, so this is the like-for-like peer;
- openslide-python's own ``DeepZoomGenerator.get_tile`` + JPEG (PIL, quality 80);
- deephealth ``DeepZoom.tile_jpeg`` (ECVL ``OpenSlideImage`` read + JPEG quality 80), no cache;
- deephealth ``SlideTiles.tile`` with a warm tile cache (what a second view of the same area
  costs);
- the HTTP tile endpoint (``/api/datasets/{id}/samples/{i}/slide_files/...``) of a real
  ``deephealth serve`` with a logged-in session, fetched by 4 concurrent keep-alive clients as a
  browser does (uvicorn's thread pool reads and encodes tiles in parallel; OpenSlide and OpenCV
  release the GIL), with the tile cache off and warm.

Two slides: the real Aperio SVS CMU-1-Small-Region (JPEG tiles) and a 3 x 3 mosaic of it written
as a zlib pyramidal TIFF (6660 x 8901 px; bench_slide.make_mosaic). Writes
``bench/results/tiles.md``. A benchmark, not a test: ``python bench/bench_tiles.py``.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_slide import CMU, machine, make_mosaic

ROOT = Path(__file__).resolve().parents[1]
THREADS = 4  # concurrent tile requests, as OpenSeadragon makes them


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


class Served:
    """`deephealth serve` in a subprocess with the slide as sample 0 of a registered dataset, and
    a logged-in keep-alive HTTP client per thread; `cache_mb` sets its tile cache (0: none)."""

    def __init__(self, slide: Path, folder: Path, cache_mb: int) -> None:
        import os
        import shutil
        import socket
        import subprocess

        import httpx
        import yaml

        approved = folder / "approved"
        (approved / "ds").mkdir(parents=True)
        shutil.copy(slide, approved / "ds" / slide.name)
        (approved / "ds" / "ds.yml").write_text(
            yaml.safe_dump({"images": [{"location": slide.name}]})
        )
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DEEPHEALTH_TILE_CACHE_MB": str(cache_mb),
               "DEEPHEALTH_ARGON2_TIME_COST": "1", "DEEPHEALTH_ARGON2_MEMORY_KIB": "1024"}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deephealth.cli", "serve", "--port", str(port), "--data-dir",
             str(folder / "data"), "--workers", "1", "--approved-folder", str(approved),
             "--insecure-cookies"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        for _ in range(300):
            try:
                if httpx.get(self.base + "/docs", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        client = httpx.Client(base_url=self.base)
        r = client.post("/api/auth/signup", json={"email": "b@example.org", "password": PASSWORD})
        assert r.status_code == 201, r.text
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        r = client.post("/api/projects", json={"name": "b", "task": "classification"})
        r = client.post(
            f"/api/projects/{r.json()['id']}/datasets/register", json={"path": str(approved / "ds")}
        )
        assert r.status_code == 201, r.text
        self.url = f"/api/datasets/{r.json()['id']}/samples/0/slide_files"
        self.cookies = client.cookies
        client.close()

    def fetch_all(self, paths: list[str], threads: int) -> None:
        """GET every tile with `threads` concurrent keep-alive clients (as a browser does)."""
        from concurrent.futures import ThreadPoolExecutor

        import httpx

        def run(part: list[str]) -> None:
            with httpx.Client(base_url=self.base, cookies=self.cookies) as c:
                for p in part:
                    r = c.get(self.url + p)
                    assert r.status_code == 200, r.text

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, [paths[i::threads] for i in range(threads)]))

    def stop(self) -> None:
        import os
        import signal

        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(30)


PASSWORD = "tiles per second benchmark"


def pil_jpeg(image) -> bytes:
    """JPEG quality 80 as openslide's Deep Zoom examples save tiles (PIL defaults: 4:2:0)."""
    buf = io.BytesIO()
    image.save(buf, "jpeg", quality=80)
    return buf.getvalue()


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
    cold = Served(path, folder / "cold", cache_mb=0)
    warm = Served(path, folder / "warm", cache_mb=1024)
    urls = [f"/{top}/{col}_{row}.jpeg" for col, row, *_ in tiles]

    def plain() -> None:
        for _, _, x, y, w, h in tiles:
            np.asarray(osr.read_region((x, y), 0, (w, h)).convert("RGB"))

    def plain_jpeg() -> None:
        for _, _, x, y, w, h in tiles:
            pil_jpeg(osr.read_region((x, y), 0, (w, h)).convert("RGB"))

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

    def http_cold() -> None:
        cold.fetch_all(urls, THREADS)

    def http_warm() -> None:
        warm.fetch_all(urls, THREADS)

    peers: dict[str, Callable[[], None]] = {
        "openslide read_region loop (pixels, no encoding)": plain,
        "openslide read_region loop + JPEG (PIL, same bytes)": plain_jpeg,
        "openslide DeepZoomGenerator + JPEG": openslide_dz,
        "deephealth DeepZoom tile (read + JPEG), uncached": ours,
        "deephealth tile cache, warm": ours_cached,
        f"HTTP endpoint, {THREADS} concurrent clients, no cache": http_cold,
        f"HTTP endpoint, {THREADS} concurrent clients, warm cache": http_warm,
    }
    same = sum(
        pil_jpeg(osr.read_region((x, y), 0, (w, h)).convert("RGB")) == dz.tile_jpeg(top, col, row)
        for col, row, x, y, w, h in tiles
    )
    print(f"{path.name}: {same} of {len(tiles)} tiles byte-identical to PIL's JPEG", flush=True)
    ours_cached()
    http_warm()  # warm both caches
    times: dict[str, list[float]] = {k: [] for k in peers}
    for _ in range(rounds):
        for name, fn in peers.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    cold.stop()
    warm.stop()
    return [(name, len(tiles) / statistics.median(ts)) for name, ts in times.items()]


def main() -> int:
    """Run the benchmark and write bench/results/tiles.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    lines = [
        "## Deep Zoom tiles for the slide viewer (bench_tiles.py)",
        "",
        f"{datetime.date.today().isoformat()}, {machine()} (shared; 1-minute load average "
        f"{os.getloadavg()[0]:.1f} at the start, LOAD_END at the end). Every full-resolution Deep "
        f"Zoom tile (254 px + 1 px overlap), one thread, medians of {args.rounds} interleaved "
        "rounds. Ratio = tiles/s over the plain `read_region` loop (goal: uncached ≥ 0.9, "
        "cached ≥ 10).",
        "",
        "| slide | tiles | peer | tiles/s | ratio to read_region loop | ratio to read_region + JPEG |",
        "|---|---|---|---|---|---|",
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
            base, base_jpeg = results[0][1], results[1][1]
            for name, rate in results:
                ratio, ratio_jpeg = rate / base, rate / base_jpeg
                cells = [f"{ratio:.2f}", f"{ratio_jpeg:.2f}"]
                if name.startswith("deephealth"):
                    cells = [f"**{c}**" for c in cells]
                lines.append(f"| {label} | {n} | {name} | {rate:.0f} | {cells[0]} | {cells[1]} |")
                print(
                    f"{label:35s} {name:52s} {rate:8.0f} tiles/s  {ratio:5.2f}x {ratio_jpeg:5.2f}x",
                    flush=True,
                )
    lines[2] = lines[2].replace("LOAD_END", f"{os.getloadavg()[0]:.1f}")
    out = Path(__file__).resolve().parent / "results" / "tiles.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
