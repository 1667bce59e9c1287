"""Start and watch the worker processes of `deephealth serve`.

`WorkerPool.start()` first recovers jobs left `running` by a previous server on this host (they
are re-queued to resume from their checkpoint, or marked interrupted), then starts `workers`
processes; `check()` restarts any that died; `stop()` sends SIGTERM, waits, and kills stragglers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from deephealth.server.config import ServerConfig
from deephealth.server.db.engine import make_engine, make_sessionmaker
from deephealth.server.jobs import queue
from deephealth.server.jobs.child import CONFIG_ENV


class WorkerPool:
    """The worker processes of one server."""

    def __init__(self, server: ServerConfig) -> None:
        self.server = server
        self.procs: list[subprocess.Popen] = []

    def _spawn(self) -> subprocess.Popen:
        env = {**os.environ, CONFIG_ENV: self.server.to_json()}
        log = open(self.server.path("worker.log"), "ab")
        return subprocess.Popen(
            [sys.executable, "-m", "deephealth.server.jobs.worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def recover(self) -> list[int]:
        """Recover jobs orphaned by a previous run of the server on this host."""
        engine = make_engine(self.server.database_url)
        try:
            with make_sessionmaker(engine)() as db:
                return queue.recover_orphans(db, self.server.auto_resume)
        finally:
            engine.dispose()

    def start(self) -> None:
        """Recover orphans, then start the workers."""
        self.recover()
        self.procs = [self._spawn() for _ in range(self.server.workers)]

    def check(self) -> None:
        """Restart workers that exited."""
        for i, proc in enumerate(self.procs):
            if proc.poll() is not None:
                self.procs[i] = self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask workers to stop (their jobs go back to the queue), kill them after `timeout`."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []
