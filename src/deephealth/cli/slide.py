"""`deephealth slide`: inspect whole-slide images, list tiles, run a patch model over a slide,
and train a slide pipeline from its config (exit codes: 0 done, 1 failed, 2 bad input)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path


def _tiler_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=256, help="tile side in output pixels")
    res = p.add_mutually_exclusive_group()
    res.add_argument("--mpp", type=float, help="microns per pixel of the tiles")
    res.add_argument("--magnification", type=float, help="objective magnification, e.g. 10")
    res.add_argument("--level", type=int, help="pyramid level to read as is")
    p.add_argument("--overlap", type=int, default=0, help="overlap between tiles (pixels)")
    p.add_argument("--min-tissue", type=float, default=0.5, help="minimum tissue fraction")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `slide info|thumbnail|tiles|predict|train`."""
    p = subparsers.add_parser(
        "slide",
        help="whole-slide images: info, thumbnail, tiles, predict, train",
        description="Work with whole-slide images (every format OpenSlide reads).",
    )
    sub = p.add_subparsers(title="slide commands", metavar="COMMAND")
    s = sub.add_parser("info", help="levels, sizes, microns per pixel and vendor properties")
    s.add_argument("slide")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=_info)
    s = sub.add_parser("thumbnail", help="write a thumbnail (PNG/JPEG) with the tissue outlined")
    s.add_argument("slide")
    s.add_argument("out", help="output image")
    s.add_argument("--max-size", type=int, default=1024, help="longer side in pixels")
    s.add_argument("--no-tissue", action="store_true", help="do not outline detected tissue")
    s.set_defaults(func=_thumbnail)
    s = sub.add_parser("tiles", help="list the tiles a tiler takes (CSV)")
    s.add_argument("slide")
    _tiler_options(s)
    s.add_argument("--out", help="CSV file (default: print a summary only)")
    s.set_defaults(func=_tiles)
    s = sub.add_parser(
        "predict",
        help="run an ONNX patch model over a slide: heat/label maps, GeoJSON, slide label",
        description="Predict every tissue tile with an ONNX classifier or segmenter; write a "
        "slide-aligned label map and one heat map per class (pyramidal TIFFs), the predicted "
        "regions as GeoJSON for QuPath, and the aggregated slide label. An interrupted run "
        "resumes without redoing finished tiles.",
    )
    s.add_argument("slide")
    s.add_argument("model", help="ONNX patch model")
    _tiler_options(s)
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--workers", type=int, default=2, help="tile-reader threads")
    s.add_argument("--exclude", nargs="*", default=[], help="classes left out of the GeoJSON")
    s.add_argument("--aggregate", default="mean", help="slide label: mean, vote, topk or max")
    s.set_defaults(func=_predict)
    s = sub.add_parser(
        "train",
        help="train a slide-classification or patch-segmentation pipeline from its config",
        description="Train a patch model on tiles streamed from the training slides (keeping "
        "the weights of the epoch with the lowest loss on the validation slides, if any), export "
        "it to ONNX (checked in onnxruntime), predict the test slides (maps, GeoJSON, slide "
        "labels) and write the KPI report (report.json, report.html).",
    )
    s.add_argument("config", help="slide pipeline YAML")
    s.add_argument("--run-dir", help="run folder (default: runs/<config name>)")
    s.add_argument(
        "--resume", action="store_true",
        help="continue an interrupted run from the checkpoint in its run folder",
    )  # fmt: skip
    s.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    s.set_defaults(func=_train)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _tiler(args: argparse.Namespace):
    from deephealth.ecvl.pathology import Tiler

    return Tiler(
        size=args.size, mpp=args.mpp, magnification=args.magnification, level=args.level,
        overlap=args.overlap, min_tissue=args.min_tissue,
    )  # fmt: skip


def _run(name: str, fn) -> int:
    from deephealth.ecvl.errors import EcvlError

    try:
        return fn()
    except (EcvlError, OSError, ValueError) as err:
        print(f"deephealth slide {name}: {err}", file=sys.stderr)
        return 2


