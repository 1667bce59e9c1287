"""The server side of a federation: strategy, per-round record, saved global model, report.

`run_server(config)` builds the pipeline's network from the config (input shape and classes from
the server's held-out dataset, `dataset` of the config), picks the strategy (`make_strategy`:
FedAvg weighted by samples, FedProx, FedAdam; wrapped in Flower's client-side-clipping DP wrapper
when `federated.dp` is set) and serves Flower's gRPC fleet API until `rounds` are done.
`Recorder` wraps the strategy and, per round: logs every message received from a site
(`messages.jsonl`: array shapes and dtypes, sample count, metric names and types — never values of
arrays), sums the bytes sent and received, evaluates the global model on the held-out set, saves
it (`global.pt`, the checkpoint module's weight file, and `federation.json`, so a restarted server
resumes after the last finished round) and rewrites the KPI report (`report.json`/`report.html`,
the pipelines' format with a table of rounds). The round with the best sample-weighted site
validation score is kept as `best.pt` (as `deephealth train` keeps its best epoch); at the end that
model is exported to ONNX, checked in onnxruntime and scored on the held-out test split.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.pipelines.federated import FederatedError, require_flwr
from deephealth.pipelines.federated.config import deployment_engine, load_federation
from deephealth.pipelines.federated.exchange import exchanged_keys, get_arrays, set_arrays, shapes
from deephealth.pipelines.federated.tls import read_tls, serve


def weighted_mean(pairs: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Sample-weighted mean of the numeric metrics the sites sent (Flower's aggregation fn)."""
    total = sum(n for n, _ in pairs) or 1
    keys = {k for _, m in pairs for k, v in m.items() if isinstance(v, int | float)}
    return {
        k: sum(n * float(m[k]) for n, m in pairs if isinstance(m.get(k), int | float)) / total
        for k in sorted(keys)
    }


def epsilon_spent(
    noise_multiplier: float, rounds: int, delta: float, sample_rate: float = 1.0
) -> float:
    """(ε at δ) of `rounds` DP-FedAvg rounds with Gaussian noise (Opacus' RDP accountant).

    Site-level DP: each round is one step of the subsampled Gaussian mechanism over sites
    (`sample_rate` = sites drawn per round / sites; 1.0, every site, is the conservative choice).
    """
    from opacus.accountants import RDPAccountant

    if noise_multiplier <= 0:
        return float("inf")
    acc = RDPAccountant()
    for _ in range(rounds):
        acc.step(noise_multiplier=noise_multiplier, sample_rate=sample_rate)
    return float(acc.get_epsilon(delta))


