"""A worker process: claims jobs from the database queue and runs them, one at a time.

Started by `deephealth serve` (`python -m deephealth.server.jobs.worker`), outside the web server,
with the server configuration in the `DEEPHEALTH_SERVER_CONFIG` environment variable (JSON).
SIGTERM/SIGINT ask the running job to stop at its next check and hand it back to the queue (it
resumes from its checkpoint) before the process exits. Workers also recover jobs whose worker
died (see `queue.recover_orphans`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

from deephealth.server.config import ServerConfig
from deephealth.server.db.engine import make_engine, make_sessionmaker
from deephealth.server.jobs import queue
from deephealth.server.jobs.runner import run_job

CONFIG_ENV = "DEEPHEALTH_SERVER_CONFIG"
RECOVER_EVERY_S = 30.0


def serve_forever(server: ServerConfig, max_jobs: int | None = None) -> int:
    """Poll the queue and run jobs until a signal arrives (or `max_jobs` ran); returns 0."""
    engine = make_engine(server.database_url)
    sessions = make_sessionmaker(engine)
    stopping = False

    def _on_signal(signum, _frame) -> None:  # noqa: ANN001
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    name = queue.worker_name()
    ran, next_recover = 0, 0.0
    while not stopping and (max_jobs is None or ran < max_jobs):
        if time.monotonic() >= next_recover:
            next_recover = time.monotonic() + RECOVER_EVERY_S
            with sessions() as db:
                queue.recover_orphans(db, server.auto_resume)
        with sessions() as db:
            job = queue.claim_next(db, server.max_concurrent_jobs, name)
        if job is None:
            time.sleep(server.poll_interval_s)
            continue
        run_job(sessions, server, job.id, lambda: stopping)
        ran += 1
    engine.dispose()
    return 0


def main() -> int:
    """Entry point of `python -m deephealth.server.jobs.worker`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(process)d: %(message)s")
    raw = os.environ.get(CONFIG_ENV)
    server = ServerConfig.from_json(raw) if raw else ServerConfig.from_env()
    return serve_forever(server)


if __name__ == "__main__":
    sys.exit(main())
