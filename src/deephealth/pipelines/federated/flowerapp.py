"""The federation as a Flower app (ServerApp + ClientApp) for Flower's deployment engine.

Secure aggregation (`federated.secure_aggregation`, Flower's SecAgg+) is a ServerApp workflow
(`flwr.server.workflow.SecAggPlusWorkflow`) and a ClientApp mod (`flwr.client.mod.secaggplus_mod`),
so it runs on the SuperLink/SuperNode engine rather than on `start_server`/`start_client`
(`federated.deployment` starts the processes). Both apps reuse the rest of the federation:

- `server_app`: `server.run_server` with a rounds runner that drives Flower's `DefaultWorkflow` (its
  fit step SecAgg+ when configured) on the ServerApp's Grid, the same `Recorder` strategy, report,
  saved model and ONNX export. `InspectingGrid` logs every reply a site sends (array shapes,
  config keys and value types, bytes; never values) to `messages.jsonl`.
- `client_app`: the site's `SiteTrainer` behind the same `NumPyClient` (`site.make_client`, every
  reply checked by `exchange.check_outbound`); the SuperNode's node config names the federation
  config, the site's dataset and its name. The SecAgg+ mod masks the update before it leaves.

`INSPECT_ENV` (tests and audits) names a folder where the server also saves the arrays it received
and each site its plaintext update, so a test can compare what left a site with what arrived.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

INSPECT_ENV = "DEEPHEALTH_FEDERATED_INSPECT"
"""Folder for the audit copies: server `received-<n>.npz`, site `<site>-round<r>.npz`."""


def _content(msg: Any) -> tuple[int, list[np.ndarray], dict[str, Any]]:
    """(bytes, arrays, {record.key: value type}) of a message's content (no values kept)."""
    return inspect_records(msg.content) if msg.has_content() else (0, [], {})


def inspect_records(content: Any) -> tuple[int, list[np.ndarray], dict[str, Any]]:
    """(bytes, arrays, {record.key: value type}) of a RecordDict: what a message carries.

    The arrays are those of its array records and those serialised as bytes in its config
    records (how SecAgg+ sends masked vectors); the types name arrays as `array[shape]:dtype`.
    """
    nbytes, arrays, kinds = 0, [], {}
    for name, rec in content.array_records.items():
        for key, arr in rec.items():
            a = arr.numpy()
            arrays.append(a)
            nbytes += a.nbytes
            kinds[f"{name}.{key}"] = f"array{list(a.shape)}:{a.dtype}"
    for name, rec in [*content.config_records.items(), *content.metric_records.items()]:
        for key, value in rec.items():
            items = value if isinstance(value, list) else [value]
            nbytes += sum(len(v) if isinstance(v, bytes | str) else 8 for v in items)
            kinds[f"{name}.{key}"] = type(value).__name__ + (
                f"[{len(value)}]" if isinstance(value, list) else ""
            )
            if isinstance(value, list) and value and all(isinstance(v, bytes) for v in value):
                arrays.extend(_decoded(value))
    return nbytes, arrays, kinds


def _decoded(blobs: list[bytes]) -> list[np.ndarray]:
    """Arrays serialised as bytes inside a config record (SecAgg+'s masked vectors)."""
    from flwr.common import bytes_to_ndarray

    out = []
    for b in blobs:
        try:
            out.append(bytes_to_ndarray(b))
        except Exception:  # keys and shares are not arrays
            continue
    return out


