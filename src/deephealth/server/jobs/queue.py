"""The job queue, kept in the database: enqueue, claim under a concurrency limit, stop, resume
and recovery after a restart.

Claiming is one conditional UPDATE (`status='queued'` → `'running'` only while fewer than
`max_concurrent_jobs` jobs run), so several worker processes can poll the same table and each
job is taken by exactly one of them. A job found `running` whose process is gone (a dead process
on this host; for jobs of other hosts, no heartbeat for `STALE_AFTER_S`) is re-queued to resume from its last checkpoint, or
marked `interrupted` when the server is configured not to resume automatically.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from deephealth.server.db.models import Job, JobEvent, utcnow
from deephealth.server.jobs import TERMINAL

STALE_AFTER_S = 60.0
RESUMABLE = ("cancelled", "interrupted", "failed")


def worker_name(pid: int | None = None) -> str:
    """The identity a worker writes into the jobs it runs: `host:pid`."""
    return f"{socket.gethostname()}:{pid or os.getpid()}"


def add_status_event(db: Session, job: Job, status: str, message: str = "") -> None:
    """Record a status change of `job` as an event (caller commits)."""
    db.add(JobEvent(job_id=job.id, type="status", data={"status": status, "message": message}))


def claim_next(db: Session, limit: int, worker: str, gpus: int = 0, per_gpu: int = 1) -> Job | None:
    """Take the oldest queued job that can start if fewer than `limit` jobs run; None when
    there is none.

    A GPU training starts only while one of this worker's `gpus` GPUs runs fewer than `per_gpu`
    trainings (CPU jobs behind it pass it meanwhile); it is pinned to that GPU. On a worker
    without GPU it runs on the CPU (see `deephealth.server.devices`).
    """
    from deephealth.server import devices

    queued = db.scalars(select(Job).where(Job.status == "queued").order_by(Job.id).limit(50)).all()
    if not queued:
        return None
    running_cfgs = [
        dict(c or {}) for c in db.scalars(select(Job.config).where(Job.status == "running"))
    ]
    candidate, config, note, gpu = None, None, "", None
    for job in queued:
        if not devices.is_gpu_job(job.config or {}):
            candidate = job.id
            break
        if gpus <= 0:
            candidate, config = job.id, devices.fallback_to_cpu(job.config)
            note = " (no GPU on this worker: running on the CPU)"
            break
        gpu = devices.free_gpu(running_cfgs, gpus, per_gpu)
        if gpu is not None:
            candidate, config, note = job.id, devices.on_gpu(job.config, gpu), f" on GPU {gpu}"
            break
    if candidate is None:
        return None
    running = select(func.count(Job.id)).where(Job.status == "running").scalar_subquery()
    now = utcnow()
    values: dict = dict(
        status="running", worker=worker, started_at=now, heartbeat_at=now,
        attempts=Job.attempts + 1,
    )  # fmt: skip
    if config is not None:
        values["config"] = config
    result = db.execute(
        update(Job)
        .where(Job.id == candidate, Job.status == "queued", running < limit)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.rollback()
        return None
    db.commit()
    if gpu is not None and not _gpu_slot_held(db, candidate, gpu, per_gpu):
        return None
    job = db.get(Job, candidate)
    db.refresh(job)
    add_status_event(db, job, "running", f"started by worker {worker}{note}")
    db.commit()
    return job


def _gpu_slot_held(db: Session, job_id: int, gpu: int, per_gpu: int) -> bool:
    """After claiming `job_id` for GPU `gpu`: whether it is within the GPU's slots (two workers
    may claim the last slot at once; the later job goes back to the queue)."""
    from deephealth.server import devices

    rows = db.execute(select(Job.id, Job.config).where(Job.status == "running")).all()
    on_it = sorted(i for i, c in rows if devices.gpu_index(dict(c or {})) == gpu)
    if on_it.index(job_id) < per_gpu:
        return True
    db.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status="queued", worker="", started_at=None, attempts=Job.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return False


def queue_position(db: Session, job: Job) -> int | None:
    """1-based position of a queued job (1 = next to start); None when it is not queued."""
    if job.status != "queued":
        return None
    earlier = (Job.queued_at < job.queued_at) | (
        (Job.queued_at == job.queued_at) & (Job.id < job.id)
    )
    ahead = db.scalar(select(func.count(Job.id)).where(Job.status == "queued", earlier))
    return int(ahead or 0) + 1


def request_stop(db: Session, job: Job) -> Job:
    """Stop a job: a queued one is cancelled at once, a running one at its next check."""
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = utcnow()
        add_status_event(db, job, "cancelled", "cancelled before it started")
    elif job.status == "running":
        job.stop_requested = True
        add_status_event(db, job, "stopping", "stop requested")
    db.commit()
    return job


def requeue(db: Session, job: Job, resume: bool, message: str) -> Job:
    """Put a stopped, failed or interrupted job back at the end of the queue (resuming if asked)."""
    job.status = "queued"
    job.queued_at = utcnow()
    job.resume = resume
    job.stop_requested = False
    job.error = ""
    job.finished_at = None
    job.worker = ""
    add_status_event(db, job, "queued", message)
    db.commit()
    return job


def _pid_dead(worker: str) -> bool:
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover_orphans(db: Session, auto_resume: bool) -> list[int]:
    """Deal with jobs marked running whose worker is gone; returns their ids.

    Args:
        db: Database session.
        auto_resume: Re-queue them (trainings resume from their checkpoint); else mark them
            `interrupted` so a user can press resume.
    """
    stale_before = utcnow() - timedelta(seconds=STALE_AFTER_S)
    recovered = []
    for job in db.scalars(select(Job).where(Job.status == "running")).all():
        hb = job.heartbeat_at
        if hb is not None and hb.tzinfo is None:
            hb = hb.replace(tzinfo=stale_before.tzinfo)
        local = job.worker.rpartition(":")[0] == socket.gethostname()
        if not (_pid_dead(job.worker) if local else bool(hb and hb < stale_before)):
            continue
        if auto_resume:
            requeue(db, job, resume=job.kind == "training", message="worker lost; re-queued")
        else:
            job.status = "interrupted"
            job.finished_at = utcnow()
            add_status_event(db, job, "interrupted", "worker lost; press resume to continue")
            db.commit()
        recovered.append(job.id)
    return recovered


def finish(db: Session, job: Job, status: str, result: dict | None = None, error: str = "") -> None:
    """Mark a job done with a terminal `status`."""
    assert status in TERMINAL, status
    job.status = status
    job.finished_at = utcnow()
    if result is not None:
        job.result = result
    job.error = error
    add_status_event(db, job, status, error)
    db.commit()
