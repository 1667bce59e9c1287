"""Run one job in its own process: `python -m deephealth.server.jobs.child JOB_ID`.

The worker starts one child per job, so every job gets a fresh interpreter (no state left over
from an earlier job, memory returned when it ends, a crash takes only the job down). The child
takes over the job's `worker` field with its own pid, asks Linux to end it if the worker dies, and
turns SIGTERM into a stop-and-hand-back (the job is re-queued to resume from its checkpoint).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading

from deephealth.server.config import ServerConfig
from deephealth.server.db.engine import make_engine, make_sessionmaker
from deephealth.server.db.models import Job, utcnow
from deephealth.server.jobs import queue
from deephealth.server.jobs.runner import run_job

CONFIG_ENV = "DEEPHEALTH_SERVER_CONFIG"
PR_SET_PDEATHSIG = 1
HEARTBEAT_S = 10.0


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _heartbeat(sessions, job_id: int, done: threading.Event) -> None:
    """Refresh the job's heartbeat every `HEARTBEAT_S` while it runs (even between events)."""
    while not done.wait(HEARTBEAT_S):
        with sessions() as db:
            job = db.get(Job, job_id)
            if job is None or job.status != "running":
                return
            job.heartbeat_at = utcnow()
            db.commit()


def main(argv: list[str] | None = None) -> int:
    """Run the job given on the command line; exit code 0 unless the job failed."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s job %(process)d: %(message)s")
    raw = os.environ.get(CONFIG_ENV)
    server = ServerConfig.from_json(raw) if raw else ServerConfig.from_env()
    job_id = int(argv[0])
    _die_with_parent()
    stopping = False

    def _on_signal(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    engine = make_engine(server.database_url)
    sessions = make_sessionmaker(engine)
    with sessions() as db:
        job = db.get(Job, job_id)
        if job is None or job.status != "running":
            return 2
        job.worker = queue.worker_name()
        db.commit()
    beat = threading.Event()
    threading.Thread(target=_heartbeat, args=(sessions, job_id, beat), daemon=True).start()
    status = run_job(sessions, server, job_id, lambda: stopping)
    beat.set()
    engine.dispose()
    return 1 if status == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
