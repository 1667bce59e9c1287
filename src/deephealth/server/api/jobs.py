"""Trainings and inferences as jobs: create (queued), list, read (with queue position), stop,
resume, events (polling), the live event stream (server-sent events), logs, result files and
the KPI report.

A training's pipelines config is built here from the chosen dataset, model family or starting
weights, hyper-parameters and augmentations, validated by `deephealth.pipelines.config`, and
stored with the job, so the job record says exactly what ran.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
import time
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from deephealth.server.api import serialize
from deephealth.server.api.datasets import validate_augmentation
from deephealth.server.api.models import (
    admin_definitions,
    check_hyperparameters,
    hyperparameters,
)
from deephealth.server.api.slides import SlideSettings, build_slide_config
from deephealth.server.config import ServerConfig
from deephealth.server.db.models import (
    Augmentation,
    Dataset,
    Inference,
    Job,
    ModelFamily,
    ModelWeights,
    Training,
)
from deephealth.server.deps import Principal, audit, get_config, get_db, require_user
from deephealth.server.jobs import TERMINAL, queue
from deephealth.server.jobs.events import event_dict, events_after
from deephealth.server.jobs.runner import describe
from deephealth.server.permissions import get_in_project, get_project
from deephealth.server.redact import Redactor

router = APIRouter(tags=["jobs"])
STREAM_MAX_S = 6 * 3600


class TrainingIn(BaseModel):
    """A training to start."""

    dataset_id: int
    family_id: int | None = None
    base_weights_id: int | None = None
    hyperparameters: dict = Field(default_factory=dict)
    augmentations: dict[str, str] | None = None
    device: Literal["auto", "cpu", "gpu"] = "auto"
    mixed_precision: Literal["none", "bf16", "fp16"] = "none"
    slide: SlideSettings | None = None
    """Tissue detection and tiling (whole-slide projects only; defaults when omitted)."""
    fusion: Literal["image", "tabular", "early", "late", "gated"] | None = None
    ablation: bool = False


class InferenceIn(BaseModel):
    """An inference over one split of a dataset."""

    weights_id: int
    dataset_id: int
    split: str = Field(default="test", max_length=64)


def _job_out(db: Session, job: Job) -> dict:
    return serialize.job(job, queue.queue_position(db, job), describe(db, job))


def build_training_config(
    task: str,
    dataset: Dataset,
    family: ModelFamily | None,
    base: ModelWeights | None,
    hp: dict,
    augmentations: dict[str, str],
    threads: int,
    computing_service: dict | None = None,
    clinical: dict | None = None,
) -> dict:
    """The pipelines config of a training (validated; 422 lists every problem); on the CPU
    with `threads` unless a `computing_service` is given. `clinical` (`fusion`, `ablation`)
    applies to the clinical tasks only (a 422 for another task)."""
    from deephealth.pipelines.config import CLINICAL_TASKS, ConfigError, validate_config

    config = {
        "version": 1,
        "task": task,
        "dataset": dataset.yaml_path,
        "model": base.path if base is not None else family.name,  # type: ignore[union-attr]
        "epochs": hp["epochs"],
        "batch_size": hp["batch_size"],
        "optimizer": {"name": hp["optimizer"], "lr": hp["lr"]},
        "normalize": hp["normalize"],
        "seed": hp["seed"],
        "augmentations": augmentations,
        "computing_service": computing_service or {"type": "cpu", "threads": threads},
    }
    if clinical and (clinical.get("fusion") or clinical.get("ablation")):
        if task not in CLINICAL_TASKS:
            raise HTTPException(
                422, f"fusion and ablation are for the clinical tasks, not {task} projects"
            )
        if clinical.get("fusion"):
            config["model_params"] = {"fusion": clinical["fusion"]}
        config["ablation"] = bool(clinical.get("ablation"))
    try:
        if task == "signal_classification":  # windows, sampling and events keep their defaults
            from deephealth.pipelines.signals.config import load_signal_config

            del config["normalize"]  # per-window z-score is the signal pipeline's own
            config["sampling"] = {"windows_per_epoch": hp.get("windows_per_epoch", 2000)}
            config["window"] = {"length": hp.get("window_length", 2.0)}
            return load_signal_config(config)
        return validate_config(config, "training")
    except ConfigError as err:
        raise HTTPException(422, str(err)) from None


@router.post("/api/projects/{project_id}/trainings", status_code=201)
def create_training(
    project_id: int,
    body: TrainingIn,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict:
    """Queue a training (owners)."""
    project = get_project(db, principal.id, project_id, "owner")
    dataset = get_in_project(db, principal.id, Dataset, body.dataset_id)
    if dataset.project_id != project_id:
        raise HTTPException(404, "dataset not found")
    base = None
    if body.base_weights_id is not None:
        base = get_in_project(db, principal.id, ModelWeights, body.base_weights_id)
        if base.project_id != project_id:
            raise HTTPException(404, "weights not found")
    family_id = body.family_id if body.family_id is not None else (base.family_id if base else None)
    family = db.get(ModelFamily, family_id) if family_id is not None else None
    if family is None:
        raise HTTPException(422, "choose a model family (or starting weights of a known family)")
    from deephealth.server.tasks import family_fits, is_slide_task, model_kind

    if base is None and not family_fits(family.name, project.task):
        raise HTTPException(
            422,
            f"model family {family.name!r} cannot be trained for a {project.task} project "
            f"(it needs a {model_kind(project.task)} network)",
        )
    if (dataset.stats.get("kind") == "recordings") != (project.task == "signal_classification"):
        raise HTTPException(
            422,
            f"a {project.task} project trains on "
            + ("recordings" if project.task == "signal_classification" else "images")
            + f"; dataset {dataset.name!r} holds "
            + ("recordings" if dataset.stats.get("kind") == "recordings" else "images"),
        )
    defs = hyperparameters(family.id, dataset.id, principal, db)
    hp = check_hyperparameters(defs, body.hyperparameters)
    admin_defs = admin_definitions(db, family.id)
    check_hyperparameters(
        admin_defs, {k: v for k, v in hp.items() if k in {d["name"] for d in admin_defs}}
    )
    if body.augmentations is None:
        rows = db.scalars(select(Augmentation).where(Augmentation.dataset_id == dataset.id))
        augs = {a.split: a.text for a in rows}
    else:
        augs = {k: validate_augmentation(v) for k, v in body.augmentations.items() if v.strip()}
    from deephealth.server import devices

    cs, device_note = devices.computing_service(
        body.device, body.mixed_precision, config.job_threads, devices.detected_gpus(config.gpus)
    )
    if is_slide_task(project.task):
        if base is not None:
            raise HTTPException(422, "slide trainings start from a model family, not weights")
        settings = body.slide or SlideSettings()
        cfg = build_slide_config(project.task, dataset, family.name, hp, settings, cs)
    else:
        cfg = build_training_config(
            project.task, dataset, family, base, hp, augs, config.job_threads, cs,
            {"fusion": body.fusion, "ablation": body.ablation},
        )  # fmt: skip
    job = Job(project_id=project_id, kind="training", config=cfg, created_by=principal.id)
    db.add(job)
    db.flush()
    job.run_dir = str(config.path("runs", job.id))
    db.add(
        Training(
            job_id=job.id,
            dataset_id=dataset.id,
            family_id=family.id,
            base_weights_id=base.id if base else None,
            hyperparameters=hp,
            augmentations=augs,
        )
    )
    queue.add_status_event(db, job, "queued", f"training queued ({device_note})")
    audit(
        db, request, principal, "training.create", "job", job.id, project_id, dataset_id=dataset.id
    )
    db.commit()
    return _job_out(db, job)


@router.post("/api/projects/{project_id}/inferences", status_code=201)
def create_inference(
    project_id: int,
    body: InferenceIn,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
    config: ServerConfig = Depends(get_config),
) -> dict:
    """Queue an inference over a dataset split (owners)."""
    project = get_project(db, principal.id, project_id, "owner")
    weights = get_in_project(db, principal.id, ModelWeights, body.weights_id)
    dataset = get_in_project(db, principal.id, Dataset, body.dataset_id)
    if weights.project_id != project_id or dataset.project_id != project_id:
        raise HTTPException(404, "weights or dataset not found")
    if body.split not in dataset.stats.get("splits", {}):
        raise HTTPException(422, f"dataset has no split {body.split!r}")
    if (dataset.stats.get("kind") == "recordings") != (project.task == "signal_classification"):
        raise HTTPException(
            422, f"a {project.task} project runs its models on "
            + ("recordings" if project.task == "signal_classification" else "images")
            + f"; dataset {dataset.name!r} holds something else",
        )  # fmt: skip
    cfg = {
        "task": project.task,
        "weights": weights.path,
        "dataset": dataset.yaml_path,
        "split": body.split,
    }
    job = Job(project_id=project_id, kind="inference", config=cfg, created_by=principal.id)
    db.add(job)
    db.flush()
    job.run_dir = str(config.path("runs", job.id))
    db.add(Inference(job_id=job.id, weights_id=weights.id, dataset_id=dataset.id, split=body.split))
    queue.add_status_event(db, job, "queued", "inference queued")
    audit(
        db,
        request,
        principal,
        "inference.create",
        "job",
        job.id,
        project_id,
        dataset_id=dataset.id,
        weights_id=weights.id,
    )
    db.commit()
    return _job_out(db, job)


@router.get("/api/projects/{project_id}/jobs")
def list_jobs(
    project_id: int,
    kind: str | None = None,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> list:
    """The project's jobs, newest first."""
    get_project(db, principal.id, project_id)
    stmt = select(Job).where(Job.project_id == project_id)
    if kind:
        stmt = stmt.where(Job.kind == kind)
    return [_job_out(db, j) for j in db.scalars(stmt.order_by(Job.id.desc()).limit(500))]