class ServerModel:
    """The server's copy of the network: held-out evaluation, saving, ONNX export."""

    def __init__(self, cfg: dict[str, Any], fed: dict[str, Any]) -> None:
        import deephealth.eddl as eddl
        from deephealth.pipelines.run import build_network, make_task

        self.cfg, self.fed = cfg, fed
        t = time.perf_counter()
        eddl.set_seed(cfg["seed"])
        self.task, _ = make_task(cfg, ("test",))
        self.net = build_network(cfg, self.task)
        self.keys = exchanged_keys(self.net, fed["batchnorm"])
        self.pre_s = time.perf_counter() - t

    def arrays(self) -> list[np.ndarray]:
        return get_arrays(self.net, self.keys)

    def evaluate(self, arrays: list[np.ndarray] | None = None) -> dict[str, Any]:
        """The task's metrics of the global model on the held-out test split (scalars only)."""
        from deephealth.pipelines.run import torch_forward

        if arrays is not None:
            set_arrays(self.net, self.keys, arrays)
        scores = self.task.evaluate("test", torch_forward(self.net), self.cfg["batch_size"])
        return {
            k: v
            for k, v in scores.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }

    def export(self, run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        """Export to ONNX, check in onnxruntime, score the ONNX model on the held-out test split.

        Returns:
            (onnx info {"path", "check"}, test metrics of the ONNX model).
        """
        import deephealth.eddl as eddl
        from deephealth.pipelines.run import _save_preprocessing, check_onnx, onnx_forward

        path = run_dir / "model.onnx"
        try:
            eddl.save_net_to_onnx_file(self.net, str(path))
        except Exception as err:
            raise FederatedError(f"ONNX export of the global model: {err}") from None
        _save_preprocessing(path, self.task)
        check = check_onnx(self.net, path, self.task.check_batch(), self.cfg["export"]["tolerance"])
        scores = self.task.evaluate("test", onnx_forward(path), self.cfg["batch_size"])
        return {"path": str(path), "check": check}, {**scores, "split": "test"}


def _nbytes(parameters: Any) -> int:
    return int(sum(len(t) for t in parameters.tensors))


def make_strategy(fed: dict[str, Any], initial: list[np.ndarray], round_offset: int = 0) -> Any:
    """The Flower strategy of the `federated` section (DP-wrapped when `dp` is set)."""
    flwr = require_flwr()
    from flwr.server import strategy as st

    def fit_config(server_round: int) -> dict[str, Any]:
        return {"round": round_offset + server_round, "local_epochs": fed["local_epochs"]}

    n = fed["min_sites"]
    common: dict[str, Any] = dict(
        fraction_fit=1.0, fraction_evaluate=1.0, min_fit_clients=n, min_evaluate_clients=n,
        min_available_clients=n, on_fit_config_fn=fit_config, accept_failures=True,
        initial_parameters=flwr.common.ndarrays_to_parameters(initial),
        fit_metrics_aggregation_fn=weighted_mean, evaluate_metrics_aggregation_fn=weighted_mean,
    )  # fmt: skip
    name = fed["strategy"]
    inner: Any
    if name == "fedprox":
        inner = st.FedProx(**common, proximal_mu=float(fed["proximal_mu"]))
    elif name == "fedadam":
        inner = st.FedAdam(**common, eta=float(fed["server_learning_rate"]), eta_l=1.0)
    else:
        inner = st.FedAvg(**common)
    dp = fed["dp"]
    if dp:
        inner = st.DifferentialPrivacyClientSideFixedClipping(
            inner, float(dp["noise_multiplier"]), float(dp["clipping_norm"]), n
        )
    return inner


class Recorder:
    """Wraps a Flower strategy: message log, bytes, times, saving and the report (module doc)."""

    def __init__(
        self, inner: Any, model: ServerModel, run_dir: Path, state: dict[str, Any]
    ) -> None:
        self.inner, self.model, self.run_dir, self.state = inner, model, run_dir, state
        self.offset = int(state["round"])
        self.current: dict[str, Any] = {}
        self.t0 = time.perf_counter()
        fed = model.fed if model is not None else {}
        self.secure = fed.get("secure_aggregation") is not None  # SecAgg+: sites' sum only
        self.traffic: Any = None  # the ServerApp's grid counts bytes itself (`.sent`, `.received`)

    # -- delegation -----------------------------------------------------------------------------
    def initialize_parameters(self, client_manager: Any) -> Any:
        return self.inner.initialize_parameters(client_manager)

    def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        fed = self.model.fed
        expected = int(fed["expected_sites"])
        if expected and not self.current.get("waited"):
            client_manager.wait_for(expected, timeout=int(fed["round_timeout_s"]))
        elif expected and fed["rejoin_wait_s"]:  # a restarted site rejoins before this round
            client_manager.wait_for(expected, timeout=int(fed["rejoin_wait_s"]))
        ins = self.inner.configure_fit(server_round, parameters, client_manager)
        self.current = {
            "round": self.offset + server_round, "t": time.perf_counter(), "waited": True,
            "sites_asked": len(ins), "bytes_sent": sum(_nbytes(fi.parameters) for _, fi in ins),
        }  # fmt: skip
        if self.traffic is not None:  # every message of the round, SecAgg+ stages included
            self.current["traffic0"] = (self.traffic.sent, self.traffic.received)
        self.state["in_progress"] = {
            "round": self.current["round"],
            "sites_asked": len(ins),
            "started": time.time(),
        }
        save_state(self.run_dir, self.state)
        return ins

    def aggregate_fit(self, server_round: int, results: list[Any], failures: list[Any]) -> Any:
        from flwr.common import parameters_to_ndarrays

        received = 0
        for _, res in results:
            # under SecAgg+ every result carries the unmasked sum, never the site's own arrays
            arrays = [] if self.secure else parameters_to_ndarrays(res.parameters)
            received += _nbytes(res.parameters)
            self._log("fit", server_round, arrays, res.num_examples, res.metrics)
        if self.traffic is not None:
            sent0, received0 = self.current.pop("traffic0", (0, 0))
            self.current["bytes_sent"] = self.traffic.sent - sent0
            received = self.traffic.received - received0
        params, metrics = self.inner.aggregate_fit(server_round, results, failures)
        if params is not None:  # FedAdam and the DP wrapper compute in float64: send float32
            from flwr.common import ndarrays_to_parameters

            params = ndarrays_to_parameters(
                [np.asarray(a, np.float32) for a in parameters_to_ndarrays(params)]
            )
        self.current.update(
            bytes_received=received, sites_done=len(results), sites_failed=len(failures),
            fit=metrics, sites={str(r.metrics.get("site")): r.num_examples for _, r in results},
            site_fit={str(r.metrics.get("site")): {k: v for k, v in r.metrics.items() if k != "site"}
                      for _, r in results},
        )  # fmt: skip
        return params, metrics

    def configure_evaluate(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
        return self.inner.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(self, server_round: int, results: list[Any], failures: list[Any]) -> Any:
        for _, res in results:
            self._log("evaluate", server_round, [], res.num_examples, res.metrics)
        out = self.inner.aggregate_evaluate(server_round, results, failures)
        if self.current.get("round") == self.offset + server_round:
            self.current["site_validation"] = out[1]
            self.current["per_site"] = {
                str(r.metrics.get("site")): {k: v for k, v in r.metrics.items() if k != "site"}
                for _, r in results
            }
            self._finish_round()
        return out

    def evaluate(self, server_round: int, parameters: Any) -> Any:
        from flwr.common import parameters_to_ndarrays

        scores = self.model.evaluate(parameters_to_ndarrays(parameters))
        if server_round == 0:  # the starting global model of this server session
            session = {"after_round": self.offset, "initial": scores}
            self.state.setdefault("sessions", []).append(session)
        if server_round > 0 and self.current.get("round") == self.offset + server_round:
            self.current["server_test"] = scores
        monitor = self.model.cfg["monitor"]
        value = float(scores.get(monitor, 0.0))
        return (value if monitor in ("mse", "mae") else 1.0 - value), scores

    # -- record ---------------------------------------------------------------------------------
    def _log(self, kind: str, server_round: int, arrays: list[np.ndarray], n: int,
             metrics: dict[str, Any]) -> None:  # fmt: skip
        entry = {
            "kind": kind, "round": self.offset + server_round, "num_examples": n,
            "shapes": [list(s) for s in shapes(arrays)], "dtypes": sorted({str(a.dtype) for a in arrays}),
            "metrics": {k: type(v).__name__ for k, v in metrics.items()},
            "site": str(metrics.get("site")),
        }  # fmt: skip
        if self.secure and kind == "fit":
            entry["secure_aggregation"] = True  # only the unmasked sum reached the server
        with (self.run_dir / "messages.jsonl").open("a") as fh:
            fh.write(json.dumps(entry) + "\n")

    def _finish_round(self) -> None:
        import deephealth.eddl as eddl

        rec = self.current
        rec["time_s"] = time.perf_counter() - rec.pop("t")
        rec.pop("waited", None)
        dp = self.model.fed["dp"]
        if dp:
            rec["epsilon"] = epsilon_spent(dp["noise_multiplier"], rec["round"], dp["delta"])
            rec["delta"] = dp["delta"]
        self.state["rounds"].append(rec)
        self.state["round"] = rec["round"]
        self.state.pop("in_progress", None)
        self.state["train_s"] = self.state.get("train_s", 0.0) + rec["time_s"]
        eddl.save(self.model.net, str(self.run_dir / "global.pt"), "pt")  # arrays set by evaluate
        # the best round by the sites' weighted validation metric (as `deephealth train` keeps
        # the best epoch by its validation split): the model exported at the end
        monitor = self.model.cfg["monitor"]
        value = (rec.get("site_validation") or {}).get(monitor)
        best = self.state.get("best")
        lower = monitor in ("mse", "mae")
        if value is not None and (
            best is None or (value < best["value"] if lower else value > best["value"])
        ):
            self.state["best"] = {"round": rec["round"], "value": value}
            eddl.save(self.model.net, str(self.run_dir / "best.pt"), "pt")
        save_state(self.run_dir, self.state)
        write_federation_report(self.run_dir, self.model, self.state)
        self.current = {"waited": True}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=float))
    tmp.replace(path)


