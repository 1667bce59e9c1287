"""Train, evaluate and predict with the signal pipeline (``deephealth train`` on a
``signal_classification`` config, ``deephealth signal ...``).

``train_signal``: build the zoo model for the window shape, train it with EDDL's ``fit`` on the
task's balanced, augmented window batches, export ONNX (with the ``.signal.json`` sidecar the
serving side reads), check onnxruntime against torch on real windows, score the test split (else
validation) with the ONNX model, and write ``report.json``/``report.html``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.pipelines.signals.config import load_signal_config
from deephealth.pipelines.tasks.signal_classification import SignalClassificationTask

Log = Callable[..., None]


class _Epochs:
    """The re-iterable loader ``eddl.fit`` reads: one balanced epoch per iteration, seeded by
    ``(seed, epoch + 1)``. ``epoch`` is set by the progress callback from the run's epoch, so a
    resumed run draws the same epochs; ``state_dict``/``load_state_dict`` (saved in checkpoints)
    let a run resumed from a mid-epoch checkpoint skip the batches already done."""

    def __init__(self, task: SignalClassificationTask, batch_size: int, seed: int) -> None:
        self.task, self.batch_size, self.seed = task, batch_size, seed
        self.epoch = self.skip = self.position = 0

    def __len__(self) -> int:
        return self.task.num_batches(self.batch_size)

    def state_dict(self) -> dict[str, int]:
        """Epoch and batches handed out in it."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue a checkpointed epoch: its first ``position`` batches are drawn, not given."""
        self.epoch, self.skip = int(state["epoch"]), int(state["position"])

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # epoch k draws from (seed, k + 1), as before runs could resume (same trained models)
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, self.epoch + 1])
        skip, self.skip = self.skip, 0
        self.position = 0
        for batch in self.task.batches(rng, self.batch_size):
            self.position += 1
            if self.position > skip:  # the skipped ones still advance rng as before
                yield batch


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


def _progress(log: Log, should_stop: Callable[[], bool] | None, loader: _Epochs) -> Any:
    """An EDDL callback logging ``batch`` (at most every 0.5 s) and ``epoch`` events, setting the
    loader's epoch, and ending the training after the current epoch when ``should_stop()`` says
    so."""
    import deephealth.eddl as eddl
    from deephealth.eddl.training.callbacks import Callback

    class Progress(Callback):
        last = 0.0
        stopped = False

        def on_epoch_begin(self, run: Any) -> None:
            loader.epoch = run.epoch

        def on_batch_end(self, run: Any, batch: int) -> None:
            now = time.perf_counter()
            if now - self.last > 0.5 or batch + 1 == run.num_batches:
                self.last = now
                log("batch", epoch=run.epoch + 1, batch=batch + 1, num_batches=run.num_batches,
                    loss=float(sum(eddl.get_losses(run.net))))  # fmt: skip
            if should_stop is not None and not self.stopped and should_stop():
                self.stopped = run.stop = True

        def on_epoch_end(self, run: Any, event: dict[str, Any]) -> None:
            log("epoch", epoch=run.epoch + 1, epochs=run.epochs, loss=event.get("loss"),
                metrics=event.get("metrics", {}), val_metrics={}, time_s=event.get("time_s"))  # fmt: skip

    return Progress()


def signal_info(task: SignalClassificationTask) -> Any:
    """The serving sidecar of a task's model."""
    from deephealth.serving.signals import SignalModelInfo

    spec = task.split("training").spec
    window = {k: (list(v) if isinstance(v, tuple) else v) for k, v in spec.__dict__.items()}
    window["predict_step"] = task.cfg["window"]["predict_step"]
    events = {k: v for k, v in task.cfg["events"].items() if k != "tolerance"}
    return SignalModelInfo(window, events)


def train_signal(
    config: Mapping[str, Any] | str | Path,
    run_dir: str | Path,
    log: Log | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train, export, check and evaluate; returns the report dict (with ``onnx`` and report paths).

    ``log(kind, **fields)`` receives ``status``, ``batch``, ``epoch`` and ``export`` events (the
    web front-end's job page draws them); ``should_stop()`` is polled after each batch and ends the
    training after that epoch (the model so far is still exported and scored; status
    ``stopped``). Every epoch ends with the run checkpoint ``run_dir/checkpoint/checkpoint.pt``
    (the project's one format, :mod:`deephealth.eddl.training.checkpoint`); ``resume`` continues
    from it (weights, optimizer, random state, epoch counter, history), ending bit-identical to
    an uninterrupted run (CPU, same thread count); without ``resume`` an old one is removed.

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
    ckpt_dir = run / "checkpoint"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        (ckpt_dir / "checkpoint.pt").unlink(missing_ok=True)
    eddl.set_seed(cfg["seed"])
    task = SignalClassificationTask(cfg)
    shape = task.input_shape()
    log("status", status="building", windows={"training": len(task.split("training"))}, shape=shape)
    net = zoo.build_model(cfg["model"], shape, task.num_outputs(), **cfg["model_params"])
    eddl.build(net, make_optimizer(cfg["optimizer"]), [cfg["loss"] or task.default_loss()], [task.eddl_metric()],
               make_cs(cfg["computing_service"]))  # fmt: skip
    t1 = time.perf_counter()
    loader = _Epochs(task, cfg["batch_size"], cfg["seed"])
    progress = _progress(log, should_stop, loader)
    log("status", status="training", epochs=cfg["epochs"], resume=resume)
    history = eddl.fit(
        net,
        loader,
        epochs=cfg["epochs"],
        seed=cfg["seed"],
        verbose=0,
        callbacks=[progress],
        resume=str(ckpt_dir),
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
                "dataset": cfg["dataset"], "model": cfg["model"], "split": split, "resumed": resume,
                "epochs_done": len(history or [])},
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
    status = "stopped" if progress.stopped else "completed"
    report.update({"report_json": str(jpath), "report_html": str(hpath), "status": status,
                   "onnx_check_passed": check["passed"]})  # fmt: skip
    return report


def train_signal_run(
    config: Mapping[str, Any] | str | Path,
    run_dir: str | Path,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """``train_signal`` with the interface of ``deephealth.pipelines.run.train`` (what the web
    server's jobs call): events as dicts to ``on_event`` and ``run_dir/events.jsonl`` (appended
    to when resuming), the same result keys (``status``, ``onnx``, ``report_html``, ``metrics``,
    ...) and a final ``done``; ``resume`` continues from the run's checkpoint."""
    from deephealth.pipelines.run import EventLog

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    if not resume:
        (run / "events.jsonl").unlink(missing_ok=True)
    log = EventLog(run, on_event, time.perf_counter())
    log("status", status="pre-processing", resume=resume)
    r = train_signal(config, run, log, should_stop, resume)
    log("done", status=r["status"], onnx=r["onnx"], report_html=r["report_html"], kpis=r["kpis"])
    return {**r, "run_dir": str(run), "metrics": r["test_metrics"], "validation_metrics": {},
            "best_epoch": len(r["history"])}  # fmt: skip


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
