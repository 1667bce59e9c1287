"""Train, evaluate and predict with the signal pipeline (``deephealth train`` on a
``signal_classification`` config, ``deephealth signal ...``).

``train_signal``: build the zoo model for the window shape, train it with EDDL's ``fit`` on the
task's balanced, augmented window batches, export ONNX (with the ``.signal.json`` sidecar the
serving side reads), check onnxruntime against torch on real windows, score the test split (else
validation) with the ONNX model, and write ``report.json``/``report.html``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.pipelines.signals.config import load_signal_config
from deephealth.pipelines.tasks.signal_classification import SignalClassificationTask

Log = Callable[..., None]


class _Epochs:
    """The re-iterable loader ``eddl.fit`` reads: one balanced epoch per iteration, seeded."""

    def __init__(self, task: SignalClassificationTask, batch_size: int, seed: int) -> None:
        self.task, self.batch_size, self.seed, self.epoch = task, batch_size, seed, 0

    def __len__(self) -> int:
        return self.task.num_batches(self.batch_size)

    def __iter__(self):
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, self.epoch])
        self.epoch += 1
        return self.task.batches(rng, self.batch_size)


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


def signal_info(task: SignalClassificationTask) -> Any:
    """The serving sidecar of a task's model."""
    from deephealth.serving.signals import SignalModelInfo

    spec = task.split("training").spec
    window = {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec.__dict__.items()}
    window["predict_step"] = task.cfg["window"]["predict_step"]
    events = {k: v for k, v in task.cfg["events"].items() if k != "tolerance"}
    return SignalModelInfo(window, events)


def train_signal(
    config: Mapping[str, Any] | str | Path, run_dir: str | Path, log: Log | None = None
) -> dict[str, Any]:
    """Train, export, check and evaluate; returns the report dict (with ``onnx`` and report paths).

    Raises:
        ConfigError, DataError: Bad config or dataset (every problem listed).
    """
    import deephealth.eddl as eddl
    from deephealth.eddl import zoo
    from deephealth.pipelines.run import check_onnx, make_cs, make_optimizer, onnx_forward
    from deephealth.pipelines.signals.report import example_figures, write_report
    from deephealth.serving.signals import save_signal_info

    log = log or _noop
    t0 = time.perf_counter()
    cfg = load_signal_config(config)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    eddl.set_seed(cfg["seed"])
    task = SignalClassificationTask(cfg)
    shape = task.input_shape()
    log("status", status="building", windows={"training": len(task.split("training"))}, shape=shape)
    net = zoo.build_model(cfg["model"], shape, task.num_outputs(), **cfg["model_params"])
    eddl.build(net, make_optimizer(cfg["optimizer"]), [cfg["loss"] or task.default_loss()], [task.eddl_metric()],
               make_cs(cfg["computing_service"]))  # fmt: skip
    t1 = time.perf_counter()
    history = eddl.fit(
        net,
        _Epochs(task, cfg["batch_size"], cfg["seed"]),
        epochs=cfg["epochs"],
        seed=cfg["seed"],
        verbose=0,
    )
    train_s = time.perf_counter() - t1
    log("status", status="trained", seconds=train_s)
    onnx_path = run / "model.onnx"
    eddl.save_net_to_onnx_file(net, str(onnx_path))
    save_signal_info(onnx_path, signal_info(task))
    check = check_onnx(net, onnx_path, task.check_batch(), cfg["export"]["tolerance"])
    log("export", onnx=str(onnx_path), check=check, time=time.perf_counter() - t0)
    split = "test" if task.data.split("test") else "validation"
    t2 = time.perf_counter()
    probs = task.predict(split, onnx_forward(onnx_path), cfg["batch_size"] * 4)
    scores = task.score(split, probs)
    eval_s = time.perf_counter() - t2
    report = {
        "run": {"name": cfg["name"] or f"{task.data.name}-signal_classification", "task": task.kind,
                "dataset": cfg["dataset"], "model": cfg["model"], "split": split},
        "classes": list(task.classes),
        "config": cfg,
        "history": [{k: v for k, v in h.items() if isinstance(v, (int, float, str))} for h in (history or [])],
        "kpis": {"train_s": train_s, "eval_s": eval_s, "windows_per_s_eval": len(probs) / max(eval_s, 1e-9),
                 "onnx_max_abs_diff": check["max_abs_diff"], "event_sensitivity": scores["event_sensitivity"],
                 "false_alarms_per_24h": scores["false_alarms_per_24h"]},
        "test_metrics": scores,
        "onnx_check": check,
        "onnx": str(onnx_path),
    }  # fmt: skip
    jpath, hpath = write_report(run, report, example_figures(task, split, probs))
    for ds in task._splits.values():
        ds.close()
    report.update({"report_json": str(jpath), "report_html": str(hpath), "status": "completed",
                   "onnx_check_passed": check["passed"]})  # fmt: skip
    return report


def evaluate_signal(
    model: str | Path, config: Mapping[str, Any] | str | Path, split: str = "test"
) -> dict[str, Any]:
    """Score an exported model (ONNX in onnxruntime) on a split of the config's dataset."""
    from deephealth.pipelines.run import onnx_forward

    cfg = load_signal_config(config)
    task = SignalClassificationTask(cfg)
    probs = task.predict(split, onnx_forward(model), cfg["batch_size"] * 4)
    return task.score(split, probs)


def write_events(
    events: list[dict[str, Any]], out: str | Path, recording: str | Path | None = None
) -> Path:
    """Write detected events as CSV (``onset,duration,label,score``) or, for ``.edf``/``.bdf``, as
    an EDF+ copy of ``recording`` with the events added as annotations."""
    out = Path(out)
    if out.suffix.lower() in (".edf", ".bdf"):
        from deephealth.ecvl.signal import SignalRead, SignalWrite

        if recording is None:
            raise ValueError("writing EDF+ annotations needs the recording")
        sig = SignalRead(recording)
        sig.add_annotations(
            [(e["onset"], e["duration"], e["label"]) for e in events], source="deephealth"
        )
        SignalWrite(out, sig)
        return out
    lines = ["onset,duration,label,score"] + [
        f"{e['onset']:.3f},{e['duration']:.3f},{e['label']},{e['score']:.4f}" for e in events
    ]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
