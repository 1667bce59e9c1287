"""Progress events: stored by the worker as they happen, read back by the API, SSE and pages.

The training loop emits structured dicts (`{"type": "epoch"|"batch"|"status", "epoch", "batch",
"loss", "metrics", "time"}`); `EventRecorder` writes them to `job_events` (batch events at most
every `batch_interval_s`, so a fast loop does not flood the database) and refreshes the job's
heartbeat. `event_dict` is the JSON shape the API returns.
"""

from __future__ import annotations

import math
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from deephealth.server.db.models import Job, JobEvent, utcnow

KNOWN_KEYS = ("type", "epoch", "batch", "loss", "metrics", "time")


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | bool | int) or value is None:
        return value
    number = _number(value)
    return number if number is not None else str(value)


class EventRecorder:
    """The `on_event` callback of one job: stores events and keeps the heartbeat fresh."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int, batch_interval_s: float = 0.1):
        self.sessions, self.job_id, self.batch_interval_s = sessions, job_id, batch_interval_s
        self._last_batch = 0.0

    def __call__(self, event: dict) -> None:
        """Store one event (batch events are thinned out)."""
        kind = str(event.get("type", "status"))
        now = time.monotonic()
        if kind == "batch":
            if now - self._last_batch < self.batch_interval_s:
                return
            self._last_batch = now
        metrics = event.get("metrics") or {}
        row = JobEvent(
            job_id=self.job_id,
            type=kind,
            epoch=event.get("epoch") if isinstance(event.get("epoch"), int) else None,
            batch=event.get("batch") if isinstance(event.get("batch"), int) else None,
            loss=_number(event.get("loss")),
            metrics=_jsonable(metrics if isinstance(metrics, dict) else {}),
            time=_number(event.get("time")),
            data=_jsonable({k: v for k, v in event.items() if k not in KNOWN_KEYS}),
        )
        with self.sessions() as db:
            db.add(row)
            job = db.get(Job, self.job_id)
            if job is not None:
                job.heartbeat_at = utcnow()
            db.commit()


def event_dict(ev: JobEvent) -> dict:
    """The API/SSE form of an event."""
    return {
        "id": ev.id,
        "type": ev.type,
        "epoch": ev.epoch,
        "batch": ev.batch,
        "loss": ev.loss,
        "metrics": ev.metrics or {},
        "time": ev.time,
        "data": ev.data or {},
        "created_at": ev.created_at.isoformat() if ev.created_at else None,
    }


def events_after(db: Session, job_id: int, after: int, limit: int = 1000) -> list[JobEvent]:
    """Events of a job with id greater than `after`, oldest first."""
    return list(
        db.scalars(
            select(JobEvent)
            .where(JobEvent.job_id == job_id, JobEvent.id > after)
            .order_by(JobEvent.id)
            .limit(limit)
        )
    )
