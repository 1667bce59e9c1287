"""A real `deephealth serve` process (uvicorn + worker processes) for the restart, browser and
CLI tests: started in its own process group so the server and all its workers can be killed at
once, with cheap password hashing and a single CPU thread per training."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`deephealth serve` on 127.0.0.1 with its data in `data_dir`."""

    def __init__(
        self, data_dir: Path, workers: int = 1, secure_cookies: bool = False,
        extra: list[str] | None = None,
    ) -> None:  # fmt: skip
        self.data_dir, self.workers, self.extra = data_dir, workers, list(extra or [])
        if not secure_cookies:
            self.extra.append("--insecure-cookies")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> ServerProcess:
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "DEEPHEALTH_ARGON2_TIME_COST": "1",
            "DEEPHEALTH_ARGON2_MEMORY_KIB": "1024",
            "DEEPHEALTH_POLL_INTERVAL_S": "0.2",
        }
        log = open(self.data_dir.parent / f"serve-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deephealth.cli", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir), "--workers", str(self.workers),
             "--job-threads", "1", *self.extra],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"deephealth serve exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/docs", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("deephealth serve did not come up")

    def kill(self) -> None:
        """SIGKILL the server, its workers and their jobs (the whole process group)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then kill whatever is left."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def api_client(server: ServerProcess, email: str) -> httpx.Client:
    """An httpx client signed up as `email`, with its CSRF header set."""
    client = httpx.Client(base_url=server.url, timeout=30)
    r = client.post("/api/auth/signup", json={"email": email, "password": "correct horse battery"})
    r.raise_for_status()
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client
