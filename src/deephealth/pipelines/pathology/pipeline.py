"""Slide pipelines: from whole-slide images to a patch model in production, with the KPI report.

``train_slides(config, run_dir)`` runs a slide-classification or patch-segmentation config
(see :mod:`deephealth.pipelines.pathology.config`): it lists the tiles of the training slides
(tissue detection + tiler), trains a zoo patch model with ``eddl.fit`` on tiles streamed by a
:class:`~deephealth.ecvl.pathology.PatchDataset` (nothing extracted to disk), exports it to
ONNX and checks it in onnxruntime against the trained model, runs ``predict_slide`` over every
test slide (heat / label maps as pyramidal TIFFs, GeoJSON for QuPath), scores the slides
(slide-level accuracy, sensitivity, specificity; or Dice / IoU of the label map against the
rasterized annotations) and writes ``report.json`` (every KPI key) and ``report.html``.

Run folder: ``config.json``, ``events.jsonl``, ``model.onnx`` (+ preprocessing sidecar),
``slides/<name>/`` (``labels.tif``, ``heatmap_<class>.tif``, ``regions.geojson``),
``report.json``, ``report.html``, ``result.json``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.ecvl.pathology import (
    AnnotationLabeler,
    PatchDataset,
    SlideSource,
    Tiler,
    read_geojson,
)
from deephealth.eddl.training.callbacks import Callback
from deephealth.pipelines.pathology.config import load_slide_config
from deephealth.pipelines.pathology.inference import SlidePrediction, predict_slide
from deephealth.pipelines.pathology.maps import NO_PREDICTION
from deephealth.pipelines.pathology.model import PatchModel
from deephealth.pipelines.report import build_kpis, write_html, write_report
from deephealth.pipelines.report.kpi import machine
from deephealth.pipelines.run import (
    EventFn,
    EventLog,
    PipelineError,
    check_onnx,
    make_cs,
    make_optimizer,
)

SEGMENTATION = "patch_segmentation"


def make_tiler(cfg: dict[str, Any]) -> Tiler:
    """The :class:`Tiler` of the config's ``tiler`` section."""
    return Tiler(**cfg["tiler"])


def make_dataset(cfg: dict[str, Any], split: str, *, shuffle: bool = True) -> PatchDataset:
    """A streaming patch dataset of the config's slides of one split."""
    seg = cfg["task"] == SEGMENTATION
    sources = [
        SlideSource(s["path"], None if seg else s["label"], s["annotations"] if seg else None)
        for s in cfg["slides"]
        if s["split"] == split
    ]
    return PatchDataset(
        sources, cfg["classes"], make_tiler(cfg), batch_size=cfg["batch_size"],
        target="mask" if seg else "class", background=cfg["classes"][0] if seg else None,
        shuffle=shuffle, seed=cfg["seed"], workers=cfg["workers"],
    )  # fmt: skip


def make_patch_model(cfg: dict[str, Any]) -> Any:
    """Build and compile the zoo patch model (softmax over the classes)."""
    import deephealth.eddl as eddl
    from deephealth.eddl import zoo

    seg = cfg["task"] == SEGMENTATION
    name, size = cfg["model"], cfg["tiler"]["size"]
    kind = "dense" if seg else "classifier"
    if name.lower() not in zoo.list_models(kind):
        raise PipelineError(f"model: {name!r} is not a zoo {kind} model {zoo.list_models(kind)}")
    try:
        net = zoo.build_model(
            name, [3, size, size], len(cfg["classes"]), activation="softmax",
            **cfg["model_params"],
        )  # fmt: skip
        metric = "dice" if seg else "categorical_accuracy"
        eddl.build(
            net, make_optimizer(cfg["optimizer"]), ["softmax_cross_entropy"], [metric],
            make_cs(cfg["computing_service"]),
        )  # fmt: skip
    except (TypeError, ValueError) as err:
        raise PipelineError(f"model: cannot build {name} for {size}-px tiles: {err}") from None
    return net


