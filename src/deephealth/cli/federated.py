"""`deephealth federated`: train one model across hospitals on Flower; the images stay at each site."""

from __future__ import annotations

import argparse
import json
import sys

CONFIG_HELP = (
    "federation config: a pipeline config (as for 'deephealth train') plus a 'federated:' section "
    "(rounds, local_epochs, strategy, batchnorm, min_sites, address, tls, dp, secure_aggregation); "
    "see docs/federated.md"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `federated server|client|simulate|certs`."""
    p = subparsers.add_parser(
        "federated",
        help="federated training across sites (Flower): only model updates leave a site",
        description="Train one pipeline model across several sites without moving their data. "
        "Start 'server' once, then 'client' at every site with its own dataset; or run the whole "
        "federation on this machine with 'simulate'. Needs the 'federated' extra "
        "(pip install 'deephealth[federated]').",
    )
    sub = p.add_subparsers(title="federated commands", metavar="COMMAND")
    s = sub.add_parser(
        "server", help="run the federation's server (aggregation, global model, report)",
        description="Serve Flower's gRPC API at federated.address (with "
        "federated.secure_aggregation: a Flower SuperLink running the federation with SecAgg+), "
        "aggregate the sites' updates "
        "every round with the configured strategy (fedavg, fedprox, fedadam), evaluate the global "
        "model on the config's dataset (held-out test split), save it every round, then export it "
        "to ONNX and write report.html in federated.run_dir.",
    )  # fmt: skip
    s.add_argument("config", help=CONFIG_HELP)
    s.add_argument("--resume", action="store_true", help="continue after the last saved round")
    s.add_argument("--address", help="override federated.address (host:port to listen on)")
    s.add_argument("--expected-sites", type=int, help="override federated.expected_sites")
    s.set_defaults(func=_server)
    c = sub.add_parser(
        "client", help="join a federation as a site, training on the site's own dataset",
        description="Connect to the server at federated.address (TLS when federated.tls is set; "
        "with federated.secure_aggregation a Flower SuperNode that serves until stopped), "
        "and each round train local_epochs of the config's pipeline on DATASET, sending back only "
        "the model's weights, the number of training samples and scalar metrics.",
    )  # fmt: skip
    c.add_argument("config", help=CONFIG_HELP)
    c.add_argument("--dataset", required=True, help="this site's DeepHealth dataset YAML")
    c.add_argument("--name", help="this site's name in the server's report (default: folder name)")
    c.add_argument("--address", help="override federated.address (server host:port)")
    c.add_argument("--certificate", help="this site's certificate (PEM from 'certs --site'); "
                   "override federated.tls.certificate")  # fmt: skip
    c.add_argument("--key", help="this site's certificate key; override federated.tls.key")
    c.set_defaults(func=_client)
    m = sub.add_parser(
        "simulate", help="run server and sites as separate processes on this machine (loopback)",
        description="Start the server and one client process per site dataset on 127.0.0.1, wait "
        "for the federation to finish and print its result (held-out metrics, ONNX, report).",
    )  # fmt: skip
    m.add_argument("config", help=CONFIG_HELP)
    m.add_argument("--sites", nargs="+", required=True, help="one dataset YAML per site")
    m.add_argument("--resume", action="store_true", help="resume the server's last saved round")
    m.set_defaults(func=_simulate)
    t = sub.add_parser(
        "certs", help="generate a CA and a server TLS certificate for a federation",
        description="Write ca.crt, ca.key (keep it with the coordinator), server.pem and "
        "server.key into FOLDER (name them in the server's federated.tls) and, per --site, "
        "SITE.pem and SITE.key (that site's federated.tls certificate and key, with ca.crt). Run "
        "again with new --site names to add sites to an existing CA.",
    )  # fmt: skip
    t.add_argument("folder", help="output folder")
    t.add_argument("--host", action="append", help="server DNS name or IP (repeatable)")
    t.add_argument("--site", action="append", default=[],
                   help="a site name: issue it a client certificate (repeatable)")  # fmt: skip
    t.add_argument("--node-keys", action="store_true",
                   help="also write SITE.node.key/.node.pub per --site: Flower node-authentication "
                   "keys (federated.node_key at the site, node_auth at the server)")  # fmt: skip
    t.set_defaults(func=_certs)

    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def _run(what: str, fn: object, *args: object, **kwargs: object) -> int:
    from deephealth.errors import DeepHealthError

    try:
        result = fn(*args, **kwargs)  # type: ignore[operator]
    except (DeepHealthError, OSError) as err:
        print(f"deephealth federated {what}: {err}", file=sys.stderr)
        return 2 if isinstance(err, ValueError | OSError) else 1
    if result is not None:
        print(json.dumps(result, indent=2, default=str))
    return 0


def _brief(result: dict[str, object], keys: tuple[str, ...]) -> dict[str, object]:
    """The result's `keys`, with only the scalar metrics (no per-sample lists)."""
    out = {k: result.get(k) for k in keys}
    metrics = result.get("metrics")
    if isinstance(metrics, dict):
        out["metrics"] = {k: v for k, v in metrics.items() if isinstance(v, int | float | str)}
    return out


KEYS = ("run_dir", "onnx", "onnx_check_passed", "metrics", "epsilon", "best_round", "report_html")


def _server(args: argparse.Namespace) -> int:
    from deephealth.pipelines.federated.server import run_server

    def summary() -> dict[str, object]:
        return _brief(run_server(args.config, args.resume, args.address, args.expected_sites), KEYS)

    return _run("server", summary)


def _client(args: argparse.Namespace) -> int:
    from deephealth.pipelines.federated.site import run_client

    return _run(
        "client", run_client, args.config, args.dataset, args.name, args.address,
        args.certificate, args.key,
    )  # fmt: skip


def _simulate(args: argparse.Namespace) -> int:
    from deephealth.pipelines.federated.simulate import simulate

    def summary() -> dict[str, object]:
        result = simulate(args.config, args.sites, resume=args.resume)
        return _brief(result, (*KEYS, "site_exit_codes"))

    return _run("simulate", summary)


def _certs(args: argparse.Namespace) -> int:
    from deephealth.pipelines.federated.tls import make_certificates, make_node_keys

    def both() -> dict[str, object]:
        out = make_certificates(args.folder, args.host or ["localhost", "127.0.0.1"], args.site)
        if args.node_keys:
            out["node_keys"] = make_node_keys(args.folder, args.site)
        return out

    return _run("certs", both)
