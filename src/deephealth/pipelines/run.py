"""Running a pipeline: `train`, `evaluate` and `predict`, the API the CLI and the web server call.

`train(config, run_dir)` goes from a raw DeepHealth dataset to a model in production: load and
pre-process the data (ECVL), build the model (zoo or ONNX) and train it with `eddl.fit`, validating
every epoch with the task's own metrics and keeping the best weights; then export the best model to
ONNX, check it in onnxruntime against the trained model, evaluate the ONNX model on the test split,
and write the KPI report (JSON + HTML). Every step emits structured events (`{"type": "status" |
"batch" | "epoch" | "export" | "done", ...}`) to `on_event` and to `run_dir/events.jsonl`;
`should_stop()` is polled after every batch; `resume=True` continues from the run folder's last
epoch checkpoint (weights, optimizer, random state, best model so far).

Run folder: `config.json`, `events.jsonl`, `checkpoint/checkpoint.pt`, `best.pt` (best weights),
`model.onnx` (+ `.preprocessing.json`), `report.json`, `report.html`.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.distenv import detect
from deephealth.eddl.training.callbacks import Callback, metric_mode
from deephealth.errors import PipelineError
from deephealth.pipelines.config import METRICS, load_config
from deephealth.pipelines.data import DataError
from deephealth.pipelines.explain import explain_cases
from deephealth.pipelines.report import build_kpis, write_html, write_report
from deephealth.pipelines.report.kpi import machine
from deephealth.pipelines.stream import StreamingDataset, TrainBatches
from deephealth.pipelines.tasks import TASKS, Task

EventFn = Callable[[dict[str, Any]], None]


class RunNotFoundError(PipelineError, FileNotFoundError):
    """The folder is not a (finished) run folder."""


class _Stopped(Exception):  # noqa: N818 (control flow, not an error)
    """Raised inside fit when `should_stop()` asks to stop."""


class EventLog:
    """Writes events to `events.jsonl` and forwards them to a callback."""

    def __init__(
        self, run_dir: Path, on_event: EventFn | None, t0: float, enabled: bool = True
    ) -> None:
        self.path = run_dir / "events.jsonl"
        self.on_event = on_event
        self.t0 = t0
        self.enabled = enabled  # False on the ranks > 0 of a distributed run

    def __call__(self, type_: str, **fields: Any) -> None:
        if not self.enabled:
            return
        event = {"type": type_, "time": round(time.perf_counter() - self.t0, 4), **fields}
        with self.path.open("a") as fh:
            fh.write(json.dumps(event, default=_json_default) + "\n")
        if self.on_event is not None:
            self.on_event(event)


def _json_default(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else str(v)


# ---------------------------------------------------------------------------------------- pieces
def open_dataset(
    cfg: dict[str, Any], splits: tuple[str, ...] = ("training", "validation", "test"),
    target_scale: float | None = None, num_labels: int | None = None,
) -> StreamingDataset:  # fmt: skip
    """Open the config's dataset for streaming (metadata only; samples are read per batch)."""
    return StreamingDataset(cfg["dataset"], cfg, splits, target_scale, num_labels)


def make_task(
    cfg: dict[str, Any], splits: tuple[str, ...] = ("training", "validation", "test"),
    target_scale: float | None = None, num_labels: int | None = None,
) -> tuple[Task, float]:  # fmt: skip
    """Open the dataset and wrap it in the config's task (with its streamed scans, if any).

    Returns:
        (task, seconds of this pre-processing step).
    """
    t = time.perf_counter()
    data = open_dataset(cfg, splits, target_scale, num_labels)
    return TASKS[cfg["task"]](cfg, data), time.perf_counter() - t


def make_optimizer(opt: dict[str, Any]) -> Any:
    """The eddl optimizer for the config's `optimizer` section (only the arguments it takes)."""
    import deephealth.eddl as eddl

    fn = getattr(eddl, opt["name"])
    accepted = inspect.signature(fn).parameters
    kwargs = {k: v for k, v in opt.items() if k != "name" and k in accepted}
    return fn(**kwargs)


def make_cs(cs: dict[str, Any]) -> Any:
    """The eddl computing service for the config's `computing_service` section."""
    import deephealth.eddl as eddl

    if cs["type"] == "gpu":
        return eddl.CS_GPU(cs["gpus"], precision=cs["mixed_precision"])
    return eddl.CS_CPU(cs["threads"])