def export_model(
    net: Any, cfg: dict[str, Any], onnx_path: Path, check_x: np.ndarray
) -> dict[str, Any]:
    """Export to ONNX, check it in onnxruntime, then store its preprocessing (raw RGB pixels).

    Returns:
        The check record (``passed``, ``max_abs_diff``, ``tolerance``, ``samples``).
    """
    import deephealth.eddl as eddl
    from deephealth.serving.preprocessing import Preprocessing, save_preprocessing, sidecar_path

    sidecar_path(onnx_path).unlink(missing_ok=True)  # a former run's scaling would skew the check
    try:
        eddl.save_net_to_onnx_file(net, str(onnx_path))
    except Exception as err:
        raise PipelineError(f"ONNX export of {net.name}: {err}") from None
    check = check_onnx(net, onnx_path, check_x, cfg["export"]["tolerance"])
    prep = Preprocessing(layout="CHW", scale=1.0 / 255.0, class_names=tuple(cfg["classes"]))
    save_preprocessing(onnx_path, prep)  # after the check: the check feeds scaled input
    return check


def reference_mask(pred: SlidePrediction, annotations: str, classes: list[str]) -> np.ndarray:
    """The annotations rasterized on the grid of the prediction's label map."""
    ds = pred.default_downsample()
    labeler = AnnotationLabeler(
        read_geojson(annotations), classes, pred.slide_size, background=classes[0], downsample=ds
    )
    raster = labeler.raster.astype(np.int64) - 1  # 0 = unannotated -> background (class 0)
    raster[raster < 0] = 0
    return raster


def score_slides(
    cfg: dict[str, Any], results: list[dict[str, Any]], preds: list[SlidePrediction]
) -> dict[str, Any]:
    """Test metrics: slide-level classification, or Dice / IoU of the label maps."""
    from deephealth.pipelines.metrics import classification_metrics, segmentation_metrics

    classes = cfg["classes"]
    if cfg["task"] != SEGMENTATION:
        y_true = [classes.index(r["true"]) for r in results]
        y_pred = [classes.index(r["label"]) for r in results]
        scores = [[r["scores"][c] for c in classes] for r in results]
        m = classification_metrics(y_true, y_pred, len(classes), scores, classes)
        return {**m, "y_true": y_true, "scores": scores, "split": "test"}
    preds_flat, refs_flat = [], []
    for r, pred in zip(results, preds):
        labels = pred.label_map().astype(np.int64)
        labels[labels == NO_PREDICTION] = 0  # untiled area counts as unannotated tissue
        ref = reference_mask(pred, r["annotations"], classes)
        r.update(segmentation_metrics(labels, ref, len(classes)))
        r.pop("per_label", None)
        preds_flat.append(labels.ravel())
        refs_flat.append(ref.ravel())
    p, t = np.concatenate(preds_flat), np.concatenate(refs_flat)
    m = segmentation_metrics(p, t, len(classes))
    m.pop("hausdorff95", None)  # of a concatenation of slides: meaningless
    pixel = classification_metrics(t, p, len(classes), class_names=classes)
    return {**m, "pixel": pixel, "split": "test"}


def predict_test_slides(
    cfg: dict[str, Any], onnx_path: Path, run_dir: Path, log: EventLog
) -> tuple[list[dict[str, Any]], list[SlidePrediction]]:
    """Predict every test slide with the ONNX model and write its maps and GeoJSON."""
    model = PatchModel(onnx_path)
    tiler = make_tiler(cfg)
    results, preds = [], []
    for slide in (s for s in cfg["slides"] if s["split"] == "test"):
        out = run_dir / "slides" / Path(slide["path"]).stem
        out.mkdir(parents=True, exist_ok=True)
        pred = predict_slide(
            slide["path"], model, tiler, batch_size=cfg["batch_size"], workers=cfg["workers"]
        )
        pred.write_label_map(out / "labels.tif")
        for name in pred.classes:
            pred.write_heatmap(out / f"heatmap_{name}.tif", name)
        exclude = cfg["classes"][:1] if cfg["task"] == SEGMENTATION else []
        pred.export_geojson(out / "regions.geojson", exclude=exclude)
        label = pred.aggregate(cfg["aggregate"])
        record = {
            "slide": slide["path"], "label": label.label, "scores": label.scores,
            "true": slide["label"], "annotations": slide["annotations"],
            "tiles": len(pred.tiles), "outputs": str(out),
        }  # fmt: skip
        log("slide", **{k: v for k, v in record.items() if k != "scores"})
        results.append(record)
        preds.append(pred)
    return results, preds


