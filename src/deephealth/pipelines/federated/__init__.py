"""Federated training across hospitals on Flower: the data never leave the site.

A federation is one config file (a pipeline config plus a `federated:` section, see
`federated.config`). Each site (`deephealth federated client CONFIG --dataset SITE.yml`) trains the
same pipeline on its own DeepHealth dataset for a few local epochs per round with the pipelines'
one training loop (`eddl.fit` over `pipelines.stream.TrainBatches`) and sends back only the model's
parameter arrays, its training sample count and scalar metrics (`federated.exchange.check_outbound`
refuses anything else). The server (`deephealth federated server CONFIG`) aggregates them with
FedAvg, FedProx or FedAdam, evaluates the global model on its held-out set, saves it every round
(resumable), exports it to ONNX (checked in onnxruntime) and writes the pipelines' KPI report.

Transport: Flower's gRPC fleet API with `flwr.server.start_server` / `flwr.client.start_client`
(one real process per site and one for the server, TLS optional) — see `docs/federated.md`.
Flower (`flwr`) and Opacus are the `federated` extra; they are imported where used.
"""

from __future__ import annotations

from typing import Any

from deephealth.errors import PipelineError


class FederatedError(PipelineError, RuntimeError):
    """A federation cannot run: bad federated config, missing extra, a site or server failure."""


def require_flwr() -> Any:
    """Import Flower, or raise `FederatedError` naming the pip extra."""
    try:
        import flwr
    except ImportError:  # pragma: no cover - the extra is installed in CI
        raise FederatedError(
            "federated training needs Flower: pip install 'deephealth[federated]'"
        ) from None
    return flwr


__all__ = ["FederatedError", "require_flwr"]
