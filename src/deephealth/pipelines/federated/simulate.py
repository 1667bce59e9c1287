"""A whole federation on one machine: one server process and one process per site, over loopback.

`simulate(config, sites)` starts `deephealth federated server` and one `deephealth federated client`
per site dataset as separate operating-system processes talking Flower's gRPC on 127.0.0.1 (a free
port unless the config names one), waits for the server to finish and returns its result. Each
process's output goes to `run_dir/logs/`. `crash={site index: round}` makes a site kill itself in
that round (fault drills: the round must complete with the others).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deephealth.pipelines.federated import FederatedError
from deephealth.pipelines.federated.config import load_federation
from deephealth.pipelines.federated.site import CRASH_ENV


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "deephealth.cli", "federated", *args]


def simulate(config: str | Path, sites: Sequence[str | Path], resume: bool = False,
             crash: Mapping[int, int] | None = None, timeout_s: float = 900.0,
             address: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Run the federation of `config` with one process per site dataset; return the server's result.

    Raises:
        FederatedError: the server failed or timed out (its log's tail in the message).
    """
    _, fed = load_federation(config)
    run_dir = Path(fed["run_dir"])
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    address = address or f"127.0.0.1:{free_port()}"
    env = dict(os.environ)
    procs: list[subprocess.Popen[bytes]] = []
    server_log = logs / "server.log"
    with server_log.open("wb") as out:
        server_args = [
            "server",
            str(config),
            "--address",
            address,
            "--expected-sites",
            str(len(sites)),
        ]
        server_args += ["--resume"] if resume else []
        server = subprocess.Popen(
            _command(*server_args), stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        for i, site in enumerate(sites):
            site_env = dict(env)
            if crash and i in crash:
                site_env[CRASH_ENV] = str(crash[i])
            name = f"site{i}-{Path(site).stem}"
            with (logs / f"{name}.log").open("wb") as out:
                args = [
                    "client",
                    str(config),
                    "--dataset",
                    str(site),
                    "--name",
                    name,
                    "--address",
                    address,
                ]
                procs.append(
                    subprocess.Popen(
                        _command(*args), stdout=out, stderr=subprocess.STDOUT, env=site_env
                    )
                )
        deadline = time.monotonic() + timeout_s
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if server.poll() is None:
            raise FederatedError(f"federation timed out after {timeout_s:.0f} s; see {logs}")
        if server.returncode != 0:
            tail = server_log.read_text(errors="replace")[-2000:]
            raise FederatedError(f"federation server failed (exit {server.returncode}):\n{tail}")
    finally:
        for p in [server, *procs]:
            if p.poll() is None:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    result: dict[str, Any] = json.loads((run_dir / "result.json").read_text())
    result["site_exit_codes"] = [p.returncode for p in procs]
    return result


__all__ = ["free_port", "simulate"]