def make_strategy(parallel: dict[str, Any]) -> Any:
    """The data-parallel strategy of the config's `parallel` section, or None in one process."""
    if not detect().is_distributed:
        return None
    from deephealth.eddl.distributed import DataParallel

    return DataParallel(
        mode=parallel["mode"], lsb=parallel["lsb"], sync_batchnorm=parallel["sync_batchnorm"],
        compression=parallel["compression"],
    )  # fmt: skip


def make_model(cfg: dict[str, Any], task: Task) -> tuple[Any, bool]:
    """Build the model: a zoo model by name, or an ONNX file to fine-tune.

    Returns:
        (model, imported) — imported models keep their weights at build.

    Raises:
        PipelineError: for an unknown model or a zoo model of the wrong kind for the task.
    """
    import deephealth.eddl as eddl
    from deephealth.eddl import zoo

    name = cfg["model"] or task.default_model()
    shape = task.input_shape()
    if name.endswith(".onnx"):
        if not Path(name).is_file():
            raise PipelineError(f"model: ONNX file {name} not found")
        return eddl.import_net_from_onnx_file(name, input_shape=shape), True
    if name.lower() not in zoo.MODELS:
        raise PipelineError(f"model: unknown zoo model {name!r}; known: {sorted(zoo.MODELS)}")
    kind = zoo.MODELS[name.lower()][1]
    if kind != task.model_kind:
        raise PipelineError(
            f"model: {name} is a {kind} model but {task.kind} needs one of "
            f"{zoo.list_models(task.model_kind)}"
        )
    act = task.activation()  # a detector has none (its outputs are decoded)
    extra = {"activation": act} if act else {}
    try:
        net = zoo.build_model(
            name, shape, task.num_outputs(), **extra,
            **{**task.model_args(), **cfg["model_params"]},
        )  # fmt: skip
    except (TypeError, ValueError) as err:
        raise PipelineError(f"model: cannot build {name} for input {shape}: {err}") from None
    return net, False


def build_network(cfg: dict[str, Any], task: Task, strategy: Any = None) -> Any:
    """The config's model, built for training (optimizer, loss, metric, computing service).

    Raises:
        PipelineError: an unknown model, or one that does not build for the task's data.
    """
    import deephealth.eddl as eddl

    net, imported = make_model(cfg, task)
    loss = cfg["loss"] or task.default_loss()
    try:
        metric = task.eddl_metric()
        eddl.build(
            net, make_optimizer(cfg["optimizer"]), [loss], [metric] if metric else [],
            make_cs(cfg["computing_service"]), init_weights=not imported, strategy=strategy,
        )  # fmt: skip
    except ValueError as err:
        raise PipelineError(f"build: {err}") from None
    if not imported:
        task.after_build(net)
    return net


def _input_list(x: Any) -> list[np.ndarray]:
    """One batch array, or a list of them (multi-input models), as a list of float32 arrays."""
    xs = x if isinstance(x, list | tuple) else [x]
    return [np.ascontiguousarray(a, dtype=np.float32) for a in xs]


def torch_forward(net: Any) -> Callable[[Any], np.ndarray]:
    """Batch (an array, or a list for multi-input models) → output array with the eddl model
    in inference mode."""
    import deephealth.eddl as eddl

    def forward(x: Any) -> np.ndarray:
        return np.asarray(eddl.predict(net, _input_list(x))[0])

    return forward


def ort_threads(loader_workers: int) -> int:
    """onnxruntime intra-op threads next to `loader_workers` loader threads: the cores left."""
    return max(1, (os.cpu_count() or 1) - loader_workers)