def _info(args: argparse.Namespace) -> int:
    from deephealth.ecvl.slide import OpenSlideImage

    def run() -> int:
        with OpenSlideImage(args.slide) as s:
            info = {
                "slide": args.slide, "vendor": s.vendor, "mpp": s.mpp,
                "objective_power": s.objective_power, "levels": s.GetLevelCount(),
                "dimensions": [list(d) for d in s.GetLevelsDimensions()],
                "downsamples": list(s.GetLevelDownsamples()),
            }  # fmt: skip
            props = s.GetProperties()
        if args.json:
            print(json.dumps({**info, "properties": props}, indent=2, default=str))
            return 0
        for key, value in info.items():
            print(f"{key}: {value}")
        return 0

    return _run("info", run)


def _thumbnail(args: argparse.Namespace) -> int:
    import cv2

    from deephealth.ecvl.pathology import tissue_mask_from_rgb
    from deephealth.ecvl.slide import OpenSlideImage

    def run() -> int:
        with OpenSlideImage(args.slide) as s:
            rgb, downsample = s.thumbnail(args.max_size)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if not args.no_tissue:
            mask = tissue_mask_from_rgb(rgb).astype("uint8")
            contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(bgr, contours, -1, (0, 160, 0), 2)
        if not cv2.imwrite(args.out, bgr):
            raise OSError(f"cannot write {args.out} (unknown image extension?)")
        print(f"{args.out}: {rgb.shape[1]}x{rgb.shape[0]} (downsample {downsample:.2f})")
        return 0

    return _run("thumbnail", run)


def _tiles(args: argparse.Namespace) -> int:
    from deephealth.ecvl.slide import OpenSlideImage

    def run() -> int:
        tiler = _tiler(args)
        with OpenSlideImage(args.slide) as s:
            tiles = tiler.tiles(s)
        if args.out:
            with open(args.out, "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["index", "x", "y", "level", "read_size", "size", "tissue"])
                for t in tiles:
                    writer.writerow(
                        [t.index, t.x, t.y, t.level, t.read_size, t.size, f"{t.tissue:.3f}"]
                    )
        print(f"{len(tiles)} tiles ({tiler!r})" + (f" -> {args.out}" if args.out else ""))
        return 0

    return _run("tiles", run)


def _predict(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from deephealth.pipelines.pathology import predict_slide

    def run() -> int:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        bar = tqdm(desc="tiles", unit="tile", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        pred = predict_slide(
            args.slide, args.model, _tiler(args), batch_size=args.batch_size,
            workers=args.workers, run_dir=out / "run", on_batch=progress,
        )  # fmt: skip
        bar.close()
        pred.write_label_map(out / "labels.tif")
        for name in pred.classes:
            pred.write_heatmap(out / f"heatmap_{name}.tif", name)
        pred.export_geojson(out / "regions.geojson", exclude=args.exclude)
        label = pred.aggregate(args.aggregate)
        summary = {"slide": args.slide, "label": label.label, "scores": label.scores,
                   "tiles": len(pred.tiles), "computed": pred.computed}  # fmt: skip
        (out / "slide_label.json").write_text(json.dumps(summary, indent=2))
        print(f"slide label: {label.label}  ({len(pred.tiles)} tiles) -> {out}")
        return 0

    return _run("predict", run)


def _train(args: argparse.Namespace) -> int:
    from deephealth.cli.pipelines import BAD_INPUT, ProgressPrinter, _fail, _print_result
    from deephealth.ecvl.slide import SlideOpenError
    from deephealth.pipelines.pathology.pipeline import train_slides

    run_dir = args.run_dir or Path("runs") / Path(args.config).stem
    try:
        result = train_slides(
            Path(args.config), run_dir, ProgressPrinter(args.quiet), resume=args.resume
        )
    except SlideOpenError as err:  # a missing or unreadable slide is bad input
        print(f"deephealth slide train: {err}", file=sys.stderr)
        return BAD_INPUT
    except Exception as err:  # every failure becomes a message and an exit code
        return _fail("slide train", err)
    _print_result(result)
    for slide in result["slides"]:
        print(f"{slide['slide']}: {slide['label']} -> {slide['outputs']}")
    return 0 if result["onnx_check_passed"] else 1
