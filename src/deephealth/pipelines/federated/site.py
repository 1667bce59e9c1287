"""A hospital's side of the federation: the pipelines' local trainer behind a Flower client.

`SiteTrainer` opens the site's own DeepHealth dataset with the federation's pipeline config and
builds the same network as `deephealth train` (`pipelines.run.make_task` / `build_network`); each
round it loads the global arrays, runs `local_epochs` epochs of the one training loop (`eddl.fit`
over `pipelines.stream.TrainBatches`, FedProx through `exchange.ProximalTerm`), and returns the
new arrays, its training sample count and scalar metrics. Under DP the update is clipped here to
the norm the server's DP wrapper asks for (the server adds the noise). `SiteClient` is the Flower
`NumPyClient` around it; every reply passes `exchange.check_outbound` before it leaves.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np

from deephealth.eddl.training.callbacks import Callback
from deephealth.pipelines.federated import FederatedError, require_flwr
from deephealth.pipelines.federated.config import deployment_engine, load_federation
from deephealth.pipelines.federated.exchange import (
    ProximalTerm,
    check_outbound,
    exchanged_keys,
    get_arrays,
    set_arrays,
    shapes,
)
from deephealth.pipelines.federated.tls import read_ca, read_identity, site_identity

CRASH_ENV = "DEEPHEALTH_FEDERATED_CRASH_ROUND"
"""Fault injection for tests and drills: the site kills itself (SIGKILL) in that round's fit."""


class _RoundEpochs(Callback):
    """Keeps the loader's shuffling epoch counting across rounds (round r, epoch e → a new order)."""

    def __init__(self, loader: Any, first: int) -> None:
        self.loader, self.first = loader, first

    def on_epoch_begin(self, run: Any) -> None:
        self.loader.epoch = self.first + run.epoch


