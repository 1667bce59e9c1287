"""Flower's deployment engine for a federation: a SuperLink, one SuperNode per site, one run.

Used when `federated.secure_aggregation` is set (SecAgg+ is a ServerApp workflow, see
`federated.flowerapp`). Every part is Flower's own process:

- server: `flower-superlink` listening at `federated.address` (TLS with `federated.tls`, else
  `--insecure`; runtime dependency installation off: the apps are this installed package). The
  federation is submitted as a run of the Flower app written to `run_dir/flower-app` (a
  `pyproject.toml` naming `deephealth.pipelines.federated.flowerapp`'s ServerApp and ClientApp)
  with `flwr run`; the SuperLink starts the ServerApp in a subprocess, which writes the same
  `result.json`, report and ONNX as the gRPC server.
- site: `flower-supernode` connected to the SuperLink, with the federation config, the site's
  dataset and name as node config. The SuperNode starts a ClientApp process per message.

`FLWR_HOME` (Flower's app store and CLI config) is a folder of the server's `run_dir` / the
site's own `flwr-home` next to its dataset unless set.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from deephealth.pipelines.federated import FederatedError, require_flwr
from deephealth.pipelines.federated.config import load_federation

APP_TOML = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "deephealth-federation"
version = "1.0.0"
description = "A DeepHealth federation (the apps are in the installed deephealth package)"
license = "MIT"
dependencies = []

[tool.flwr.app]
publisher = "deephealth"

[tool.flwr.app.components]
serverapp = "deephealth.pipelines.federated.flowerapp:server_app"
clientapp = "deephealth.pipelines.federated.flowerapp:client_app"

[tool.flwr.app.config]
config = ""
resume = false
expected-sites = -1
secure-aggregation = false
"""


DEPLOYMENT_FLWR = (1, 42)


def require_deployment_flwr() -> None:
    """Raise `FederatedError` unless the installed Flower has the 1.42 deployment API (the HTTP
    SuperLink and `flwr.serverapp` that secure aggregation and node authentication use)."""
    flwr = require_flwr()
    version = getattr(flwr, "__version__", "0")
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < DEPLOYMENT_FLWR:
        raise FederatedError(
            f"federated.secure_aggregation / node_auth need Flower >= 1.42 (installed: {version}); "
            "run: pip install --no-deps 'flwr==1.42.*' (see the Makefile's install step)"
        )


