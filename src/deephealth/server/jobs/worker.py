"""A worker process: claims jobs from the database queue and runs them, one at a time, each in
a child process of its own (`deephealth.server.jobs.child`).

Started by `deephealth serve` (`python -m deephealth.server.jobs.worker`), outside the web server,
with the server configuration in the `DEEPHEALTH_SERVER_CONFIG` environment variable (JSON).
SIGTERM/SIGINT are passed to the running job, which stops at its next check and goes back to the
queue (it resumes from its checkpoint), then the worker exits. Workers also recover jobs whose
process died (see `queue.recover_orphans`).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from deephealth.server import devices
from deephealth.server.config import ServerConfig
from deephealth.server.db.engine import make_engine, make_sessionmaker
from deephealth.server.jobs import queue
from deephealth.server.jobs.child import CONFIG_ENV

RECOVER_EVERY_S = 30.0


def run_in_child(server: ServerConfig, job_id: int, stopping: Callable[[], bool]) -> int:
    """Run a claimed job in a fresh child process; SIGTERM it once `stopping()` turns True."""
    env = {**os.environ, CONFIG_ENV: server.to_json()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "deephealth.server.jobs.child", str(job_id)], env=env
    )
    signalled = False
    while True:
        try:
            return proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if stopping() and not signalled:
                proc.send_signal(signal.SIGTERM)
                signalled = True


def serve_forever(server: ServerConfig, max_jobs: int | None = None) -> int:
    """Poll the queue and run jobs until a signal arrives (or `max_jobs` ran); returns 0."""
    engine = make_engine(server.database_url)
    sessions = make_sessionmaker(engine)
    stopping = False

    def _on_signal(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    name = queue.worker_name()
    gpus = devices.detected_gpus(server.gpus)
    ran, next_recover = 0, 0.0
    while not stopping and (max_jobs is None or ran < max_jobs):
        if time.monotonic() >= next_recover:
            next_recover = time.monotonic() + RECOVER_EVERY_S
            with sessions() as db:
                queue.recover_orphans(db, server.auto_resume)
        with sessions() as db:
            job = queue.claim_next(
                db, server.max_concurrent_jobs, name, gpus, server.trainings_per_gpu
            )
        if job is None:
            time.sleep(server.poll_interval_s)
            continue
        run_in_child(server, job.id, lambda: stopping)
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
