"""The federation config: a pipeline config plus a `federated:` section, one file for every party.

The pipeline keys (`task`, `model`, `batch_size`, `optimizer`, `input_size`, ...) are exactly those
of `deephealth train` and are validated by `pipelines.config.load_config`; `dataset` names the
server's held-out set (a site replaces it with its own `--dataset`). The `federated:` section::

    federated:
      rounds: 3                # federated rounds
      local_epochs: 1          # epochs of the pipeline's training loop per site and round
      strategy: fedavg         # fedavg (weighted by samples) | fedprox | fedadam
      proximal_mu: 0.01        # FedProx: weight of (mu/2)·||w - w_global||² in each site's loss
      server_learning_rate: 0.01  # FedAdam: the server optimizer's step (eta)
      batchnorm: average       # average | fedbn (BatchNorm weights and statistics stay local)
      min_sites: 2             # a round runs (and completes) with at least this many sites
      expected_sites: 0        # wait (up to round_timeout_s) for this many sites before round 1
      address: 127.0.0.1:8080  # server's listening / the sites' connecting address
      round_timeout_s: 600     # sites that do not answer in time are dropped from the round
      run_dir: federation      # the server's folder (global model, report, message log)
      tls: {ca: certs/ca.crt, certificate: certs/server.pem, key: certs/server.key}
                               # (a site: its own certificate/key from `certs --site`, or only ca)
      authenticate_sites: false  # server: refuse sites without a certificate of the federation's CA
      allowed_sites: []        # server: only these site certificate names (empty: any of the CA)
      rejoin_wait_s: 0         # before each later round, wait up to this long for expected_sites
      dp: {noise_multiplier: 1.0, clipping_norm: 1.0, delta: 1.0e-5}   # optional
      secure_aggregation: secagg+   # optional: Flower's SecAgg+ on its deployment engine, or
                               # {num_shares: 3, reconstruction_threshold: 2, clipping_range: 8.0,
                               #  quantization_range: 4194304, max_weight: 1000.0}
      node_auth: [certs/a.node.pub]  # server: Flower node authentication, the sites' public keys
      node_key: certs/a.node.key     # site: its node private key (`certs --node-keys`)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from deephealth.ecvl.dataset import yaml_limits
from deephealth.pipelines.config import ConfigError, load_config

STRATEGIES = ("fedavg", "fedprox", "fedadam")
BATCHNORM = ("average", "fedbn")

Check = Callable[[Any], bool]


def _pos_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v >= 0


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


FIELDS: dict[str, tuple[Any, Check, str]] = {
    "rounds": (3, _pos_int, "an integer > 0"),
    "local_epochs": (1, _pos_int, "an integer > 0"),
    "strategy": ("fedavg", lambda v: v in STRATEGIES, f"one of {list(STRATEGIES)}"),
    "proximal_mu": (0.01, _num, "a number >= 0"),
    "server_learning_rate": (0.01, lambda v: _num(v) and v > 0, "a number > 0"),
    "batchnorm": ("average", lambda v: v in BATCHNORM, f"one of {list(BATCHNORM)}"),
    "min_sites": (2, _pos_int, "an integer > 0"),
    "expected_sites": (0, lambda v: isinstance(v, int) and v >= 0, "an integer >= 0"),
    "address": ("127.0.0.1:8080", _text, "host:port"),
    "round_timeout_s": (600, lambda v: _num(v) and v > 0, "a number > 0"),
    "run_dir": ("federation", _text, "a folder path"),
    "tls": (None, lambda v: v is None or isinstance(v, Mapping), "a mapping ca/certificate/key"),
    "authenticate_sites": (False, lambda v: isinstance(v, bool), "true or false"),
    "allowed_sites": (
        [],
        lambda v: isinstance(v, list) and all(_text(x) for x in v),
        "a list of site certificate names",
    ),
    "rejoin_wait_s": (0, _num, "a number >= 0"),
    "dp": (None, lambda v: v is None or isinstance(v, Mapping), "a mapping"),
    "node_auth": (
        [],
        lambda v: isinstance(v, list) and all(_text(x) for x in v),
        "a list of site public key files (.node.pub)",
    ),
    "node_key": (None, lambda v: v is None or _text(v), "a private key file (.node.key)"),
    "secure_aggregation": (
        None,
        lambda v: v is None or v == "secagg+" or isinstance(v, Mapping),
        "'secagg+' or a mapping of SecAgg+ settings",
    ),
}
DP_FIELDS: dict[str, tuple[Any, Check, str]] = {
    "noise_multiplier": (1.0, _num, "a number >= 0"),
    "clipping_norm": (1.0, lambda v: _num(v) and v > 0, "a number > 0"),
    "delta": (1e-5, lambda v: _num(v) and 0 < v < 1, "a number in (0, 1)"),
}
SECAGG_FIELDS: dict[str, tuple[Any, Check, str]] = {
    "num_shares": (3, lambda v: _num(v) and v > 0, "a number > 0 (a count, or a share of sites)"),
    "reconstruction_threshold": (2, lambda v: _num(v) and v > 0, "a number > 0"),
    "clipping_range": (8.0, lambda v: _num(v) and v > 0, "a number > 0"),
    "quantization_range": (4194304, _pos_int, "an integer > 0"),
    "max_weight": (1000.0, lambda v: _num(v) and v > 0, "a number > 0"),
}
"""SecAgg+ settings, passed to Flower's `SecAggPlusWorkflow` (`flwr.server.workflow`)."""
TLS_KEYS = ("ca", "certificate", "key")


