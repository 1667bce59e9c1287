"""Federated training on this machine: round time, bytes per round vs model size, and
time-to-accuracy of FedAvg / FedProx (three site processes over loopback gRPC) against centralised
training of the pooled data with the same trainer.

Data: synthetic lesion phantoms (normal vs nodule, 24x24, 300 patients) split into three non-IID
sites (`split_sites`: sizes 0.5/0.3/0.2 with Dirichlet(1.0) label skew); the test split stays at
the server. Model: zoo LeNet, Adam lr 0.002, batch 16. Centralised: the pipeline's trainer
(`SiteTrainer` on the pooled training split, i.e. `eddl.fit` over `TrainBatches`), scored on the
held-out test split after each epoch. Federated: `simulate` (one server + three client processes),
`rounds` rounds of 2 local epochs, scored on the same test split after each round. Time to
accuracy counts training time only (cumulative epoch / round times); the federation's wall time
with process start-up is reported next to it. Writes bench/results/federated.md.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
PIPELINE = {
    "task": "classification", "model": "lenet", "batch_size": 16, "optimizer": {"lr": 0.002},
    "loader": {"workers": 1}, "seed": 0,
}  # fmt: skip


def _time_to(curve: list[tuple[float, float]], target: float) -> float | None:
    for t, acc in curve:
        if acc >= target:
            return t
    return None


def centralised(ds: Path, epochs: int) -> dict[str, Any]:
    from deephealth.pipelines.federated.config import load_federation
    from deephealth.pipelines.federated.server import ServerModel
    from deephealth.pipelines.federated.site import SiteTrainer

    cfg, fed = load_federation({**PIPELINE, "dataset": str(ds)})
    server = ServerModel(cfg, fed)
    trainer = SiteTrainer(cfg, fed)
    w, spent, curve = server.arrays(), 0.0, []
    for _ in range(epochs):
        w, _, m = trainer.fit(w, {"local_epochs": 1})
        spent += m["train_s"]
        curve.append((spent, server.evaluate(w)["accuracy"]))
    return {"curve": curve, "model_bytes": sum(a.nbytes for a in w)}


def federated(
    ds: Path, sites: list[Path], rounds: int, strategy: str, work: Path
) -> dict[str, Any]:
    from deephealth.pipelines.federated.simulate import simulate

    cfg = work / f"{strategy}.yml"
    fed = {"rounds": rounds, "local_epochs": 2, "strategy": strategy, "proximal_mu": 0.01,
           "run_dir": str(work / strategy)}  # fmt: skip
    cfg.write_text(yaml.safe_dump({**PIPELINE, "dataset": str(ds), "federated": fed}))
    t = time.perf_counter()
    result = simulate(cfg, sites, timeout_s=1800)
    wall = time.perf_counter() - t
    spent, curve = 0.0, []
    for r in result["rounds"]:
        spent += r["time_s"]
        curve.append((spent, r["server_test"]["accuracy"]))
    return {"result": result, "curve": curve, "wall_s": wall}


def main() -> None:
    from deephealth.pipelines.federated.partition import split_sites
    from deephealth.pipelines.synthetic import generate_dataset

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--target", type=float, default=0.95, help="held-out accuracy to reach")
    ap.add_argument("--out", default=str(HERE / "results" / "federated.md"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ds = generate_dataset(work / "data", "classification", n_patients=300, shape=(24, 24),
                              seed=0, lesion_types=("normal", "nodule"))  # fmt: skip
        sites = split_sites(ds, [0.5, 0.3, 0.2], alpha=1.0, seed=0)
        central = centralised(ds, 2 * args.rounds)
        runs = {s: federated(ds, sites, args.rounds, s, work) for s in ("fedavg", "fedprox")}
    mb = central["model_bytes"]
    lines = [
        f"## Federated training (`bench/bench_federated.py`, {time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {platform.processor() or platform.machine()}, shared with other jobs; "
        f"LeNet 24x24, {mb / 1e6:.2f} MB of float32 weights; 3 sites (non-IID), "
        f"{args.rounds} rounds x 2 local epochs; target held-out accuracy {args.target}.",
        "",
        "| run | final acc | best acc | train time to target (s) | train time total (s) | "
        "wall incl. process start (s) | mean round (s) | bytes/round (MB) | bytes / (model x sites) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    c = central["curve"]
    lines.append(
        f"| centralised (pooled, {len(c)} epochs) | {c[-1][1]:.3f} | {max(a for _, a in c):.3f} | "
        f"{_fmt(_time_to(c, args.target))} | {c[-1][0]:.1f} | - | - | - | - |"
    )
    for name, run in runs.items():
        rounds = run["result"]["rounds"]
        curve = run["curve"]
        per_round = [r["bytes_sent"] + r["bytes_received"] for r in rounds]
        sites_n = rounds[-1]["sites_done"]
        lines.append(
            f"| {name} | {curve[-1][1]:.3f} | {max(a for _, a in curve):.3f} | "
            f"{_fmt(_time_to(curve, args.target))} | {curve[-1][0]:.1f} | {run['wall_s']:.1f} | "
            f"{curve[-1][0] / len(rounds):.2f} | {sum(per_round) / len(per_round) / 1e6:.2f} | "
            f"{sum(per_round) / len(per_round) / (mb * sites_n):.4f} |"
        )
    lines.append("")
    lines.append("Held-out accuracy per epoch / round: centralised "
                 + ", ".join(f"{a:.2f}" for _, a in c) + "; "
                 + "; ".join(f"{n} " + ", ".join(f"{a:.2f}" for _, a in r["curve"])
                             for n, r in runs.items()) + ".")  # fmt: skip
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


def _fmt(v: float | None) -> str:
    return "not reached" if v is None else f"{v:.1f}"


if __name__ == "__main__":
    main()