@router.get("/api/jobs/{job_id}")
def read_job(
    job_id: int, principal: Principal = Depends(require_user), db: Session = Depends(get_db)
) -> dict:
    """A job, with its queue position while queued."""
    return _job_out(db, get_in_project(db, principal.id, Job, job_id))


@router.post("/api/jobs/{job_id}/stop")
def stop_job(
    job_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Stop a job (owners): it becomes cancelled; its record, events and logs stay."""
    job = get_in_project(db, principal.id, Job, job_id, "owner")
    if job.status in TERMINAL:
        raise HTTPException(409, f"job is already {job.status}")
    audit(db, request, principal, "job.stop", "job", job.id, job.project_id)
    queue.request_stop(db, job)
    return _job_out(db, job)


@router.post("/api/jobs/{job_id}/resume")
def resume_job(
    job_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Queue a cancelled, interrupted or failed job again (trainings continue from their last
    checkpoint)."""
    job = get_in_project(db, principal.id, Job, job_id, "owner")
    if job.status not in queue.RESUMABLE:
        raise HTTPException(409, f"a {job.status} job cannot be resumed")
    audit(db, request, principal, "job.resume", "job", job.id, job.project_id)
    queue.requeue(db, job, resume=job.kind == "training", message="resumed by user")
    return _job_out(db, job)


@router.get("/api/jobs/{job_id}/events")
def job_events(
    job_id: int,
    after: int = 0,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> dict:
    """Events after id `after` (the polling fallback of the stream) and the job's status."""
    job = get_in_project(db, principal.id, Job, job_id)
    red = Redactor.for_run(job.run_dir)
    events = [red.json(event_dict(e)) for e in events_after(db, job.id, after)]
    return {"status": job.status, "queue_position": queue.queue_position(db, job), "events": events}


@router.get("/api/jobs/{job_id}/stream")
async def job_stream(
    job_id: int,
    request: Request,
    after: int = 0,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> StreamingResponse:
    """Server-sent events: every stored event as it arrives, then `end` when the job is done."""
    get_in_project(db, principal.id, Job, job_id)
    db.close()  # hand the connection back: the stream polls with short sessions of its own
    last_header = request.headers.get("last-event-id", "")
    last = int(last_header) if last_header.isdigit() else max(0, after)
    sessions = request.app.state.sessionmaker
    interval = request.app.state.config.poll_interval_s

    def _poll(since: int) -> tuple[list[dict], str, int | None]:
        with sessions() as s:
            job = s.get(Job, job_id)
            red = Redactor.for_run(job.run_dir)
            events = [red.json(event_dict(e)) for e in events_after(s, job_id, since, 200)]
            return events, job.status, queue.queue_position(s, job)

    async def gen():
        nonlocal last
        deadline = time.monotonic() + STREAM_MAX_S
        yield "retry: 2000\n\n"
        while time.monotonic() < deadline:
            events, status, position = await asyncio.to_thread(_poll, last)
            for ev in events:
                last = ev["id"]
                yield f"id: {ev['id']}\nevent: {ev['type']}\ndata: {json.dumps(ev)}\n\n"
            state = {"status": status, "queue_position": position}
            yield f"event: state\ndata: {json.dumps(state)}\n\n"
            if status in TERMINAL and not events:
                yield f"event: end\ndata: {json.dumps(state)}\n\n"
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(interval)

    return StreamingResponse(
        gen(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/api/jobs/{job_id}/log")
def job_log(
    job_id: int,
    tail: int = 200_000,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> PlainTextResponse:
    """The job's log (the last `tail` bytes)."""
    job = get_in_project(db, principal.id, Job, job_id)
    path = Path(job.run_dir) / "job.log"
    if not path.is_file():
        return PlainTextResponse("")
    with path.open("rb") as f:
        size = path.stat().st_size
        f.seek(max(0, size - max(1, min(tail, 5_000_000))))
        return PlainTextResponse(f.read().decode("utf-8", "replace"))


def _result_file(job: Job, *keys: str, suffix: str) -> Path:
    for key in keys:
        value = (job.result or {}).get(key)
        if isinstance(value, str) and value.endswith(suffix):
            return Path(value)
    for value in (job.result or {}).values():
        if isinstance(value, str) and value.endswith(suffix) and "report" in value.lower():
            return Path(value)
    raise HTTPException(404, "this job has no report yet")


@router.get("/api/jobs/{job_id}/report")
def job_report(
    job_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> FileResponse:
    """The KPI report (HTML) of a finished training or inference."""
    job = get_in_project(db, principal.id, Job, job_id)
    path = _result_file(job, "report_html", "html", "report", suffix=".html")
    return _serve_in_run(job, path, request, principal, db)


@router.get("/api/jobs/{job_id}/report.json")
def job_report_json(
    job_id: int,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> FileResponse:
    """The KPI report (JSON)."""
    job = get_in_project(db, principal.id, Job, job_id)
    path = _result_file(job, "report_json", "json", "report", suffix=".json")
    return _serve_in_run(job, path, request, principal, db)


@router.get("/api/jobs/{job_id}/files/{name:path}")
def job_file(
    job_id: int,
    name: str,
    request: Request,
    principal: Principal = Depends(require_user),
    db: Session = Depends(get_db),
) -> FileResponse:
    """A file of the job's run folder (report images, predictions); nothing outside it."""
    job = get_in_project(db, principal.id, Job, job_id)
    if "\x00" in name or len(name) > 1024:
        raise HTTPException(404, "file not found")
    return _serve_in_run(job, Path(job.run_dir) / name, request, principal, db)


def _serve_in_run(
    job: Job, path: Path, request: Request, principal: Principal, db: Session
) -> FileResponse:
    run_dir = Path(job.run_dir).resolve()
    try:
        resolved = path.resolve()
        found = run_dir in resolved.parents and resolved.is_file()
    except (OSError, ValueError):  # NUL bytes, names too long, loops
        found = False
    if not found:
        raise HTTPException(404, "file not found")
    audit(
        db,
        request,
        principal,
        "job.file",
        "job",
        job.id,
        job.project_id,
        file=str(resolved.relative_to(run_dir)),
    )
    db.commit()
    media = mimetypes.guess_type(resolved.name)[0] or "application/octet-stream"
    return FileResponse(
        resolved, media_type=media, headers={"Content-Security-Policy": "sandbox allow-scripts"}
    )