def _scalars(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    return {
        prefix + k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
    }


class SiteTrainer:
    """The local trainer of one site (the pipeline, not a second training loop).

    Args:
        cfg: The validated pipeline config, `dataset` = the site's dataset YAML.
        fed: The validated `federated` section.
    """

    def __init__(self, cfg: dict[str, Any], fed: dict[str, Any]) -> None:
        import deephealth.eddl as eddl
        from deephealth.pipelines.run import build_network, make_task
        from deephealth.pipelines.stream import TrainBatches

        self.cfg, self.fed = cfg, fed
        eddl.set_seed(cfg["seed"])
        self.task, _ = make_task(cfg)
        self.net = build_network(cfg, self.task)
        self.keys = exchanged_keys(self.net, fed["batchnorm"])
        self.shapes = shapes(get_arrays(self.net, self.keys))
        self.loader = TrainBatches(self.task, cfg["batch_size"], cfg["seed"])
        self.epochs_done = 0

    @property
    def num_examples(self) -> int:
        """Training samples of the site (the FedAvg weight)."""
        return int(self.task.data.split_size("training"))

    def arrays(self) -> list[np.ndarray]:
        """The site's current exchanged arrays."""
        return get_arrays(self.net, self.keys)

    def fit(self, arrays: list[np.ndarray], config: dict[str, Any]
            ) -> tuple[list[np.ndarray], int, dict[str, Any]]:  # fmt: skip
        """One round: load the global arrays, train `local_epochs`, return the update.

        Returns:
            (arrays, training sample count, {"loss", metric, "train_s"}).
        """
        import deephealth.eddl as eddl

        set_arrays(self.net, self.keys, arrays)
        epochs = int(config.get("local_epochs", self.fed["local_epochs"]))
        if int(config.get("round", 0)) > 0:  # a fresh process (deployment engine, restart)
            self.epochs_done = max(self.epochs_done, (int(config["round"]) - 1) * epochs)
        mu = float(config.get("proximal_mu", 0.0))
        prox = ProximalTerm(self.net, self.keys, mu)
        t = time.perf_counter()
        try:
            history = eddl.fit(
                self.net, self.loader, epochs=epochs, verbose=0, seed=self.cfg["seed"],
                callbacks=[_RoundEpochs(self.loader, self.epochs_done)],
            )  # fmt: skip
        finally:
            prox.remove()
        self.epochs_done += epochs
        new = self.arrays()
        if "clipping_norm" in config:  # client-side clipping of DP-FedAvg (server adds noise)
            from flwr.supercore.differential_privacy import compute_clip_model_update

            compute_clip_model_update(
                new, [np.asarray(a) for a in arrays], float(config["clipping_norm"])
            )
            new = [a.astype(np.float32) for a in new]
        last = history[-1] if history else {}
        metrics = {"train_s": time.perf_counter() - t, "local_epochs": epochs}
        if isinstance(last.get("loss"), int | float):
            metrics["loss"] = float(last["loss"])
        metrics.update(_scalars(last.get("metrics") or {}, "train_"))
        return new, self.num_examples, metrics

    def evaluate(self, arrays: list[np.ndarray]) -> tuple[float, int, dict[str, Any]]:
        """Score the global arrays on the site's validation split (training when none).

        Returns:
            (loss-like value 1 - monitor for maximised metrics, samples, scalar metrics).
        """
        from deephealth.pipelines.run import torch_forward

        set_arrays(self.net, self.keys, arrays)
        data = self.task.data
        split = "validation" if data.split_size("validation") else "training"
        scores = _scalars(
            self.task.evaluate(split, torch_forward(self.net), self.cfg["batch_size"])
        )
        value = scores.get(self.cfg["monitor"], 0.0)
        loss = value if self.cfg["monitor"] in ("mse", "mae", "loss") else 1.0 - value
        return float(loss), int(data.split_size(split)), scores


def _crash_if_asked(server_round: int) -> None:
    want = os.environ.get(CRASH_ENV)
    if want and int(want) == server_round:
        os.kill(os.getpid(), signal.SIGKILL)


def make_client(trainer: SiteTrainer, name: str, audit: str | None = None) -> Any:
    """The Flower NumPyClient of a site (every reply checked by `check_outbound`).

    `audit`: a folder where the site also keeps a copy of each update it sends
    (`<name>-round<r>.npz`, arrays and sample count), for a test or an audit to compare with
    what the server received.
    """
    require_flwr()
    from flwr.client import NumPyClient

    class SiteClient(NumPyClient):  # type: ignore[misc]
        def get_parameters(self, config: dict[str, Any]) -> list[np.ndarray]:
            arrays = trainer.arrays()
            check_outbound(arrays, 0, {}, trainer.shapes)
            return arrays

        def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> Any:
            _crash_if_asked(int(config.get("round", 0)))
            arrays, n, metrics = trainer.fit(parameters, config)
            metrics["site"] = name
            check_outbound(arrays, n, metrics, trainer.shapes)
            if audit:
                path = Path(audit) / f"{name}-round{int(config.get('round', 0))}.npz"
                np.savez(path, *arrays, num_examples=np.array(n))
            return arrays, n, metrics

        def evaluate(self, parameters: list[np.ndarray], config: dict[str, Any]) -> Any:
            loss, n, metrics = trainer.evaluate(parameters)
            metrics["site"] = name
            check_outbound([], n, metrics, trainer.shapes)
            return loss, n, metrics

    return SiteClient()


def run_client(config: Any, dataset: str | Path, name: str | None = None,
               address: str | None = None, certificate: str | Path | None = None,
               key: str | Path | None = None) -> None:  # fmt: skip
    """Join a federation as a site and train until the server ends it.

    Args:
        config: The federation config (path, YAML text or dict).
        dataset: The site's own DeepHealth dataset YAML (never leaves the site).
        name: The site's name in the server's report (default: the dataset's folder name).
        address: Override `federated.address`.
        certificate: Override `federated.tls.certificate`: the site's certificate (PEM, from
            `deephealth federated certs --site`), presented to a server that authenticates sites.
        key: Override `federated.tls.key`: the site certificate's private key.

    Raises:
        ConfigError: an invalid config.
        FederatedError: the server cannot be reached or refused the site.
    """
    flwr = require_flwr()
    cfg, fed = load_federation(config, dataset)
    if deployment_engine(fed):  # Flower's SuperNode runs `flowerapp.client_app`
        from deephealth.pipelines.federated.deployment import run_supernode

        return run_supernode(config, dataset, name, address)
    tls = dict(fed["tls"] or {})
    tls.update({k: str(v) for k, v in (("certificate", certificate), ("key", key)) if v})
    if tls and not tls.get("ca"):
        raise FederatedError("a site certificate needs federated.tls.ca (TLS)")
    trainer = SiteTrainer(cfg, fed)
    site = name or Path(dataset).resolve().parent.name
    root = read_ca(tls) if tls else None  # the server's key never travels to a site
    try:
        with site_identity(read_identity(tls) if tls else None):
            flwr.client.start_client(
                server_address=address or fed["address"],
                client=make_client(trainer, site).to_client(), root_certificates=root,
                max_retries=None, max_wait_time=max(30.0, float(fed["round_timeout_s"]) / 10),
            )  # fmt: skip
    except Exception as err:  # grpc errors carry the transport's reason
        raise FederatedError(
            f"site {site}: federation at {address or fed['address']} failed: {err}"
        ) from None


__all__ = ["CRASH_ENV", "SiteTrainer", "make_client", "run_client"]