def save_state(run_dir: Path, state: dict[str, Any]) -> None:
    """Write the federation's state (`federation.json`, what the web front-end shows, and what a
    restarted server resumes from): plan, status, finished rounds, the round in progress."""
    state["updated"] = time.time()
    _write_json(run_dir / "federation.json", state)


def _plan(cfg: dict[str, Any], fed: dict[str, Any], model: ServerModel) -> dict[str, Any]:
    """What the federation is: shown by the web front-end next to its progress."""
    return {
        "name": cfg["name"] or Path(fed["run_dir"]).name, "task": cfg["task"],
        "model": cfg["model"] or model.task.default_model(), "monitor": cfg["monitor"],
        "rounds": fed["rounds"], "local_epochs": fed["local_epochs"], "strategy": fed["strategy"],
        "batchnorm": fed["batchnorm"], "min_sites": fed["min_sites"],
        "expected_sites": fed["expected_sites"], "tls": bool(fed["tls"]),
        "authenticate_sites": bool(fed["authenticate_sites"] or fed["allowed_sites"]),
        "dp": bool(fed["dp"]), "secure_aggregation": fed["secure_aggregation"] is not None,
        "node_auth": len(fed["node_auth"]),
    }  # fmt: skip


def write_federation_report(run_dir: Path, model: ServerModel, state: dict[str, Any],
                            onnx: dict[str, Any] | None = None,
                            test: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """The pipelines' KPI report (JSON + HTML) of a federation so far: one history row per round."""
    from deephealth.pipelines.report import build_kpis, write_html, write_report
    from deephealth.pipelines.report.kpi import machine

    cfg, fed, rounds = model.cfg, model.fed, state["rounds"]
    monitor = cfg["monitor"]
    history = [
        {"epoch": r["round"], "loss": (r.get("fit") or {}).get("loss"),
         "metrics": {}, "val_metrics": {f"server {monitor}": (r.get("server_test") or {}).get(monitor),
                                        f"sites {monitor}": (r.get("site_validation") or {}).get(monitor)}}
        for r in rounds
    ]  # fmt: skip
    test = test or (rounds[-1].get("server_test") if rounds else {}) or {}
    times = {"pre_processing_s": model.pre_s, "train_s": state.get("train_s"),
             "production_s": state.get("production_s")}  # fmt: skip
    columns = ["round", "sites", "failed", "samples", "round time (s)", "bytes sent", "bytes received",
               f"server {monitor}", f"sites {monitor}", "ε"]  # fmt: skip
    rows = [
        [r["round"], r.get("sites_done"), r.get("sites_failed"), sum((r.get("sites") or {}).values()),
         r.get("time_s"), r.get("bytes_sent"), r.get("bytes_received"),
         (r.get("server_test") or {}).get(monitor), (r.get("site_validation") or {}).get(monitor),
         r.get("epsilon")]
        for r in rounds
    ]  # fmt: skip
    per_site = [
        [r["round"], site, (r.get("sites") or {}).get(site),
         ((r.get("site_fit") or {}).get(site) or {}).get("loss"),
         ((r.get("site_fit") or {}).get(site) or {}).get("train_s"), m.get(monitor)]
        for r in rounds for site, m in sorted((r.get("per_site") or {}).items())
    ]  # fmt: skip
    report = {
        "run": {"name": cfg["name"] or f"federation-{cfg['task']}", "task": cfg["task"],
                "dataset": cfg["dataset"], "model": cfg["model"] or model.task.default_model(),
                "status": state.get("status", "running"), "epochs_done": len(rounds),
                "best_epoch": (state.get("best") or {}).get("round"), "monitor": monitor},
        "kpis": build_kpis(cfg["task"], times, test), "classes": model.task.data.classes,
        "test_metrics": test, "history": history, "onnx": onnx or {}, "times": times,
        "config": cfg, "federated": fed, "machine": machine(), "rounds": rounds,
        "tables": {
            "Federation rounds": {"columns": columns, "rows": rows},
            "Sites per round": {"columns": ["round", "site", "training samples", "training loss",
                                            "train time (s)", f"validation {monitor}"],
                                                    "rows": per_site},
        },
    }  # fmt: skip
    write_report(run_dir / "report.json", report)
    return write_html(run_dir / "report.html", report)


def run_server(config: Any, resume: bool = False, address: str | None = None,
               expected_sites: int | None = None, rounds_runner: Any = None
               ) -> dict[str, Any]:  # fmt: skip
    """Run the server of a federation until its rounds are done; export and report.

    With `federated.secure_aggregation` the rounds run on Flower's deployment engine
    (`federated.deployment.run_superlink_server`: a SuperLink and this server as its ServerApp).

    Args:
        config: The federation config (path, YAML text or dict); `dataset` is the held-out set.
        resume: Continue after the last round saved in `federated.run_dir`.
        address: Override `federated.address`.
        expected_sites: Override `federated.expected_sites`.
        rounds_runner: `(strategy, ServerConfig, Recorder) -> None` that runs the rounds (the ServerApp
            passes Flower's workflow on its Grid); default: serve Flower's gRPC API here.

    Returns:
        {"run_dir", "rounds" (records), "onnx", "onnx_check_passed", "metrics" (held-out test of
        the ONNX model), "epsilon" (None without DP), "report_html", "sessions" (per server start:
        the round it resumed after and the held-out metrics of its starting model)}.

    Raises:
        ConfigError: an invalid config.
        FederatedError: nothing to resume, a failed export.
    """
    import deephealth.eddl as eddl

    flwr = require_flwr()
    cfg, fed = load_federation(config)
    if deployment_engine(fed) and rounds_runner is None:
        from deephealth.pipelines.federated.deployment import run_superlink_server

        return run_superlink_server(config, resume, address, expected_sites)
    if expected_sites is not None:
        fed["expected_sites"] = expected_sites
    run_dir = Path(fed["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    model = ServerModel(cfg, fed)
    state: dict[str, Any] = {"round": 0, "rounds": [], "train_s": 0.0, "status": "running"}
    if resume:
        saved = run_dir / "federation.json"
        if not (saved.is_file() and (run_dir / "global.pt").is_file()):
            raise FederatedError(f"resume: {run_dir} has no saved global model (global.pt)")
        state = json.loads(saved.read_text())
        eddl.load(model.net, str(run_dir / "global.pt"), "pt")
    else:
        for stale in ("messages.jsonl", "federation.json", "global.pt", "best.pt", "model.onnx"):
            (run_dir / stale).unlink(missing_ok=True)
    state.update(plan=_plan(cfg, fed, model), status="running", started=time.time())
    save_state(run_dir, state)
    left = fed["rounds"] - int(state["round"])
    if left > 0:
        inner = make_strategy(fed, model.arrays(), int(state["round"]))
        recorder = Recorder(inner, model, run_dir, state)
        strategy = _as_strategy(recorder)
        server_config = flwr.server.ServerConfig(
            num_rounds=left, round_timeout=float(fed["round_timeout_s"])
        )
        try:
            if rounds_runner is not None:
                rounds_runner(strategy, server_config, recorder)
            elif fed["authenticate_sites"] or fed["allowed_sites"]:
                serve(address or fed["address"], strategy, server_config, read_tls(fed["tls"]),
                      fed["allowed_sites"])  # fmt: skip
            else:
                flwr.server.start_server(
                    server_address=address or fed["address"], strategy=strategy,
                    config=server_config, certificates=read_tls(fed["tls"]) if fed["tls"] else None,
                )  # fmt: skip
        except BaseException:
            state["status"] = "failed"
            save_state(run_dir, state)
            raise
    state.pop("in_progress", None)
    for kept in ("best.pt", "global.pt"):  # export the best round, else the last one
        if (run_dir / kept).is_file():
            eddl.load(model.net, str(run_dir / kept), "pt")
            break
    t = time.perf_counter()
    onnx, test = model.export(run_dir)
    state["status"] = "completed" if int(state["round"]) >= fed["rounds"] else "stopped"
    state["production_s"] = (state.get("train_s") or 0.0) + model.pre_s + time.perf_counter() - t
    save_state(run_dir, state)
    html = write_federation_report(run_dir, model, state, onnx, test)
    rounds = state["rounds"]
    result = {
        "run_dir": str(run_dir), "rounds": rounds, "onnx": onnx["path"],
        "onnx_check_passed": bool(onnx["check"]["passed"]), "metrics": test,
        "epsilon": rounds[-1].get("epsilon") if rounds else None, "report_html": str(html),
        "sessions": state.get("sessions", []), "best_round": (state.get("best") or {}).get("round"),
    }  # fmt: skip
    _write_json(run_dir / "result.json", result)
    return result


def _as_strategy(recorder: Recorder) -> Any:
    """The recorder as a subclass instance of Flower's `Strategy` (start_server checks the type)."""
    from flwr.server.strategy import Strategy

    names = ("initialize_parameters", "configure_fit", "aggregate_fit", "configure_evaluate",
             "aggregate_evaluate", "evaluate")  # fmt: skip
    cls = type(
        "RecordedStrategy", (Strategy,), {n: staticmethod(getattr(recorder, n)) for n in names}
    )
    return cls()


__all__ = [
    "Recorder",
    "ServerModel",
    "epsilon_spent",
    "make_strategy",
    "run_server",
    "save_state",
    "weighted_mean",
]
