"""Federated training on this machine: round time, bytes per round vs model size, and
time-to-accuracy of FedAvg / FedProx (three site processes over loopback gRPC) against centralised
training of the pooled data with the same trainer; FedAdam, and FedBN against averaged BatchNorm
on a BatchNorm model (`--runs fedadam mobilenet-average mobilenet-fedbn`).

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


# run name -> (pipeline overrides, federated overrides); FedBN needs a model with BatchNorm: the
# zoo MobileNet at width 0.25 (the same model with averaged BatchNorm is its baseline)
MOBILENET = {"model": "mobilenet", "model_params": {"alpha": 0.25}, "optimizer": {"lr": 0.01}}
RUNS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "fedavg": ({}, {"strategy": "fedavg"}),
    "fedprox": ({}, {"strategy": "fedprox", "proximal_mu": 0.01}),
    "fedadam": ({}, {"strategy": "fedadam", "server_learning_rate": 0.01}),
    "mobilenet-average": (MOBILENET, {"strategy": "fedavg", "batchnorm": "average"}),
    "mobilenet-fedbn": (MOBILENET, {"strategy": "fedavg", "batchnorm": "fedbn"}),
}


def federated(ds: Path, sites: list[Path], rounds: int, name: str, work: Path) -> dict[str, Any]:
    from deephealth.pipelines.federated.simulate import simulate

    cfg = work / f"{name}.yml"
    pipeline, extra = RUNS[name]
    fed = {"rounds": rounds, "local_epochs": 2, "run_dir": str(work / name), **extra}
    cfg.write_text(yaml.safe_dump({**PIPELINE, **pipeline, "dataset": str(ds), "federated": fed}))
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
    ap.add_argument(
        "--runs",
        nargs="+",
        default=["fedavg", "fedprox"],
        choices=sorted(RUNS),
        help="federated runs (strategy / BatchNorm handling / model)",
    )
    ap.add_argument("--no-centralised", action="store_true", help="skip the pooled baseline")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ds = generate_dataset(work / "data", "classification", n_patients=300, shape=(24, 24),
                              seed=0, lesion_types=("normal", "nodule"))  # fmt: skip
        sites = split_sites(ds, [0.5, 0.3, 0.2], alpha=1.0, seed=0)
        central = None if args.no_centralised else centralised(ds, 2 * args.rounds)
        runs = {s: federated(ds, sites, args.rounds, s, work) for s in args.runs}
    mb = (central or {}).get("model_bytes")
    lines = [
        f"## Federated training (`bench/bench_federated.py`, {time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {platform.processor() or platform.machine()}, shared with other jobs; "
        f"LeNet 24x24 (MobileNet width 0.25 for the mobilenet runs); 3 sites (non-IID), "
        f"{args.rounds} rounds x 2 local epochs; target held-out accuracy {args.target}.",
        "",
        "| run | final acc | best acc | sites' val acc (last) | train time to target (s) | "
        "train time total (s) | wall incl. process start (s) | mean round (s) | bytes/round (MB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    c = central["curve"] if central else []
    if c:
        lines.append(
            f"| centralised (pooled, {len(c)} epochs, LeNet; {mb / 1e6:.2f} MB of weights) | "
            f"{c[-1][1]:.3f} | {max(a for _, a in c):.3f} | - | "
            f"{_fmt(_time_to(c, args.target))} | {c[-1][0]:.1f} | - | - | - |"
        )
    for name, run in runs.items():
        rounds = run["result"]["rounds"]
        curve = run["curve"]
        per_round = [r["bytes_sent"] + r["bytes_received"] for r in rounds]
        site_val = (rounds[-1].get("site_validation") or {}).get("accuracy")
        lines.append(
            f"| {name} | {curve[-1][1]:.3f} | {max(a for _, a in curve):.3f} | "
            f"{_fmt(site_val, 3)} | {_fmt(_time_to(curve, args.target))} | {curve[-1][0]:.1f} | "
            f"{run['wall_s']:.1f} | {curve[-1][0] / len(rounds):.2f} | "
            f"{sum(per_round) / len(per_round) / 1e6:.2f} |"
        )
    lines.append("")
    lines.append("Held-out accuracy per epoch / round: "
                 + (("centralised " + ", ".join(f"{a:.2f}" for _, a in c) + "; ") if c else "")
                 + "; ".join(f"{n} " + ", ".join(f"{a:.2f}" for _, a in r["curve"])
                             for n, r in runs.items()) + ". Sites' weighted validation accuracy "
                 "per round: " + "; ".join(
                     f"{n} " + ", ".join(f"{(x.get('site_validation') or {}).get('accuracy', 0):.2f}"
                                         for x in r["result"]["rounds"]) for n, r in runs.items())
                 + ".")  # fmt: skip
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


def _fmt(v: float | None, digits: int = 1) -> str:
    return "not reached" if v is None else f"{v:.{digits}f}"


if __name__ == "__main__":
    main()