def _check_batch(ds: PatchDataset, n: int = 4) -> np.ndarray:
    items = [ds.read_sample(s) for s in ds.samples[:n]]
    return np.stack([p for p, _ in items]).transpose(0, 3, 1, 2).astype(np.float32) / 255.0


class _SlideEvents(Callback):
    """`eddl.fit` callback: a throttled ``batch`` event and the ``epoch`` event as training
    goes (the server's live charts), and `should_stop` polled after every batch."""

    main_only = True

    def __init__(self, log: EventLog, epochs: int, should_stop: Callable[[], bool] | None) -> None:
        self.log, self.epochs, self.should_stop = log, epochs, should_stop
        self._last = 0.0

    def on_batch_end(self, run: Any, batch: int) -> None:
        """Log the batch loss (at most every 0.2 s) and stop when asked."""
        import deephealth.eddl as eddl

        now = time.perf_counter()
        if now - self._last > 0.2 or batch + 1 == run.num_batches:
            self._last = now
            self.log(
                "batch", epoch=run.epoch + 1, batch=batch + 1, num_batches=run.num_batches,
                loss=float(sum(eddl.get_losses(run.net))),
            )  # fmt: skip
        if self.should_stop is not None and self.should_stop():
            raise _Stopped

    def on_epoch_end(self, run: Any, event: dict[str, Any]) -> None:
        """Log the epoch's record."""
        self.log("epoch", **_history_record(event, self.epochs))


class _Stopped(Exception):  # noqa: N818 (control flow, not an error)
    """Raised inside fit when `should_stop()` asks to stop."""


