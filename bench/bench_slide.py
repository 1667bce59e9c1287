"""Benchmark: whole-slide tiling + reading and slide inference against their plain baselines.

1. Tiles/s of ``Tiler`` + ``iter_tile_pixels`` (deephealth.ecvl.pathology) with one and two
   reader threads against a plain openslide-python loop
   ``np.asarray(slide.read_region(...).convert("RGB"))`` over the same tiles (the tile list is
   made once, before timing; its cost, tissue detection included, is reported apart). Two
   slides: the real Aperio SVS CMU-1-Small-Region (JPEG tiles; small enough to sit in
   OpenSlide's tile cache) and a 3 x 3 mosaic of it written as a zlib pyramidal TIFF
   (6660 x 8901 px, larger than the cache, so tiles are decoded on every pass).
2. Slide inference throughput (``predict_slide``, two reader threads, onnxruntime on the
   machine's cores) against the model's own onnxruntime rate on ready-made batches of the same
   size, for two random-weight CNN patch classifiers (stride-2 3x3 convolutions, 224 px tiles):
   a small one, where reading dominates, and a large one, where the network does.

Peers run interleaved, round after round; medians are reported. Writes a markdown section to
``bench/results/slide.md``. A benchmark, not a test: ``python bench/bench_slide.py``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CMU = ROOT / ".data" / "cmu_small_region.svs"
MODELS = {
    "small CNN (16-32-64, 0.07 GFLOP/tile)": (16, 32, 64),
    "large CNN (64-128-256-512, 1.4 GFLOP/tile)": (64, 128, 256, 512),
}


def machine() -> str:
    """One line describing this machine."""
    return f"{platform.machine()}, {os.cpu_count()}-core CPU, Python {platform.python_version()}"


def make_mosaic(folder: Path) -> Path:
    """Write a 3 x 3 mosaic of the CMU slide as a zlib pyramidal TIFF; return its path."""
    from deephealth.ecvl.slide import OpenSlideImage, write_pyramidal_tiff

    with OpenSlideImage(CMU) as slide:
        tile = slide.read_level(0)
    mosaic = np.concatenate([np.concatenate([tile, tile[:, ::-1], tile], 1)] * 3, 0)
    path = folder / "cmu_mosaic.tif"
    write_pyramidal_tiff(path, mosaic, 0.499)
    return path


def cnn_classifier(path: Path, widths: tuple[int, ...], seed: int = 0) -> Path:
    """Write a random-weight CNN patch classifier (N, 3, H, W) -> (N, 2) as ONNX: one stride-2
    3x3 convolution + ReLU per entry of ``widths``, global average pooling, dense, softmax."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, inits, prev, cin = [], [], "x", 3
    for i, cout in enumerate(widths):
        w = (rng.normal(0, 1, (cout, cin, 3, 3)) / np.sqrt(cin * 9)).astype(np.float32)
        inits += [
            numpy_helper.from_array(w, f"w{i}"),
            numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}"),
        ]
        nodes += [
            helper.make_node(
                "Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], strides=[2, 2], pads=[1, 1, 1, 1]
            ),
            helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
        ]
        prev, cin = f"r{i}", cout
    inits += [
        numpy_helper.from_array((rng.normal(0, 0.1, (2, cin))).astype(np.float32), "wf"),
        numpy_helper.from_array(np.zeros(2, np.float32), "bf"),
    ]
    nodes += [
        helper.make_node("GlobalAveragePool", [prev], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "bench_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 2])],
        initializer=inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


def interleaved(peers: dict[str, Callable[[], int]], rounds: int) -> dict[str, float]:
    """Run every peer once per round, in turn; return the median items/s of each."""
    rates: dict[str, list[float]] = {k: [] for k in peers}
    for _ in range(rounds):
        for name, fn in peers.items():
            start = time.perf_counter()
            n = fn()
            rates[name].append(n / (time.perf_counter() - start))
    return {k: statistics.median(v) for k, v in rates.items()}


def bench_reading(path: Path, size: int, overlap: int, rounds: int) -> dict[str, float]:
    """Tiles/s: plain openslide loop, tiler + reader with 1 and 2 threads."""
    import openslide

    from deephealth.ecvl.pathology import Tiler, iter_tile_pixels
    from deephealth.ecvl.slide import OpenSlideImage

    slide = OpenSlideImage(path)
    plain_slide = openslide.OpenSlide(str(path))
    start = time.perf_counter()
    tiles = Tiler(size, mpp=0.499, overlap=overlap, min_tissue=0.25).tiles(slide)
    listing = time.perf_counter() - start
    coords = [(t.x, t.y, t.level, t.read_size) for t in tiles]

    def plain() -> int:
        for x, y, level, s in coords:
            np.asarray(plain_slide.read_region((x, y), level, (s, s)).convert("RGB"))
        return len(coords)

    def ours(workers: int) -> Callable[[], int]:
        def run() -> int:
            n = 0
            for _ in iter_tile_pixels(slide, tiles, workers=workers):
                n += 1
            return n

        return run

    plain()  # warm the file cache
    rates = interleaved({"plain": plain, "1 worker": ours(1), "2 workers": ours(2)}, rounds)
    slide.Close()
    plain_slide.close()
    return {**rates, "tiles": float(len(tiles)), "listing_s": listing}


def bench_inference(path: Path, model_path: Path, rounds: int, batch: int = 32) -> dict[str, float]:
    """Tiles/s of predict_slide against the model alone on ready batches."""
    from deephealth.ecvl.pathology import Tiler
    from deephealth.ecvl.slide import OpenSlideImage
    from deephealth.pipelines.pathology import PatchModel, predict_slide

    model = PatchModel(model_path)
    slide = OpenSlideImage(path)
    tiler = Tiler(224, mpp=0.499, min_tissue=0.25)
    n_tiles = len(tiler.tiles(slide))
    x = model.prepare(
        np.random.default_rng(0).integers(0, 255, (batch, 224, 224, 3), dtype=np.uint8)
    )
    n_batches = -(-n_tiles // batch)

    def model_only() -> int:
        for _ in range(n_batches):
            model.raw(x)
        return n_batches * batch

    def slide_run() -> int:
        return len(predict_slide(slide, model, tiler, batch_size=batch, workers=2).tiles)

    rates = interleaved({"model alone": model_only, "predict_slide": slide_run}, rounds)
    slide.Close()
    return {**rates, "tiles": float(n_tiles)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "slide.md")
    parser.add_argument(
        "--wait-load",
        type=float,
        default=0.0,
        help="on a shared machine, first wait (up to 20 min) until the 1-minute load average is below this",
    )
    args = parser.parse_args()
    deadline = time.monotonic() + 1200
    while args.wait_load and os.getloadavg()[0] >= args.wait_load and time.monotonic() < deadline:
        time.sleep(10)
    if not CMU.is_file():
        raise SystemExit(f"{CMU} missing: run `make data`")
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mosaic = make_mosaic(folder)
        reading = {
            "CMU-1-Small-Region SVS (JPEG, cached), overlap 128": bench_reading(
                CMU, 256, 128, args.rounds
            ),
            "3x3 mosaic pyramid TIFF (zlib, decoded)": bench_reading(mosaic, 256, 0, args.rounds),
        }
        inference = {
            name: bench_inference(
                mosaic, cnn_classifier(folder / f"cnn{k}.onnx", widths), max(3, args.rounds // 2)
            )
            for k, (name, widths) in enumerate(MODELS.items())
        }
    lines = [
        "## Whole-slide tiling, reading and inference (`bench/bench_slide.py`)",
        "",
        f"{datetime.date.today().isoformat()}, {machine()} (shared; 1-minute load average "
        f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end); medians of "
        f"{args.rounds} interleaved rounds. Tiles of 256 px at 0.499 µm/px with at least 25 % tissue; the tile list is made "
        "before timing (its cost, with tissue detection, in the last column).",
        "",
        "| slide | tiles | plain openslide tiles/s | 1 worker tiles/s | ratio | 2 workers tiles/s | ratio | listing s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in reading.items():
        lines.append(
            f"| {name} | {int(r['tiles'])} | {r['plain']:.0f} | {r['1 worker']:.0f} | "
            f"{r['1 worker'] / r['plain']:.2f}x | {r['2 workers']:.0f} | {r['2 workers'] / r['plain']:.2f}x "
            f"| {r['listing_s']:.2f} |"
        )
    lines += [
        "",
        "Goal: ≥ 0.95x with one worker, ≥ 1.8x with two.",
        "",
        "Slide inference on the mosaic, 224 px tiles, batch 32: `predict_slide` (2 reader threads, "
        "onnxruntime default threads) against the same model alone on ready-made batches. "
        "Both share the machine's cores with the tile readers, so the ratio is bounded by the "
        "reading cost: low for a tiny model, rising as the network's share of the work grows.",
        "",
        "| model | tiles | model alone tiles/s | predict_slide tiles/s | ratio |",
        "|---|---|---|---|---|",
    ]
    for name, r in inference.items():
        lines.append(
            f"| {name} | {int(r['tiles'])} | {r['model alone']:.0f} | {r['predict_slide']:.0f} "
            f"| {r['predict_slide'] / r['model alone']:.2f}x |"
        )
    lines.append("")
    text = "\n".join(lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
