"""Run one claimed job inside a worker process: training through the launcher, inference on a
dataset split through `deephealth.serving`; then record the outcome.

The job's log goes to `run_dir/job.log`; its events go to the database (`EventRecorder`). A stop
requested from the web page (the job's `stop_requested` flag) or a worker shutdown makes
`should_stop` return True; the training then ends at its next check and the job becomes
`cancelled` (user stop) or is re-queued / marked `interrupted` (shutdown), with its record, events
and logs kept.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from deephealth.server.config import ServerConfig
from deephealth.server.db.models import Dataset, Inference, Job, ModelWeights, Training
from deephealth.server.jobs import queue
from deephealth.server.jobs.events import EventRecorder
from deephealth.server.jobs.launcher import launch_training

log = logging.getLogger("deephealth.server.jobs")


class StopCheck:
    """`should_stop` callback: True once the job's stop flag is set or the worker shuts down.

    The database is read at most every `interval_s` seconds.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        job_id: int,
        shutting_down: Callable[[], bool],
        interval_s: float = 0.5,
    ) -> None:
        self.sessions, self.job_id, self.shutting_down = sessions, job_id, shutting_down
        self.interval_s, self._next, self.user_stop = interval_s, 0.0, False

    def __call__(self) -> bool:
        """Whether the job should stop now."""
        if self.shutting_down():
            return True
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.interval_s
            with self.sessions() as db:
                job = db.get(Job, self.job_id)
                self.user_stop = bool(job is None or job.stop_requested)
        return self.user_stop


def _find_onnx(result: dict) -> str | None:
    for key in ("onnx", "best_onnx", "onnx_path", "model"):
        value = result.get(key)
        if isinstance(value, str | Path) and str(value).endswith(".onnx"):
            return str(value)
    for value in result.values():
        if isinstance(value, str | Path) and str(value).endswith(".onnx"):
            return str(value)
    return None


def _register_weights(db: Session, job: Job, result: dict) -> int | None:
    onnx = _find_onnx(result)
    training = db.query(Training).filter_by(job_id=job.id).one_or_none()
    if onnx is None or training is None or not Path(onnx).is_file():
        return None
    dataset = db.get(Dataset, training.dataset_id)
    weights = ModelWeights(
        project_id=job.project_id,
        family_id=training.family_id,
        name=f"training {job.id} best",
        path=onnx,
        origin="training",
        pretrained_on=dataset.name if dataset else "",
        parent_id=training.base_weights_id,
        training_job_id=job.id,
        info={"metrics": result.get("metrics", {})},
    )
    db.add(weights)
    db.flush()
    return weights.id


def _jsonable_result(result: dict) -> dict:
    from deephealth.server.jobs.events import _jsonable

    return _jsonable({k: str(v) if isinstance(v, Path) else v for k, v in result.items()})


def run_job(
    sessions: sessionmaker[Session],
    server: ServerConfig,
    job_id: int,
    shutting_down: Callable[[], bool],
) -> str:
    """Run a claimed job to its end; returns its final status (or "queued" when re-queued)."""
    with sessions() as db:
        job = db.get(Job, job_id)
        run_dir = Path(job.run_dir or server.path("runs", job.id))
        run_dir.mkdir(parents=True, exist_ok=True)
        kind, config, resume = job.kind, dict(job.config), job.resume
    handler = logging.FileHandler(run_dir / "job.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    recorder = EventRecorder(sessions, job_id)
    stop = StopCheck(sessions, job_id, shutting_down, server.poll_interval_s)
    try:
        log.info("job %s (%s) starts%s", job_id, kind, " (resume)" if resume else "")
        if kind == "training":
            result = launch_training(server, config, run_dir, recorder, stop, resume)
        else:
            from deephealth.server.jobs.inference import run_split_inference

            result = run_split_inference(sessions, job_id, run_dir, recorder, stop)
        result = _jsonable_result(dict(result or {}))
        error = ""
    except Exception as err:
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        result, error = None, f"{type(err).__name__}: {err}"
    finally:
        root.removeHandler(handler)
        handler.close()
    with sessions() as db:
        job = db.get(Job, job_id)
        if error:
            queue.finish(db, job, "failed", error=error)
        elif stop.user_stop or job.stop_requested:
            queue.finish(db, job, "cancelled", result=result, error="stopped by user")
        elif shutting_down():
            if server.auto_resume:
                queue.requeue(db, job, resume=kind == "training", message="worker shut down")
            else:
                queue.finish(db, job, "interrupted", result=result, error="worker shut down")
        else:
            if kind == "training":
                weights_id = _register_weights(db, job, result or {})
                result = {**(result or {}), "weights_id": weights_id}
            queue.finish(db, job, "finished", result=result)
        return job.status


def describe(db: Session, job: Job) -> dict:
    """Job-kind specific details for the API (training or inference row)."""
    if job.kind == "training":
        t = db.query(Training).filter_by(job_id=job.id).one_or_none()
        if t is None:
            return {}
        return {
            "dataset_id": t.dataset_id,
            "family_id": t.family_id,
            "base_weights_id": t.base_weights_id,
            "hyperparameters": t.hyperparameters,
            "augmentations": t.augmentations,
        }
    i = db.query(Inference).filter_by(job_id=job.id).one_or_none()
    if i is None:
        return {}
    return {"weights_id": i.weights_id, "dataset_id": i.dataset_id, "split": i.split}
