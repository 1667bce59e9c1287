"""`deephealth train | evaluate | predict | export | report | demo`: the use-case pipelines.

Thin wrappers over `deephealth.pipelines.run` and `.demo`: parse, call, print. Long work shows
a progress bar per epoch (fed by the run's structured events). Exit codes: 0 done, 1 the job
failed, 2 bad input (config, dataset, missing file).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

BAD_INPUT = 2
FAILED = 1


def _bad_input_errors() -> tuple[type[BaseException], ...]:
    from deephealth.pipelines.config import ConfigError
    from deephealth.pipelines.data import DataError
    from deephealth.pipelines.demo import DemoDataError
    from deephealth.pipelines.predict_io import PredictError

    return (ConfigError, DataError, PredictError, DemoDataError, FileNotFoundError)


def _fail(cmd: str, err: BaseException) -> int:
    code = BAD_INPUT if isinstance(err, _bad_input_errors()) else FAILED
    print(f"deephealth {cmd}: {err}", file=sys.stderr)
    return code


class ProgressPrinter:
    """Turns run events into a tqdm bar per epoch and one line per epoch."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        from tqdm.auto import tqdm

        kind = event["type"]
        if kind == "batch":
            if self.bar is None:
                self.bar = tqdm(
                    total=event.get("num_batches"), desc=f"epoch {event['epoch']}", unit="batch",
                    leave=False, file=sys.stderr,
                )  # fmt: skip
            self.bar.n = event["batch"]
            self.bar.set_postfix(loss=f"{event['loss']:.4f}", refresh=True)
        elif kind == "epoch":
            self._close()
            val = ", ".join(
                f"{k} {v:.4f}" for k, v in event["val_metrics"].items() if v is not None
            )
            best = "  *best*" if event.get("best") else ""
            print(f"epoch {event['epoch']}/{event['epochs']}: loss {event['loss']:.4f}; "
                  f"validation {val}{best}", file=sys.stderr)  # fmt: skip
        elif kind == "status":
            self._close()
            print(f"[{event['time']:.1f}s] {event['status']}", file=sys.stderr)
        elif kind == "export":
            ok = "passed" if event["check"]["passed"] else "FAILED"
            print(f"[{event['time']:.1f}s] exported {event['onnx']} (onnxruntime check {ok})",
                  file=sys.stderr)  # fmt: skip

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _print_result(result: dict[str, Any]) -> None:
    kpis = result.get("kpis", {})
    print(f"status: {result['status']}")
    for key in ("onnx", "report_html", "report_json"):
        print(f"{key}: {result.get(key)}")
    for key, value in kpis.items():
        if value is not None:
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")


# --------------------------------------------------------------------------------------- commands
def _train(args: argparse.Namespace) -> int:
    from deephealth.pipelines.run import train
    from deephealth.pipelines.signals.config import is_signal_config

    if is_signal_config(args.config):  # signal_classification runs its own streaming pipeline
        from deephealth.cli.signal import train_command

        return train_command(args)
    from deephealth.pipelines.tasks.report_generation import is_report_config

    if is_report_config(args.config):  # so does report_generation
        from deephealth.cli import reports

        return reports.train_command(args)

    run_dir = args.run_dir or Path("runs") / Path(args.config).stem
    # `deephealth launch` restarts a failed distributed run with DEEPHEALTH_RESUME=1
    resume = args.resume or os.environ.get("DEEPHEALTH_RESUME") == "1"
    try:
        if args.nproc > 1:
            from deephealth.pipelines.parallel import launch_training

            result = launch_training(
                args.config, run_dir, ProgressPrinter(args.quiet), resume=resume,
                nproc=args.nproc, max_restarts=args.max_restarts,
            )  # fmt: skip
        else:
            result = train(args.config, run_dir, ProgressPrinter(args.quiet), resume=resume)
    except Exception as err:  # every failure becomes a message and an exit code
        return _fail("train", err)
    if "rank" in result:  # a rank > 0 of a distributed run: rank 0 reports
        return 0
    _print_result(result)
    return 0 if result["onnx_check_passed"] else FAILED


