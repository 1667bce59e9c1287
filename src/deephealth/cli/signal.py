"""`deephealth signal info|plot|windows|train|evaluate|predict`: biosignal recordings.

``info`` prints a recording's header (channels, rates, duration, annotations); ``plot`` draws a
time range with its annotations (PNG); ``windows`` lists the labelled windows a window spec cuts
(CSV); ``train``/``evaluate``/``predict`` run the ``signal_classification`` pipeline (``deephealth
train/evaluate/predict`` hand signal configs and models here too). Exit codes: 0 done, 1 failed,
2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

BAD_INPUT, FAILED = 2, 1


def _bad(err: BaseException) -> int:
    from deephealth.ecvl.errors import EcvlError
    from deephealth.pipelines.config import ConfigError
    from deephealth.pipelines.data import DataError

    return (
        BAD_INPUT
        if isinstance(err, (EcvlError, ConfigError, DataError, FileNotFoundError, ValueError))
        else FAILED
    )


def _fail(cmd: str, err: BaseException) -> int:
    print(f"deephealth signal {cmd}: {err}", file=sys.stderr)
    return _bad(err)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `signal info|plot|windows|train|evaluate|predict`."""
    p = subparsers.add_parser("signal", help="biosignals (EEG/ECG): info, plot, windows, train, evaluate, predict",
                              description="Work with EDF/BDF, WFDB, DICOM waveform, CSV and NumPy recordings.")  # fmt: skip
    sub = p.add_subparsers(title="signal commands", metavar="COMMAND")
    s = sub.add_parser("info", help="channels, rates, duration, start time and annotations")
    s.add_argument("recording")
    s.add_argument("--fs", type=float, help="sampling rate of CSV/NumPy files without one")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=_info)
    s = sub.add_parser("plot", help="plot a time range with its annotations (PNG)")
    s.add_argument("recording")
    s.add_argument("out", help="output PNG")
    s.add_argument("--start", type=float, default=0.0, help="seconds")
    s.add_argument("--duration", type=float, default=10.0, help="seconds")
    s.add_argument("--channels", nargs="*", help="channel names (default: all)")
    s.add_argument("--bandpass", nargs=2, type=float, metavar=("LOW", "HIGH"), help="Hz")
    s.add_argument("--fs", type=float, help="sampling rate of CSV/NumPy files without one")
    s.set_defaults(func=_plot)
    s = sub.add_parser(
        "windows", help="list the labelled windows of recordings or a recordings dataset (CSV)"
    )
    s.add_argument("input", help="recording or recordings dataset YAML")
    s.add_argument("--length", type=float, default=2.0, help="window seconds")
    s.add_argument("--step", type=float, help="seconds between windows (default: length)")
    s.add_argument("--rule", default="any", choices=("any", "majority", "onset"))
    s.add_argument(
        "--classes", nargs="+", default=["background", "seizure"], help="background first"
    )
    s.add_argument("--annotations", help="annotations CSV for a single recording")
    s.add_argument("--out", help="CSV file (default: summary only)")
    s.set_defaults(func=_windows)
    s = sub.add_parser("train", help="train a signal_classification pipeline from its config")
    s.add_argument("config")
    s.add_argument("--run-dir", type=Path)
    s.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=train_command)
    s = sub.add_parser("evaluate", help="score a trained signal model on a split")
    s.add_argument("run", type=Path, help="run folder")
    s.add_argument("--dataset", help="another recordings dataset")
    s.add_argument("--split", default="test")
    s.set_defaults(func=evaluate_command)
    s = sub.add_parser("predict", help="detect events in recordings: CSV or EDF+ with annotations")
    s.add_argument("model", type=Path, help="run folder or .onnx file (with its .signal.json)")
    s.add_argument("inputs", nargs="+", type=Path, help="recordings")
    s.add_argument("-o", "--out", type=Path, default=Path("predictions"), help="output folder")
    s.add_argument(
        "--format", choices=("csv", "edf"), default="csv", help="events as CSV or EDF+ annotations"
    )
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=predict_command)


def _info(args: argparse.Namespace) -> int:
    from deephealth.ecvl.signal import SignalOpen

    try:
        kw = {"fs": args.fs} if args.fs else {}
        with SignalOpen(args.recording, **kw) as f:
            h = f.header
    except Exception as err:
        return _fail("info", err)
    info: dict[str, Any] = {
        "file": args.recording, "duration_s": h.duration,
        "start_time": h.start_time.isoformat() if h.start_time else None,
        "channels": [{"name": c, "type": t, "unit": u, "fs": float(r), "samples": int(n)}
                     for c, t, u, r, n in zip(h.channels, h.types, h.units, h.fs, h.samples)],
        "annotations": [{"onset": a.onset, "duration": a.duration, "label": a.label} for a in h.annotations],
    }  # fmt: skip
    for k in ("interpretation", "measurements"):
        if h.meta.get(k):
            info[k] = h.meta[k]
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(
        f"{args.recording}: {len(h.channels)} channels, {h.duration:.3f} s, start {info['start_time']}"
    )
    for c in info["channels"]:
        print(f"  {c['name']:<16} {c['type']:<5} {c['fs']:g} Hz  {c['unit']}")
    print(f"{len(h.annotations)} annotations" + (":" if h.annotations else ""))
    for a in h.annotations[:20]:
        print(f"  {a.onset:10.3f} s  {a.duration:8.3f} s  {a.label}")
    if len(h.annotations) > 20:
        print(f"  ... {len(h.annotations) - 20} more")
    return 0