def _section(
    given: Mapping[str, Any], fields: Mapping[str, tuple[Any, Check, str]], prefix: str,
    problems: list[tuple[str, str]],
) -> dict[str, Any]:  # fmt: skip
    out = {}
    for key in given:
        if key not in fields:
            problems.append((f"{prefix}{key}", f"unknown key (known: {sorted(fields)})"))
    for key, (default, check, what) in fields.items():
        value = given.get(key, default)
        if not check(value):
            problems.append((f"{prefix}{key}", f"must be {what}, got {value!r}"))
        out[key] = value
    return out


def deployment_engine(fed: Mapping[str, Any]) -> bool:
    """Whether the federation runs on Flower's SuperLink/SuperNode engine (`federated.deployment`):
    with secure aggregation or Flower's node authentication; else on `start_server`."""
    return fed.get("secure_aggregation") is not None or bool(
        fed.get("node_auth") or fed.get("node_key")
    )


def load_federation(source: Mapping[str, Any] | str | Path, dataset: str | Path | None = None
                    ) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Read and validate a federation config.

    Args:
        source: Dict, YAML file path or YAML text.
        dataset: This party's dataset YAML (a site's own data); default the config's `dataset`.

    Returns:
        (pipeline config with defaults, federated section with defaults). Relative paths in the
        `federated` section (run_dir, TLS files) are resolved against the config file's folder.

    Raises:
        ConfigError: every problem of either part, with its key.
    """
    base = Path.cwd()
    if isinstance(source, Mapping):
        data = copy.deepcopy(dict(source))
    else:
        text = str(source)
        path = Path(text)
        if "\n" not in text and path.suffix in (".yml", ".yaml", ".json"):
            if not path.is_file():
                raise ConfigError([("config", f"file {path} not found")])
            base = path.resolve().parent
            text = yaml_limits.read_text(path)
        try:
            data = yaml_limits.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError([("config", f"is not valid YAML: {err}")]) from None
        if not isinstance(data, dict):
            raise ConfigError([("config", "must be a mapping")])
    problems: list[tuple[str, str]] = []
    fed_given = data.pop("federated", None) or {}
    if not isinstance(fed_given, Mapping):
        raise ConfigError([("federated", "must be a mapping")])
    fed = _section(fed_given, FIELDS, "federated.", problems)
    if isinstance(fed["dp"], Mapping):
        fed["dp"] = _section(fed["dp"], DP_FIELDS, "federated.dp.", problems)
    if fed["secure_aggregation"] is not None:
        given = fed["secure_aggregation"]
        given = {} if given == "secagg+" else given
        if isinstance(given, Mapping):
            fed["secure_aggregation"] = _section(
                given, SECAGG_FIELDS, "federated.secure_aggregation.", problems
            )
    if isinstance(fed["tls"], Mapping):
        unknown = [k for k in fed["tls"] if k not in TLS_KEYS]
        if unknown or not fed["tls"].get("ca"):
            problems.append(
                (
                    "federated.tls",
                    f"keys {list(TLS_KEYS)} ('ca' required; the server "
                    f"also needs certificate and key), got {sorted(fed['tls'])}",
                )
            )
        fed["tls"] = {k: str(base / str(v)) for k, v in fed["tls"].items()}
    if (fed["authenticate_sites"] or fed["allowed_sites"]) and not fed["tls"]:
        problems.append(("federated.authenticate_sites", "site certificates need federated.tls"))
    if fed["node_auth"] and not fed["tls"]:
        problems.append(("federated.node_auth", "Flower's node authentication needs federated.tls"))
    if deployment_engine(fed) and (fed["authenticate_sites"] or fed["allowed_sites"]):
        problems.append(
            (
                "federated.authenticate_sites",
                "site certificates are checked by the gRPC server, not by Flower's SuperLink "
                "that secure_aggregation and node_auth run on: use node_auth (docs/federated.md)",
            )
        )
    if problems:
        raise ConfigError(problems, "federated config")
    fed["run_dir"] = str(base / fed["run_dir"])
    fed["node_auth"] = [str(base / k) for k in fed["node_auth"]]
    if fed["node_key"]:
        fed["node_key"] = str(base / fed["node_key"])
    if dataset is not None:
        data["dataset"] = str(dataset)
    for key in ("dataset", "model"):
        val = data.get(key)
        if isinstance(val, str) and (key == "dataset" or val.endswith(".onnx")):
            if not Path(val).is_absolute() and not (key == "dataset" and dataset is not None):
                data[key] = str(base / val)
    return load_config(data), fed


__all__ = ["BATCHNORM", "SECAGG_FIELDS", "STRATEGIES", "deployment_engine", "load_federation"]