def _predict_dataset(args: argparse.Namespace) -> int:
    """A dataset YAML: batch inference on worker processes or Dask, written per batch."""
    from deephealth.pipelines.batchjobs.predict import predict_dataset

    model = args.model / "model.onnx" if args.model.is_dir() else args.model
    try:
        folder, stats = predict_dataset(
            model, args.inputs[0], args.out, workers=args.workers, scheduler=args.scheduler,
            batch_size=args.batch_size, split=args.split, progress=not args.quiet,
        )  # fmt: skip
    except Exception as err:
        return _fail("predict", err)
    print(f"{stats.samples} samples in {stats.seconds:.1f} s ({stats.samples_per_s:.1f}/s, "
          f"{stats.skipped} batches already done) -> {folder}")  # fmt: skip
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from deephealth.cli.signal import evaluate_command, is_signal_model
    from deephealth.pipelines.run import evaluate

    if is_signal_model(args.run):
        return evaluate_command(args)
    from deephealth.cli import reports

    if reports.is_report_model(args.run):
        return reports.evaluate_command(args)

    try:
        scores = evaluate(args.run, args.dataset, args.split)
    except Exception as err:
        return _fail("evaluate", err)
    shown = {k: v for k, v in scores.items() if not isinstance(v, list) and "_curve" not in k}
    print(json.dumps(shown, indent=2))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from deephealth.cli.signal import is_signal_model, predict_command
    from deephealth.pipelines.run import predict

    if is_signal_model(args.model):  # a recording in, events out (CSV)
        return predict_command(args)
    from deephealth.cli import reports

    if reports.is_report_model(args.model):  # images in, report texts out
        return reports.predict_command(args)
    if len(args.inputs) == 1 and args.inputs[0].suffix in (".yml", ".yaml"):
        return _predict_dataset(args)
    try:
        features = None
        if args.features:
            import json

            text = args.features
            features = json.loads(Path(text).read_text() if Path(text).is_file() else text)
        records = predict(args.model, args.inputs, args.out, features)
    except Exception as err:
        return _fail("predict", err)
    for r in tqdm(records, desc="written", unit="file", file=sys.stderr, disable=args.quiet):
        if "boxes" in r:
            shown = f"{len(r['boxes'])} boxes"
        else:
            shown = r["output"] or r["class"]
            shown = r.get("risk", r.get("values")) if shown is None else shown
        print(f"{r['input']}\t{shown}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from deephealth.serving import InferenceSession
    from deephealth.serving.preprocessing import sidecar_path

    out = Path(args.out)
    try:
        if args.zoo:
            import deephealth.eddl as eddl
            from deephealth.eddl import zoo

            shape = [int(v) for v in args.input_shape.split(",")]
            net = zoo.build_model(args.zoo, shape, args.classes)
            eddl.save_net_to_onnx_file(net, str(out))
        else:
            src = Path(args.run) / "model.onnx"
            if not src.is_file():
                raise FileNotFoundError(f"{args.run} has no exported model (model.onnx)")
            shutil.copyfile(src, out)
            if sidecar_path(src).is_file():
                shutil.copyfile(sidecar_path(src), sidecar_path(out))
        session = InferenceSession(out)
    except Exception as err:
        return _fail("export", err)
    print(f"{out} (inputs {session.input_shapes}, loads in onnxruntime)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from deephealth.pipelines.report import load_report, write_html
    from deephealth.pipelines.report.html import KPI_LABELS

    try:
        report = load_report(args.run)
    except (FileNotFoundError, ValueError) as err:
        print(f"deephealth report: {err}", file=sys.stderr)
        return BAD_INPUT
    if args.json:
        print(json.dumps(report["kpis"], indent=2))
    else:
        run = report["run"]
        print(f"{run['name']} ({run['task']}, {run['model']}): {run['status']}, "
              f"{run['epochs_done']} epoch(s)")  # fmt: skip
        for key, value in report["kpis"].items():
            shown = "n/a" if value is None else f"{value:.4f}"
            print(f"  {KPI_LABELS.get(key, key):36s} {shown}")
    if args.html:
        print(write_html(args.html, report))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from deephealth.pipelines import demo

    try:
        if args.name == "fashion-mnist":
            return demo.run_fashion_mnist_demo()
        result = demo.run_demo(args.name, args.out, args.epochs, on_event=ProgressPrinter())
    except Exception as err:
        return _fail("demo", err)
    print("\n".join(demo.summary_lines(result)))
    return 0 if result["onnx_check_passed"] else FAILED


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add train, evaluate, predict, export, report and demo."""
    p = subparsers.add_parser(
        "train", help="train a pipeline from a YAML config (dataset -> ONNX model + KPI report)",
        description="Train the model a pipeline config describes, keep the best epoch, export it "
        "to ONNX, check it in onnxruntime, evaluate it on the test split and write the KPI "
        "report. Only 'task' and 'dataset' are required in the config; see docs/pipelines.md.",
    )  # fmt: skip
    p.add_argument("config", help="pipeline config (YAML)")
    p.add_argument("--run-dir", type=Path, help="output folder (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    p.add_argument(
        "--nproc", type=int, default=1, help="train data-parallel on N local processes (torchrun)"
    )
    p.add_argument(
        "--max-restarts", type=int, default=2, help="with --nproc: restarts after a failed rank"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=_train)

    p = subparsers.add_parser(
        "evaluate", help="evaluate a run's ONNX model on a dataset split",
        description="Score the exported model of a run folder with the task's metrics.",
    )  # fmt: skip
    p.add_argument("run", type=Path, help="run folder written by 'deephealth train'")
    p.add_argument("--dataset", help="another dataset YAML (default: the run's)")
    p.add_argument("--split", default="test", help="split name (default: test)")
    p.set_defaults(func=_evaluate)

    p = subparsers.add_parser(
        "predict", help="predict image/volume files or folders with a trained model",
        description="Write one mask (PNG / NIfTI) per input for segmentation, one image for "
        "regression, predictions.csv for classification and the clinical tasks (with --features), "
        "or predictions.json and predictions_coco.json (boxes) for detection.",
    )  # fmt: skip
    p.add_argument("model", type=Path, help="run folder or .onnx file")
    p.add_argument(
        "inputs", nargs="+", type=Path,
        help="image/volume files or folders, or one DeepHealth dataset YAML (dataset-scale run)",
    )  # fmt: skip
    p.add_argument("-o", "--out", type=Path, default=Path("predictions"), help="output folder")
    p.add_argument("--features", help="clinical models: a JSON file or text of the clinical "
                   "values (one object, or objects keyed by input file name)")  # fmt: skip
    p.add_argument("--format", choices=("csv", "edf"), default="csv",
                   help="signal models: events as CSV or as EDF+ annotations")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("dataset YAML input (resumable, per-batch outputs)")
    g.add_argument("--workers", type=int, default=2, help="worker processes / Dask workers")
    g.add_argument("--scheduler", help="Dask scheduler address, or 'local' for a LocalCluster")
    g.add_argument("--batch-size", type=int, default=64, help="samples per task")
    g.add_argument("--split", help="only this split")
    p.set_defaults(func=_predict)

    p = subparsers.add_parser(
        "export", help="export a run's model (or an untrained zoo model) to an ONNX file",
        description="Copy a run's checked ONNX model with its preprocessing, or write a zoo "
        "architecture (--zoo NAME --input-shape C,H,W --classes K) as ONNX.",
    )  # fmt: skip
    p.add_argument("run", nargs="?", help="run folder")
    p.add_argument("-o", "--out", required=True, help="destination .onnx file")
    p.add_argument("--zoo", help="zoo model name instead of a run")
    p.add_argument("--input-shape", default="3,224,224", help="zoo model input shape C,H,W[,D]")
    p.add_argument("--classes", type=int, default=2, help="zoo model classes / output channels")
    p.set_defaults(func=_export)

    p = subparsers.add_parser(
        "report", help="show a run's KPIs (optionally re-render the HTML page)",
        description="Print the KPI table of a run folder's report.json.",
    )  # fmt: skip
    p.add_argument("run", type=Path, help="run folder or report.json")
    p.add_argument("--json", action="store_true", help="print the KPIs as JSON")
    p.add_argument("--html", type=Path, help="also write the HTML page here")
    p.set_defaults(func=_report)

    p = subparsers.add_parser(
        "demo", help="run a real medical demo end to end (default: DSB2018 nuclei U-Net)",
        description="nuclei: build a DeepHealth dataset from the real DSB2018 nuclei image (make "
        "data), train a U-Net on the CPU, export and check the ONNX model, write the KPI report. "
        "brain: the same in 3D on the real Colin27 T1 and brain mask (mricron-data). "
        "fashion-mnist: the non-medical EDDL example.",
    )  # fmt: skip
    p.add_argument(
        "name", nargs="?", default="nuclei", choices=["nuclei", "brain", "fashion-mnist"]
    )
    p.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder")
    p.add_argument("--epochs", type=int, default=10, help="training epochs")
    p.set_defaults(func=_demo)