def train_slides(
    config: dict | str | Path,
    run_dir: str | Path,
    on_event: EventFn | None = None,
    resume: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Train a patch model from a slide pipeline config, put it in production and report.

    Tiles of the validation slides (if any) are evaluated after every epoch and the weights of
    the epoch with the lowest validation loss are the ones exported. Every epoch writes a
    checkpoint under ``run_dir/checkpoint``; ``resume=True`` continues an interrupted run from
    it (the finished epochs are not redone).

    Args:
        config: Config dict or YAML file path (see :mod:`deephealth.pipelines.pathology.config`).
        run_dir: Folder for the run's files (created).
        on_event: Called with every structured event (as ``deephealth.pipelines.run.train``).
        resume: Continue from the checkpoint in ``run_dir`` instead of starting afresh.
        should_stop: Polled after every batch; True ends the run there (its checkpoint stays,
            ``resume=True`` continues it) and returns ``{"status": "stopped", "run_dir"}``.

    Returns:
        {"status", "run_dir", "onnx", "onnx_check_passed", "report_json", "report_html",
        "metrics" (test slides), "slides" (one record per test slide), "kpis"}.

    Raises:
        ConfigError: invalid config (every problem listed with its key).
        PipelineError: a step failed (model, ONNX export).
        SlideError: a slide cannot be read (names the slide and the region).
    """
    import deephealth.eddl as eddl

    t0 = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    cfg = load_slide_config(config)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        for stale in ("events.jsonl", "checkpoint/checkpoint.pt", "best.pt"):
            (run_dir / stale).unlink(missing_ok=True)
    (run_dir / "config.json").write_text(json.dumps(cfg, indent=2))
    log = EventLog(run_dir, on_event, t0)
    log("status", status="pre-processing", resume=resume)
    eddl.set_seed(cfg["seed"])
    train_ds = make_dataset(cfg, "training")
    has_validation = any(s["split"] == "validation" for s in cfg["slides"])
    val_ds = make_dataset(cfg, "validation", shuffle=False) if has_validation else None
    keep_best = eddl.KeepBest(run_dir / "best.pt") if has_validation else None
    with train_ds, val_ds or contextlib.nullcontext():
        samples = train_ds.num_samples  # tissue detection and tiling of the training slides
        val_samples = val_ds.num_samples if val_ds is not None else 0
        pre_s = time.perf_counter() - t0
        for split, count in (("training", samples), ("validation", val_samples)):
            if count == 0 and (split == "training" or val_ds is not None):
                paths = [s["path"] for s in cfg["slides"] if s["split"] == split]
                raise PipelineError(
                    f"the tiler {make_tiler(cfg)!r} lists no {split} tile in {paths}: no tissue "
                    "above the tiler's min_tissue there (check the slides or lower min_tissue)"
                )
        log("status", status="training", tiles=samples, validation_tiles=val_samples,
            pre_processing_s=pre_s)  # fmt: skip
        t_train = time.perf_counter()  # building the model counts as training
        net = make_patch_model(cfg)
        events = _SlideEvents(log, cfg["epochs"], should_stop)
        try:
            history = eddl.fit(
                net, train_ds, epochs=cfg["epochs"], seed=cfg["seed"], verbose=0,
                validation_data=val_ds, callbacks=[*([keep_best] if keep_best else []), events],
                resume=str(run_dir / "checkpoint"),
            )  # fmt: skip
        except _Stopped:
            log("status", status="stopped")
            return {"status": "stopped", "run_dir": str(run_dir)}
        train_s = time.perf_counter() - t_train
        records = [_history_record(h, cfg["epochs"]) for h in history]
        check_x = _check_batch(train_ds)
    best_epoch = keep_best.best_epoch if keep_best and keep_best.best_epoch else len(history)
    log("status", status="exporting")
    onnx_path = run_dir / "model.onnx"
    check = export_model(net, cfg, onnx_path, check_x)
    production_s = time.perf_counter() - t0 if check["passed"] else None
    log("export", onnx=str(onnx_path), check=check)
    log("status", status="predicting test slides")
    results, preds = predict_test_slides(cfg, onnx_path, run_dir, log)
    metrics = score_slides(cfg, results, preds)
    task = "segmentation" if cfg["task"] == SEGMENTATION else "classification"
    times = {"pre_processing_s": pre_s, "train_s": train_s, "production_s": production_s}
    kpis = build_kpis(task, times, metrics)
    report = {
        "run": {
            "name": cfg["name"] or cfg["task"], "task": cfg["task"],
            "dataset": f"{len(cfg['slides'])} slides", "model": cfg["model"],
            "status": "completed", "started": started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "epochs_done": len(history),
            "best_epoch": best_epoch,
        },
        "kpis": kpis, "classes": cfg["classes"], "test_metrics": metrics, "slides": results,
        "history": records,
        "onnx": {"path": str(onnx_path), "check": check}, "times": times, "config": cfg,
        "machine": machine(),
        "samples": {"training_tiles": samples, "validation_tiles": val_samples},
    }  # fmt: skip
    result = {
        "status": "completed", "run_dir": str(run_dir), "onnx": str(onnx_path),
        "onnx_check_passed": check["passed"],
        "report_json": str(write_report(run_dir / "report.json", report)),
        "report_html": str(write_html(run_dir / "report.html", report)),
        "metrics": {k: v for k, v in metrics.items() if not isinstance(v, list | dict)},
        "slides": results, "kpis": kpis, "best_epoch": best_epoch,
    }  # fmt: skip
    (run_dir / "result.json").write_text(json.dumps(result, indent=2, default=str))
    log("done", status="completed", onnx=result["onnx"], kpis=kpis)
    return result


def _history_record(h: dict[str, Any], epochs: int) -> dict[str, Any]:
    """An epoch of ``eddl.fit``'s history as the run events and the report show it."""
    return {"epoch": h.get("epoch"), "epochs": epochs, "loss": h.get("loss"),
            "metrics": h.get("metrics", {}), "val_loss": h.get("val_loss"),
            "val_metrics": h.get("val_metrics", {}), "time_s": h.get("time_s")}  # fmt: skip
