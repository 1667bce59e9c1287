"""`deephealth train/evaluate/predict` for the `report_generation` task (its own streaming
pipeline, as `signal_classification`): a config with `task: report_generation` trains; a run
folder with `serving/` (or a packed `report_generator.onnx`) evaluates and predicts reports."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BAD_INPUT, FAILED = 2, 1  # as deephealth.cli.pipelines


def _fail(cmd: str, err: BaseException) -> int:
    from deephealth.ecvl.dataset.errors import DatasetError
    from deephealth.pipelines.data import DataError
    from deephealth.serving.session import ServingError

    bad = (DataError, DatasetError, ServingError, FileNotFoundError, ValueError)
    print(f"deephealth {cmd}: {err}", file=sys.stderr)
    return BAD_INPUT if isinstance(err, bad) else FAILED


def is_report_model(path: Path) -> bool:
    """A run folder of the task, a served folder, or a packed `report_generator.onnx`."""
    path = Path(path)
    return (
        (path / "serving" / "report_generator.onnx").is_file()
        or (path / "report_generator.onnx").is_file()
        or path.name == "report_generator.onnx"
    )


def train_command(args: argparse.Namespace) -> int:
    """Train, score the test split, export; print the metrics."""
    from deephealth.pipelines.tasks.report_generation import ReportGenerationTask

    run_dir = args.run_dir or Path("runs") / Path(args.config).stem
    try:
        scores = ReportGenerationTask.from_config(args.config).run(run_dir)
    except Exception as err:
        return _fail("train", err)
    _print(scores, run_dir)
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    """Score a run's served model (onnxruntime) on its test split."""
    from deephealth.pipelines.tasks.report_generation import evaluate

    if args.split != "test":
        print("deephealth evaluate: report_generation evaluates the test split", file=sys.stderr)
        return BAD_INPUT
    try:
        scores = evaluate(args.run, args.dataset)
    except Exception as err:
        return _fail("evaluate", err)
    _print(scores, args.run)
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """Reports for image files: one line per image, and `reports.json` in the output folder."""
    from deephealth.pipelines.tasks.report_generation import predict_images

    try:
        records = predict_images(args.model, args.inputs)
    except Exception as err:
        return _fail("predict", err)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reports.json").write_text(json.dumps(records, indent=1))
    for r in records:
        print(f"{r['input']}\t{r['report']}")
    return 0


def _print(scores: dict, where: str | Path) -> None:
    micro = scores["findings"]["micro"]
    print(f"run: {where}")
    for key in ("bleu1", "bleu4", "rouge_l", "cider"):
        print(f"{key}: {scores[key]:.4f}")
    print(f"findings_f1: {micro['f1']:.4f} (precision {micro['precision']:.4f}, "
          f"recall {micro['recall']:.4f})")  # fmt: skip