class InspectingGrid(Grid):  # type: ignore[misc]
    """The ServerApp's Grid, logging every reply it receives (and counting bytes both ways)."""

    def __init__(self, inner: Any, run_dir: Path) -> None:
        self.inner, self.run_dir = inner, run_dir
        self.sent = self.received = self.count = 0
        self.audit = os.environ.get(INSPECT_ENV)

    @property
    def run(self) -> Any:
        return self.inner.run

    def set_run(self, run: Any) -> None:
        self.inner.set_run(run)

    def create_message(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.create_message(*args, **kwargs)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.inner.get_node_ids())

    def push_messages(self, messages: Iterable[Any]) -> Iterable[str]:
        messages = list(messages)
        self.sent += sum(_content(m)[0] for m in messages)
        return list(self.inner.push_messages(messages))

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Any]:
        return self._record(list(self.inner.pull_messages(message_ids)))

    def send_and_receive(self, messages: Iterable[Any], *, timeout: float | None = None
                         ) -> Iterable[Any]:  # fmt: skip
        messages = list(messages)
        self.sent += sum(_content(m)[0] for m in messages)
        return self._record(list(self.inner.send_and_receive(messages, timeout=timeout)))

    def _record(self, replies: list[Any]) -> list[Any]:
        with (self.run_dir / "messages.jsonl").open("a") as fh:
            for msg in replies:
                nbytes, arrays, kinds = _content(msg)
                self.received += nbytes
                entry = {
                    "kind": "reply", "type": str(msg.metadata.message_type),
                    "node": msg.metadata.src_node_id, "bytes": nbytes, "records": kinds,
                    "error": msg.has_error(),
                }  # fmt: skip
                fh.write(json.dumps(entry) + "\n")
                if self.audit and arrays:
                    self.count += 1
                    path = Path(self.audit) / f"received-{self.count:04d}.npz"
                    np.savez(path, *arrays)
        return replies


server_app = ServerApp()


@server_app.main()  # type: ignore[misc]
def _server_main(grid: Any, context: Any) -> None:
    """The ServerApp: `run_server` with Flower's workflow (SecAgg+ when configured) as its rounds."""
    from flwr.server import LegacyContext
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    from deephealth.pipelines.federated.config import load_federation
    from deephealth.pipelines.federated.server import run_server

    rc = context.run_config
    config = str(rc["config"])
    _, fed = load_federation(config)

    def rounds(strategy: Any, server_config: Any, recorder: Any) -> None:
        inspected = InspectingGrid(grid, Path(fed["run_dir"]))
        recorder.traffic = inspected
        secure = fed["secure_aggregation"]
        fit = None
        if secure is not None:
            fit = SecAggPlusWorkflow(**secure, timeout=float(fed["round_timeout_s"]))
        legacy = LegacyContext(context=context, config=server_config, strategy=strategy)
        DefaultWorkflow(fit_workflow=fit)(inspected, legacy)

    expected = int(rc.get("expected-sites", -1))
    run_server(config, bool(rc.get("resume", False)), None, expected if expected >= 0 else None,
               rounds_runner=rounds)  # fmt: skip


_TRAINERS: dict[tuple[str, str], Any] = {}


def _client_fn(context: Any) -> Any:
    """The site's NumPyClient, built from the SuperNode's node config (config, dataset, name)."""
    from deephealth.pipelines.federated.config import load_federation
    from deephealth.pipelines.federated.site import SiteTrainer, make_client

    nc = context.node_config
    config, dataset = str(nc["config"]), str(nc["dataset"])
    name = str(nc.get("name") or Path(dataset).resolve().parent.name)
    key = (config, dataset)
    if key not in _TRAINERS:  # one per process: Flower starts a ClientApp process per message
        _TRAINERS[key] = SiteTrainer(*load_federation(config, dataset))
    return make_client(_TRAINERS[key], name, audit=os.environ.get(INSPECT_ENV)).to_client()


def _secure_aggregation(msg: Any, context: Any, call_next: Any) -> Any:
    """Flower's SecAgg+ mod when the run asks for secure aggregation, else pass through."""
    if context.run_config.get("secure-aggregation"):
        return secaggplus_mod(msg, context, call_next)
    return call_next(msg, context)


client_app = ClientApp(client_fn=_client_fn, mods=[_secure_aggregation])

__all__ = ["INSPECT_ENV", "InspectingGrid", "client_app", "inspect_records", "server_app"]