def _plot(args: argparse.Namespace) -> int:
    import numpy as np

    from deephealth.ecvl.signal import SignalRead
    from deephealth.ecvl.signal import processing as P
    from deephealth.pipelines.report.html import _plt

    try:
        kw = {"fs": args.fs} if args.fs else {}
        sig = SignalRead(
            args.recording, args.start, args.start + args.duration, args.channels, **kw
        )
        if not sig.uniform:
            sig = sig.resample(float(max(sig.fs_)))
        if args.bandpass:
            sig = P.bandpass(sig, *args.bandpass)
    except Exception as err:
        return _fail("plot", err)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(12, 1 + 0.5 * sig.num_channels))
    t = sig.times()
    x = sig.data
    scale = 3 * (np.median(x.std(axis=1)) + 1e-9) if sig.num_channels else 1.0
    for c in range(sig.num_channels):
        ax.plot(t, x[c] / (2 * scale) - c, lw=0.5, color="k")
    for a in sig.annotations:
        if a.duration > 0:
            ax.axvspan(max(a.onset, t[0]), min(a.end, t[-1]), color="tab:red", alpha=0.2)
        else:
            ax.axvline(a.onset, color="tab:blue", lw=0.8)
        ax.text(max(a.onset, t[0]), 0.8, a.label, fontsize=7, color="tab:red")
    ax.set_yticks(-np.arange(sig.num_channels), sig.channels)
    ax.set_xlabel("s")
    fig.savefig(args.out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(args.out)
    return 0


def _windows(args: argparse.Namespace) -> int:
    from deephealth.ecvl.dataset.recordings import (
        decode_recordings,
        is_recordings_dataset,
        read_annotations_file,
    )
    from deephealth.ecvl.signal.windows_dataset import Source, WindowsDataset, WindowSpec

    try:
        if is_recordings_dataset(args.input):
            d = decode_recordings(args.input)
            errors = [str(i) for i in d.issues if i.severity == "error"]
            if errors:
                raise ValueError("\n".join(errors))
            sources, classes = d.recordings, d.classes
        else:
            evs = read_annotations_file(args.annotations) if args.annotations else []
            sources, classes = [Source(args.input, evs)], args.classes
        ds = WindowsDataset(sources, WindowSpec(args.length, args.step, tuple(classes), args.rule))
    except Exception as err:
        return _fail("windows", err)
    counts = ds.class_counts()
    print(f"{len(ds)} windows of {args.length:g} s from {len(ds.sources)} recordings: "
          + ", ".join(f"{c} {n}" for c, n in zip(classes, counts)))  # fmt: skip
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("recording,start,end,label\n")
            for k, s, y in zip(ds.rec, ds.start, ds.labels):
                f.write(f"{ds.sources[k].path},{s:.3f},{s + args.length:.3f},{classes[y]}\n")
        print(args.out)
    ds.close()
    return 0


def train_command(args: argparse.Namespace) -> int:
    """`deephealth train` / `deephealth signal train` on a signal_classification config
    (`--resume`: continue from the run folder's checkpoint)."""
    from deephealth.pipelines.signals.run import train_signal_run

    run_dir = getattr(args, "run_dir", None) or Path("runs") / Path(args.config).stem

    def show(ev: dict[str, Any]) -> None:
        if getattr(args, "quiet", False) or ev["type"] == "batch":
            return
        if ev["type"] == "epoch":
            msg = f"epoch {ev['epoch']}/{ev['epochs']} loss {ev['loss']:.4f}"
        elif ev["type"] == "export":
            passed = "passed" if ev["check"]["passed"] else "FAILED"
            msg = f"exported {ev['onnx']} (onnxruntime check {passed})"
        else:
            msg = str(ev.get("status", ""))
        print(f"[{ev['type']}] {msg}", file=sys.stderr)

    try:
        r = train_signal_run(
            args.config, run_dir, show,
            resume=bool(getattr(args, "resume", False)),
        )  # fmt: skip
    except Exception as err:
        return _fail("train", err)
    print(f"status: {r['status']}")
    for key in ("onnx", "report_html", "report_json"):
        print(f"{key}: {r[key]}")
    for key, value in r["kpis"].items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0 if r["onnx_check_passed"] else FAILED


def evaluate_command(args: argparse.Namespace) -> int:
    """`deephealth evaluate RUN` for a signal run."""
    from deephealth.pipelines.signals.run import evaluate_signal

    try:
        cfg = json.loads((Path(args.run) / "report.json").read_text(encoding="utf-8"))["config"]
        if args.dataset:
            cfg["dataset"] = args.dataset
        scores = evaluate_signal(Path(args.run) / "model.onnx", cfg, args.split)
    except Exception as err:
        return _fail("evaluate", err)
    print(
        json.dumps(
            {k: v for k, v in scores.items() if not isinstance(v, list)}, indent=2, default=float
        )
    )
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """`deephealth predict MODEL RECORDING...` for a signal model: events per recording."""
    from deephealth.pipelines.signals.predict import predict_recording
    from deephealth.pipelines.signals.run import write_events
    from deephealth.serving import InferenceSession

    model = args.model / "model.onnx" if args.model.is_dir() else args.model
    fmt = getattr(args, "format", "csv")
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        sess = InferenceSession(model)
        for rec in args.inputs:
            r = predict_recording(model, rec, session=sess)
            out = args.out / (Path(rec).stem + ("-events.edf" if fmt == "edf" else "-events.csv"))
            write_events(r["events"], out, rec)
            print(f"{rec}\t{out}\t{len(r['events'])} events")
    except Exception as err:
        return _fail("predict", err)
    return 0


def is_signal_model(model: Path) -> bool:
    """Whether a run folder or ONNX file is a signal model (has a ``.signal.json`` sidecar)."""
    from deephealth.serving.signals import signal_sidecar

    onnx = model / "model.onnx" if model.is_dir() else model
    return signal_sidecar(onnx).exists()