def onnx_forward(path: str | Path, threads: int | None = None) -> Callable[[Any], Any]:
    """Batch (an array, or a list in the model's input order) → output array (a list of arrays
    for a model with several outputs, such as a detector's boxes, scores, labels and image
    indices) with the exported model in onnxruntime (deephealth.serving)."""
    from deephealth.serving import InferenceSession

    session = InferenceSession(path, threads=threads)

    def forward(x: Any) -> Any:
        out = session.run(*_input_list(x))
        return out if isinstance(out, list) else np.asarray(out)  # several outputs: a list

    return forward


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _callbacks(net: Any, task: Task, cfg: dict[str, Any], run_dir: Path, log: EventLog,
               loader: TrainBatches, should_stop: Callable[[], bool] | None) -> list[Any]:  # fmt: skip
    """EDDL's own callbacks for a pipeline run: validation with the task's metrics (into the
    epoch event), `KeepBest` and `EarlyStopping` on `monitor`, and the pipeline's events."""
    import deephealth.eddl as eddl

    monitor = cfg["monitor"]
    key = "loss" if monitor == "loss" else f"val_{monitor}"
    mode = metric_mode(monitor)
    validation = TaskValidation(net, task, cfg)
    keep = eddl.KeepBest(run_dir / "best.pt", monitor=key, mode=mode)
    cbs: list[Any] = [validation, keep]
    patience = cfg["early_stopping"]["patience"]
    if patience:
        cbs.append(eddl.EarlyStopping(key, patience=patience, mode=mode))
    cbs.append(PipelineEvents(task, cfg, log, loader, should_stop, keep, validation))
    every = cfg["checkpoint"]["every_batches"]
    cbs.append(eddl.ModelCheckpoint(run_dir / "checkpoint", every_batches=every))
    return cbs


class TaskValidation(Callback):
    """After each epoch: score the validation split (training when there is none) with the task's
    own metrics, streamed, and put the numbers in the epoch event's `val_metrics`."""

    def __init__(self, net: Any, task: Task, cfg: dict[str, Any]) -> None:
        self.net, self.task, self.cfg = net, task, cfg
        self.seconds = 0.0

    def on_epoch_end(self, run: Any, event: dict[str, Any]) -> None:
        t = time.perf_counter()
        split = "validation" if self.task.data.split_size("validation") else "training"
        scores = self.task.evaluate(split, torch_forward(self.net), self.cfg["batch_size"])
        event["val_metrics"] = {k: v for k, v in scores.items() if _is_number(v)}
        self.seconds = time.perf_counter() - t


