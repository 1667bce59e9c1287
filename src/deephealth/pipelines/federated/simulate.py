"""A whole federation on one machine: one server process and one process per site, over loopback.

`simulate(config, sites)` starts `deephealth federated server` and one `deephealth federated client`
per site dataset as separate operating-system processes talking Flower's gRPC on 127.0.0.1 (a free
port unless the config names one), waits for the server to finish and returns its result. Each
process's output goes to `run_dir/logs/`. `crash={site index: round}` makes a site kill itself in
that round (fault drills: the round must complete with the others); with `restart_crashed` a site
process that died is started again (once) and rejoins the federation at a later round.
`identities` gives each site its TLS certificate and key (site authentication). With
`federated.secure_aggregation` the server is a Flower SuperLink and each site a `flower-supernode`
process (`federated.deployment`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deephealth.pipelines.federated import FederatedError
from deephealth.pipelines.federated.config import deployment_engine, load_federation
from deephealth.pipelines.federated.deployment import flower_env, supernode_command, wait_port
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
             address: str | None = None, restart_crashed: bool = False,
             identities: Sequence[tuple[str | Path, str | Path]] | None = None,
             node_keys: Sequence[str | Path] | None = None) -> dict[str, Any]:  # fmt: skip
    """Run the federation of `config` with one process per site dataset; return the server's result.

    `node_keys` gives each site its Flower node-authentication private key (deployment engine).
    The result has `site_exit_codes` (the last process of each site) and `site_restarts` (site
    indices whose process was restarted).

    Raises:
        FederatedError: the server failed or timed out (its log's tail in the message).
    """
    _, fed = load_federation(config)
    deployment = deployment_engine(fed)  # SuperLink + SuperNodes (flowerapp)
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
        server = subprocess.Popen(  # its own process group: it holds the SuperLink under SecAgg+
            _command(*server_args), stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=deployment,
        )  # fmt: skip

    def start_site(i: int, first: bool) -> subprocess.Popen[bytes]:
        site_env = dict(env)
        if first and crash and i in crash:
            site_env[CRASH_ENV] = str(crash[i])
        name = f"site{i}-{Path(sites[i]).stem}"
        args = ["client", str(config), "--dataset", str(sites[i]), "--name", name,
                "--address", address]  # fmt: skip
        if identities:
            args += ["--certificate", str(identities[i][0]), "--key", str(identities[i][1])]
        command = _command(*args)
        if deployment:  # Flower's SuperNode, a free port for its ClientApp runtime API each
            node_key = node_keys[i] if node_keys else None
            command = supernode_command(config, sites[i], name, address, free_port(), node_key)
            site_env = flower_env(run_dir / "flwr-sites" / name) | {
                k: v for k, v in site_env.items() if k == CRASH_ENV
            }
        with (logs / f"{name}.log").open("wb" if first else "ab") as out:
            return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=site_env)

    restarted: list[int] = []
    try:
        # Sites start once the server listens: Flower's gRPC client does not retry a refused
        # connection (a site started before a resuming server listened exited at once), and
        # SuperNodes back off for up to ~20 s between tries.
        try:
            wait_port(address, 300, server)
        except FederatedError:
            if server.poll() is None:
                raise  # nothing listens after 300 s
        if server.poll() is None:  # (a server that exited is reported below, with its log)
            procs.extend(start_site(i, True) for i in range(len(sites)))
        deadline = time.monotonic() + timeout_s
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            for i, p in enumerate(procs):
                if restart_crashed and p.poll() not in (None, 0) and i not in restarted:
                    restarted.append(i)
                    procs[i] = start_site(i, False)
        if server.poll() is None:
            raise FederatedError(f"federation timed out after {timeout_s:.0f} s; see {logs}")
        if deployment:  # a SuperNode serves runs until it is stopped
            for p in procs:
                if p.poll() is None:
                    p.terminate()
        if server.returncode != 0:
            tail = server_log.read_text(errors="replace")[-2000:]
            raise FederatedError(f"federation server failed (exit {server.returncode}):\n{tail}")
    finally:
        if deployment and server.poll() is None:  # the server and its SuperLink
            os.killpg(server.pid, signal.SIGTERM)
        for p in [server, *procs]:
            if p.poll() is None:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
    result: dict[str, Any] = json.loads((run_dir / "result.json").read_text())
    result["site_exit_codes"] = [p.returncode for p in procs]
    result["site_restarts"] = restarted
    return result


__all__ = ["free_port", "simulate"]
