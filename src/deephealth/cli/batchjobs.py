"""`deephealth preprocess`: dataset-scale preprocessing on local processes or a Dask cluster."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `preprocess` command."""
    p = subparsers.add_parser(
        "preprocess",
        help="apply ECVL operations to every image of a dataset, in parallel",
        description="Read every sample of a DeepHealth dataset, apply the operations (ECVL "
        "augmentation text, one per line, e.g. 'AugResizeDim dims=(224,224)'), write the "
        "results and a new dataset YAML under OUT. Runs on local processes, or on a Dask "
        "cluster with --scheduler. A rerun after a crash skips the finished batches.",
    )
    p.add_argument("dataset", help="DeepHealth dataset YAML")
    p.add_argument("--ops", required=True, help="ECVL augmentation text (use \\n between lines)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=int, default=2, help="local processes / Dask workers")
    p.add_argument(
        "--scheduler", default=None, help="Dask scheduler address, or 'local' for a LocalCluster"
    )
    p.add_argument("--batch-size", type=int, default=64, help="samples per task")
    p.add_argument("--ctype", default="none", help="read images as RGB, GRAY or none (as stored)")
    p.add_argument("--seed", type=int, default=0, help="seed of random operations")
    p.add_argument(
        "--baseline", help="output folder of a 1-worker run: report speedup and efficiency"
    )
    p.set_defaults(func=_preprocess)


def _preprocess(args: argparse.Namespace) -> int:
    from deephealth.ecvl.errors import EcvlError
    from deephealth.pipelines.batchjobs.preprocess import preprocess_dataset

    ops = args.ops.replace("\\n", "\n")
    try:
        yaml_path, stats = preprocess_dataset(
            args.dataset, ops, args.out, workers=args.workers, scheduler=args.scheduler,
            batch_size=args.batch_size, ctype=args.ctype, seed=args.seed, baseline=args.baseline,
        )  # fmt: skip
    except (OSError, ValueError, EcvlError) as err:
        print(f"deephealth preprocess: {err}", file=sys.stderr)
        return 2
    print(
        f"{stats.samples} images in {stats.seconds:.1f} s ({stats.samples_per_s:.1f} images/s, "
        f"{stats.skipped} batches already done) -> {yaml_path}"
    )
    return 0