class PipelineEvents(Callback):
    """The pipeline's events (`batch`, `epoch`, `status`) and history; polls `should_stop`."""

    def __init__(self, task: Task, cfg: dict[str, Any], log: EventLog, loader: TrainBatches,
                 should_stop: Callable[[], bool] | None, keep: Any, validation: TaskValidation,
                 ) -> None:  # fmt: skip
        self.task, self.cfg, self.log, self.loader = task, cfg, log, loader
        self.should_stop, self.keep, self.validation = should_stop, keep, validation
        self.history: list[dict[str, Any]] = []
        self.train_s = 0.0
        self.restored_train_s = 0.0  # training time of earlier sessions (resume)
        self._t = 0.0
        self._in_epoch = False
        self._last_batch_event = 0.0

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights are kept (None before one finished)."""
        return self.keep.best_epoch

    def on_epoch_begin(self, run: Any) -> None:
        self.loader.epoch = run.epoch
        self._t = time.perf_counter()
        self._in_epoch = True

    def on_batch_end(self, run: Any, batch: int) -> None:
        import deephealth.eddl as eddl

        now = time.perf_counter()
        if now - self._last_batch_event > 0.2 or batch + 1 == run.num_batches:
            self._last_batch_event = now
            self.log(
                "batch", epoch=run.epoch + 1, batch=batch + 1, num_batches=run.num_batches,
                loss=float(sum(eddl.get_losses(run.net))),
                metrics=dict(zip([self.task.eddl_metric()], eddl.get_metrics(run.net))),
            )  # fmt: skip
        if self.should_stop is not None and self.should_stop():
            self.train_s += time.perf_counter() - self._t
            raise _Stopped

    def on_epoch_end(self, run: Any, event: dict[str, Any]) -> None:
        monitor = self.cfg["monitor"]
        shown = {*self.cfg["metrics"], monitor}
        val = event.get("val_metrics", {})
        record = {
            "epoch": run.epoch + 1, "epochs": run.epochs, "loss": event.get("loss"),
            "metrics": event.get("metrics", {}),
            "val_metrics": {k: v for k, v in val.items() if k in shown},
            "time_s": event.get("time_s"), "val_time_s": self.validation.seconds,
            "best": self.keep.best_epoch == run.epoch + 1,
        }  # fmt: skip
        self.history.append(record)
        self.train_s += time.perf_counter() - self._t
        self._in_epoch = False
        self.log("epoch", **record)
        if run.stop:
            self.log("status", status="early_stopping", epoch=run.epoch + 1)

    def state_dict(self) -> dict[str, Any]:
        partial = time.perf_counter() - self._t if self._in_epoch else 0.0  # mid-epoch checkpoint
        return {"history": self.history, "train_s": self.train_s + partial}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = list(state["history"])
        self.train_s = self.restored_train_s = float(state["train_s"])


def check_onnx(
    net: Any, path: Path, x: Any, tolerance: float, task: Task | None = None
) -> dict[str, Any]:
    """Compare the exported model in onnxruntime with the trained model on a batch (through the
    task's `output_difference` when a task is given)."""
    ref = torch_forward(net)(x)
    got = onnx_forward(path)(x)
    if task is not None:
        diff = task.output_difference(ref, got)
    else:
        ref, got = np.asarray(ref), np.asarray(got)
        diff = float(np.abs(ref - got).max()) if ref.shape == got.shape else float("inf")
    return {
        "passed": bool(diff <= tolerance),
        "max_abs_diff": diff,
        "tolerance": tolerance,
        "samples": int(_input_list(x)[0].shape[0]),
    }


def _save_preprocessing(path: Path, task: Task) -> None:
    from deephealth.serving.preprocessing import Preprocessing, save_preprocessing

    layout = "CHW" if task.data.dims == 2 else "CDHW"
    save_preprocessing(path, Preprocessing(layout=layout, class_names=tuple(task.data.classes)))
    task.save_sidecars(path)


# ---------------------------------------------------------------------------------------- train
def train(
    config: dict | str | Path,
    run_dir: str | Path,
    on_event: EventFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train a pipeline from its config, export the best model to ONNX, check and evaluate it.

    Args:
        config: Config dict, YAML file path or YAML text (see `pipelines.config`).
        run_dir: Folder for the run's files (created).
        on_event: Called with every structured event.
        should_stop: Polled after each batch; True stops training (the best model so far is still
            exported and reported; the result's status is "stopped").
        resume: Continue from the run folder's last checkpoint.

    Returns:
        {"status", "run_dir", "onnx", "onnx_check_passed", "report_json", "report_html",
        "metrics" (test split), "validation_metrics", "kpis", "best_epoch"}. "onnx" is None when
        no epoch finished.

    Raises:
        ConfigError: invalid config (every problem listed).
        DataError: the dataset does not fit the task.
        PipelineError: a step failed (model, ONNX export).
    """
    import deephealth.eddl as eddl

    t0 = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    cfg = load_config(config)
    run_dir = Path(run_dir)
    ckpt_dir = run_dir / "checkpoint"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    env = detect()
    if env.is_main:  # the other ranks of a distributed run only train
        if not resume:
            for stale in ("checkpoint/checkpoint.pt", "best.pt", "events.jsonl", "model.onnx"):
                (run_dir / stale).unlink(missing_ok=True)
        (run_dir / "config.json").write_text(json.dumps(cfg, indent=2))
    log = EventLog(run_dir, on_event, t0, enabled=env.is_main)
    log("status", status="pre-processing", resume=resume)
    eddl.set_seed(cfg["seed"])
    task, pre_s = make_task(cfg)
    samples = {k: task.data.split_size(k) for k in task.data.splits}
    log("status", status="building", pre_processing_s=pre_s, samples=samples)
    net = build_network(cfg, task, make_strategy(cfg["parallel"]))
    loader = TrainBatches(task, cfg["batch_size"], cfg["seed"])
    callbacks = _callbacks(net, task, cfg, run_dir, log, loader, should_stop)
    callback = callbacks[-2]
    status = "completed"
    log("status", status="training", epochs=cfg["epochs"], num_batches=len(loader))
    try:
        eddl.fit(
            net, loader, epochs=cfg["epochs"], callbacks=callbacks, resume=str(ckpt_dir),
            seed=cfg["seed"], verbose=0,
        )  # fmt: skip
    except _Stopped:
        status = "stopped"
        log("status", status="stopped")
    if not env.is_main:  # export, evaluation and report are rank 0's
        return {"status": status, "run_dir": str(run_dir), "rank": env.rank}
    production = _export_and_evaluate(net, task, cfg, run_dir, log, t0, callback)
    times = {
        "pre_processing_s": pre_s,
        "train_s": callback.train_s,
        "production_s": production.pop("production_s"),
    }
    parallel = _parallel_kpi_inputs(cfg, env.world_size, callback.train_s)
    kpis = build_kpis(cfg["task"], times, production["metrics"], parallel)
    report = {
        "run": {
            "name": cfg["name"] or f"{task.data.name}-{cfg['task']}",
            "task": cfg["task"], "dataset": cfg["dataset"],
            "model": cfg["model"] or task.default_model(), "status": status,
            "started": started, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "epochs_done": len(callback.history), "best_epoch": callback.best_epoch,
            "monitor": cfg["monitor"], "resumed": resume,
        },
        "kpis": kpis, "classes": task.data.classes, "test_metrics": production["metrics"],
        "validation_metrics": production["validation_metrics"], "history": callback.history,
        "onnx": production["onnx_info"], "times": times, "config": cfg, "machine": machine(),
        "samples": samples,
        "parallel": parallel,
        "data": {"target_scale": task.data.target_scale, "num_labels": task.data.num_labels,
                 "task_state": task.fitted_state()},
    }  # fmt: skip
    extras = production.get("extras") or {}
    if extras:
        report["clinical"] = extras
        if cfg.get("ablation"):
            extras["ablation"] = _ablation(cfg, run_dir, extras["fusion"], production["metrics"])
    result = {
        "status": status, "run_dir": str(run_dir), "onnx": production["onnx"],
        "report_json": str(write_report(run_dir / "report.json", report)),
        "report_html": str(write_html(run_dir / "report.html", report, production["overlays"])),
        "metrics": production["metrics"], "validation_metrics": production["validation_metrics"],
        "kpis": kpis, "best_epoch": callback.best_epoch,
        "onnx_check_passed": production["onnx_info"].get("check", {}).get("passed", False),
    }  # fmt: skip
    (run_dir / "result.json").write_text(json.dumps(result, indent=2, default=_json_default))
    log("done", status=status, onnx=result["onnx"], report_html=result["report_html"], kpis=kpis)
    return result


def _ablation(
    cfg: dict[str, Any], run_dir: Path, fusion: str, metrics: dict[str, Any]
) -> list[dict[str, Any]]:
    """Train the image-only and tabular-only baselines of a clinical run with the same config
    (same blocks, data, epochs and seed; runs in `run_dir/ablation/<variant>`) and return one
    row of test metrics per model, the run's own model last."""
    keys = METRICS[cfg["task"]]
    rows = []
    for variant in ("image", "tabular"):
        if variant == fusion:
            continue
        sub = {**cfg, "ablation": False, "model_params": {**cfg["model_params"], "fusion": variant}}
        sub["name"] = f"{cfg['name'] or 'run'}-{variant}-only"
        result = train(sub, run_dir / "ablation" / variant)
        rows.append({"model": f"{variant} only", **{k: result["metrics"].get(k) for k in keys}})
    rows.append({"model": f"{fusion} (this run)", **{k: metrics.get(k) for k in keys}})
    return rows


def _parallel_kpi_inputs(cfg: dict[str, Any], workers: int, train_s: float) -> dict[str, Any]:
    """Workers and the serial time of the baseline run named in the config (if any)."""
    baseline = cfg["parallel"]["baseline_run"]
    serial_s = None
    if baseline:
        path = Path(baseline) / "report.json"
        try:
            serial_s = json.loads(path.read_text())["times"]["train_s"]
        except (OSError, ValueError, KeyError) as err:
            raise PipelineError(f"parallel.baseline_run: cannot read {path}: {err}") from None
    return {
        "workers": workers,
        "serial_s": serial_s,
        "parallel_s": train_s,
        "baseline_run": baseline,
    }


def _export_and_evaluate(
    net: Any, task: Task, cfg: dict[str, Any], run_dir: Path, log: EventLog, t0: float,
    callback: Any,
) -> dict[str, Any]:  # fmt: skip
    """Export the best weights to ONNX, check them in onnxruntime, score the ONNX model.

    Returns {"onnx", "onnx_info", "production_s", "metrics", "validation_metrics", "overlays"};
    empty values when no epoch finished (no best weights).
    """
    import deephealth.eddl as eddl

    out: dict[str, Any] = {"onnx": None, "onnx_info": {}, "production_s": None, "metrics": {},
                           "validation_metrics": {}, "overlays": []}  # fmt: skip
    best = run_dir / "best.pt"
    if not best.is_file():
        return out
    eddl.load(net, str(best), "pt")
    log("status", status="exporting")
    onnx_path = run_dir / "model.onnx"
    try:
        task.export(net, str(onnx_path))
    except Exception as err:
        raise PipelineError(f"ONNX export of {net.name}: {err}") from None
    _save_preprocessing(onnx_path, task)
    check = check_onnx(net, onnx_path, task.check_batch(), cfg["export"]["tolerance"], task)
    if check["passed"]:
        # wall time of this session + training time of earlier sessions (resume)
        out["production_s"] = time.perf_counter() - t0 + callback.restored_train_s
    log("export", onnx=str(onnx_path), check=check)
    forward = onnx_forward(onnx_path, ort_threads(task.data.workers))
    log("status", status="evaluating")
    data = task.data
    eval_split = "test" if data.split_size("test") else "validation"
    if not data.split_size(eval_split):
        eval_split = "training"
    scores, overlays = task.evaluate_with_overlays(eval_split, forward, cfg["batch_size"])
    out["metrics"] = {**scores, "split": eval_split}
    out["overlays"] = explain_cases(net, overlays)
    out["extras"] = task.report_extras(eval_split, forward, cfg["batch_size"], scores)
    if data.split_size("validation"):
        out["validation_metrics"] = task.evaluate("validation", forward, cfg["batch_size"])
    out.update(onnx=str(onnx_path), onnx_info={"path": str(onnx_path), "check": check})
    return out


# ------------------------------------------------------------------------------ evaluate/predict
def _run_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.json"
    if not path.is_file():
        raise RunNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    return json.loads(path.read_text())


def evaluate(
    run_dir: str | Path, dataset: str | Path | None = None, split: str = "test"
) -> dict[str, Any]:
    """Evaluate a run's exported ONNX model on a split of its dataset (or of another dataset).

    Args:
        run_dir: A folder written by `train`.
        dataset: Dataset YAML to evaluate on (default: the run's).
        split: Split name.

    Returns:
        The task's metrics (also written to `run_dir/evaluation_<split>.json`).

    Raises:
        PipelineError: when the run has no model or the split is empty.
    """
    run_dir = Path(run_dir)
    cfg = _run_config(run_dir)
    onnx_path = run_dir / "model.onnx"
    if not onnx_path.is_file():
        raise RunNotFoundError(f"{run_dir} has no exported model (model.onnx)")
    if dataset is not None:
        cfg["dataset"] = str(dataset)
    info = json.loads((run_dir / "report.json").read_text())["data"]
    cfg["fitted_state"] = info.get("task_state") or None
    try:
        task, _ = make_task(cfg, (split,), info["target_scale"], info.get("num_labels") or None)
        if not task.data.split_size(split):
            raise DataError(f"dataset {cfg['dataset']} has no samples in split {split!r}")
        forward = onnx_forward(onnx_path, ort_threads(task.data.workers))
        scores = task.evaluate(split, forward, cfg["batch_size"])
    except DataError as err:
        raise PipelineError(f"evaluate {run_dir}: {err}") from None
    (run_dir / f"evaluation_{split}.json").write_text(json.dumps(scores, default=_json_default))
    return scores


def predict(
    model: str | Path, inputs: list[str | Path], out_dir: str | Path, features: Any = None
) -> list[dict[str, Any]]:
    """Predict files or folders with a run's model; write masks/images and a predictions CSV.

    Args:
        model: A run folder (its config drives the pre-processing) or an `.onnx` file (inputs
            are min-max normalized and used at their size).
        inputs: Image/volume files or folders of them.
        out_dir: Output folder: `predictions.csv` (classification, clinical tasks) or one mask /
            image per input (`<name>_mask.png` / `.nii.gz`, `<name>_pred.png` / `.nii.gz`).
        features: Clinical models: the clinical values, one mapping per input keyed by file name
            (or one mapping for a single input).

    Returns:
        One record per input: {"input", "output" (file or None), "class", "scores"}.

    Raises:
        PipelineError: when the model or an input does not exist.
    """
    from deephealth.pipelines.predict_io import predict_files

    return predict_files(Path(model), [Path(p) for p in inputs], Path(out_dir), features)


__all__ = ["DataError", "PipelineError", "RunNotFoundError", "evaluate", "predict", "train"]