def flower_env(home: Path) -> dict[str, str]:
    """The environment of Flower's processes: its console scripts on PATH, `FLWR_HOME`."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("FLWR_HOME", str(home))
    Path(env["FLWR_HOME"]).mkdir(parents=True, exist_ok=True)
    return env


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _host_port(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise FederatedError(f"federated.address: expected host:port, got {address!r}")
    return host.strip("[]"), port


def superlink_command(fed: dict[str, Any], address: str) -> list[str]:
    """`flower-superlink` serving the Fleet, Control and ServerApp APIs at `address`."""
    host, port = _host_port(address)
    cmd = [_tool("flower-superlink"), "--host", host, "--port", port,
           "--disable-runtime-dependency-installation"]  # fmt: skip
    tls = fed["tls"]
    if tls:
        cmd += ["--ssl-ca-certfile", tls["ca"], "--ssl-certfile", tls["certificate"],
                "--ssl-keyfile", tls["key"]]  # fmt: skip
    else:
        cmd.append("--insecure")
    if fed["node_auth"]:  # only SuperNodes whose public key is registered may join
        cmd.append("--enable-supernode-auth")
    return cmd


def supernode_command(config: str | Path, dataset: str | Path, name: str, address: str,
                      runtime_port: int = 9094, node_key: str | Path | None = None
                      ) -> list[str]:  # fmt: skip
    """`flower-supernode` of a site: node config = federation config, site dataset, site name.

    `node_key` (default `federated.node_key`): the site's node-authentication private key.
    """
    _, fed = load_federation(config, dataset)
    for value in (config, dataset, name):
        if any(c in str(value) for c in " \"'"):
            raise FederatedError(f"a site's node config cannot hold spaces or quotes: {value!r}")
    node = f'config="{Path(config).resolve()}" dataset="{Path(dataset).resolve()}" name="{name}"'
    cmd = [_tool("flower-supernode"), "--superlink", address, "--node-config", node,
           "--port", str(runtime_port)]  # fmt: skip
    tls = fed["tls"]
    cmd += ["--root-certificates", tls["ca"]] if tls else ["--insecure"]
    key = node_key or fed["node_key"]
    if key:
        cmd += ["--auth-supernode-private-key", str(key)]
    return cmd


def register_nodes(fed: dict[str, Any], env: dict[str, str]) -> list[str]:
    """Register each public key of `federated.node_auth` with the running SuperLink.

    Returns:
        The names registered (the key files' names without `.node.pub`).

    Raises:
        FederatedError: `flwr supernode register` refused a key.
    """
    names = []
    for pub in fed["node_auth"]:
        name = Path(pub).name.removesuffix(".pub").removesuffix(".node")
        out = subprocess.run(
            [_tool("flwr"), "supernode", "register", pub, "local", "--name", name],
            env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            raise FederatedError(f"federated.node_auth: registering {pub} failed: {out.stdout}")
        names.append(name)
    return names


def wait_port(address: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something listens at `address` (or `proc` died)."""
    host, port = _host_port(address)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise FederatedError(
                f"the federation server exited ({proc.returncode}) before listening at {address}"
            )
        try:
            with socket.create_connection((host if host != "0.0.0.0" else "127.0.0.1",
                                           int(port)), timeout=1):  # fmt: skip
                return
        except OSError:
            time.sleep(0.5)
    raise FederatedError(f"nothing listens at {address} after {timeout_s:.0f} s")


def write_connection(env: dict[str, str], fed: dict[str, Any], address: str) -> None:
    """The `flwr` CLI's connection `local` to the SuperLink (`FLWR_HOME/config.toml`)."""
    host, port = _host_port(address)
    link = f"{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    tls = fed["tls"]
    conn = f'address = "{link}"\n' + (
        f'root-certificates = "{tls["ca"]}"\n' if tls else "insecure = true\n"
    )
    (Path(env["FLWR_HOME"]) / "config.toml").write_text(
        f'[superlink]\ndefault = "local"\n\n[superlink.local]\n{conn}'
    )


def submit_run(run_dir: Path, config: str | Path, fed: dict[str, Any], address: str,
               env: dict[str, str], resume: bool, expected_sites: int | None) -> str:  # fmt: skip
    """Write the Flower app and submit it to the SuperLink with `flwr run`; return the run id."""
    app = run_dir / "flower-app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "pyproject.toml").write_text(APP_TOML)
    write_connection(env, fed, address)
    overrides = (
        f'config="{Path(config).resolve()}" resume={str(resume).lower()} '
        f"expected-sites={-1 if expected_sites is None else expected_sites} "
        f"secure-aggregation={str(fed['secure_aggregation'] is not None).lower()}"
    )
    out = subprocess.run(
        [_tool("flwr"), "run", str(app), "local", "--run-config", overrides, "--format", "json"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    try:
        answer = json.loads(out.stdout[out.stdout.find("{") :])
    except ValueError:
        answer = {}
    if out.returncode != 0 or not answer.get("success", True) or "run-id" not in answer:
        raise FederatedError(
            f"flwr run failed ({out.returncode}): {out.stdout}{out.stderr}"[-2000:]
        )
    return str(answer["run-id"])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_superlink_server(config: Any, resume: bool = False, address: str | None = None,
                         expected_sites: int | None = None) -> dict[str, Any]:  # fmt: skip
    """The server of a federation on Flower's deployment engine; the result of `run_server`.

    Starts `flower-superlink`, submits the federation as a run, waits for the ServerApp's
    `result.json` and stops the SuperLink.

    Raises:
        FederatedError: the SuperLink or the run failed or timed out (log tails in the message).
    """
    require_deployment_flwr()
    if not isinstance(config, str | Path):
        raise FederatedError("the deployment engine needs the federation config as a file path")
    _, fed = load_federation(config)
    run_dir = Path(fed["run_dir"])
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    address = address or fed["address"]
    env = flower_env(run_dir / "flwr-home")
    result_path = run_dir / "result.json"
    result_path.unlink(missing_ok=True)
    with (logs / "superlink.log").open("wb") as out:
        link = subprocess.Popen(superlink_command(fed, address), stdout=out,
                                stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        wait_port(address, 180, link)
        write_connection(env, fed, address)
        register_nodes(fed, env)
        run_id = submit_run(run_dir, config, fed, address, env, resume, expected_sites)
        (logs / "run_id").write_text(run_id)
        timeout = float(fed["round_timeout_s"]) * (fed["rounds"] + 1) + 300
        deadline = time.monotonic() + timeout
        while not result_path.is_file():
            state = run_dir / "federation.json"
            failed = state.is_file() and '"status": "failed"' in state.read_text()
            if failed or link.poll() is not None or time.monotonic() > deadline:
                tail = (logs / "superlink.log").read_text(errors="replace")[-2000:]
                why = "failed" if failed else "timed out" if link.poll() is None else "exited"
                raise FederatedError(f"federation run {run_id} {why}; SuperLink log:\n{tail}")
            time.sleep(0.5)
    finally:
        _stop(link)
    result: dict[str, Any] = json.loads(result_path.read_text())
    return result


def run_supernode(config: Any, dataset: str | Path, name: str | None = None,
                  address: str | None = None, runtime_port: int = 9094) -> None:  # fmt: skip
    """A site on Flower's deployment engine: `flower-supernode` until it is stopped.

    Raises:
        FederatedError: the SuperNode exited with an error.
    """
    require_deployment_flwr()
    if not isinstance(config, str | Path):
        raise FederatedError("the deployment engine needs the federation config as a file path")
    _, fed = load_federation(config, dataset)
    site = name or Path(dataset).resolve().parent.name
    env = flower_env(Path(dataset).resolve().parent / "flwr-home")
    cmd = supernode_command(config, dataset, site, address or fed["address"], runtime_port)
    code = subprocess.call(cmd, env=env)
    if code != 0:
        raise FederatedError(f"site {site}: flower-supernode exited with {code}")


__all__ = [
    "flower_env",
    "register_nodes",
    "run_superlink_server",
    "run_supernode",
    "submit_run",
    "superlink_command",
    "supernode_command",
    "wait_port",
    "write_connection",
]
