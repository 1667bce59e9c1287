"""A model of data-parallel step time, calibrated here and extrapolated to large GPU clusters.

    t_step(N) = t_compute(b) * (1 + cv * sqrt(2 ln N)) + (1 - overlap) * t_allreduce(N)
    t_allreduce(N) = t_ar(min(N, G), bytes, intra-node link) + t_ar(N / G nodes, bytes, node NICs)
    t_ar(n, bytes, link) = min(ring, tree):
        ring = 2 (n - 1) / n * bytes / bandwidth + 2 (n - 1) * latency
        tree = 2 * bytes / bandwidth + 2 * log2(n) * latency

The first term is the slowest of N ranks whose step times vary with coefficient of variation `cv`
(expected maximum of N normal draws): every step waits for the straggler. `b` is the per-process batch (weak scaling: it stays fixed as N grows, as on GPU clusters).
Parallel efficiency E(N) = t_compute / t_step(N); speedup = N * E(N).

Usage:
    python bench/scaling_model.py                  # the tables of docs/scaling.md
    python bench/scaling_model.py --check A B C D  # predict 2-process efficiency here from measured
                                                   # t_compute (s), grad MB, bandwidth MB/s, latency s
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    """A cluster of nodes with `gpus_per_node` GPUs: an intra-node link and node NICs."""

    name: str
    gpus_per_node: int
    intra_gb_s: float  # all-reduce bus bandwidth inside a node (NVLink), GB/s
    intra_latency_s: float
    inter_gb_s: float  # all-reduce bandwidth of one node's NICs together, GB/s
    inter_latency_s: float


@dataclass(frozen=True)
class Workload:
    """A model's per-step compute and gradient volume on one GPU."""

    name: str
    t_compute_s: float  # forward + backward of the per-GPU batch
    grad_mb: float  # gradient bytes all-reduced per step (fp32)
    batch_per_gpu: int


# Achievable (not nominal) bandwidths: ~80 % of the links' rates.
INFINIBAND_HDR = Network(
    "8x A100 per node on NVLink (~130 GB/s bus), nodes on 8x InfiniBand HDR 200 Gb/s (~160 GB/s)",
    8, 130.0, 3e-6, 160.0, 6e-6,
)  # fmt: skip
ETHERNET_25G = Network(
    "8x A100 per node on NVLink (~130 GB/s bus), nodes on one 25 GbE NIC (~2.5 GB/s)",
    8, 130.0, 3e-6, 2.5, 30e-6,
)  # fmt: skip

# A100 40 GB, AMP. ResNet-50: ~1,400 img/s at batch 256 (MLPerf-class); 25.6 M parameters.
# 3D U-Net (Cicek et al.): ~19 M parameters, 128^3 patches, batch 2 per GPU, ~4 steps/s.
RESNET50 = Workload("ResNet-50, ImageNet 224^2, batch 256/GPU", 256 / 1400, 25.6e6 * 4 / 1e6, 256)
UNET3D = Workload("3D U-Net, 128^3 patches, batch 2/GPU", 0.25, 19.0e6 * 4 / 1e6, 2)


def allreduce_s(n: int, mb: float, bus_gb_s: float, latency_s: float) -> float:
    """Time of one all-reduce of `mb` megabytes over `n` ranks (best of ring and tree)."""
    if n <= 1:
        return 0.0
    volume = mb / 1e3 / bus_gb_s
    ring = 2 * (n - 1) / n * volume + 2 * (n - 1) * latency_s
    tree = 2 * volume + 2 * math.log2(n) * latency_s
    return min(ring, tree)


def cluster_allreduce_s(net: Network, n: int, mb: float) -> float:
    """Hierarchical all-reduce: inside each node, then between the nodes."""
    inside = allreduce_s(min(n, net.gpus_per_node), mb, net.intra_gb_s, net.intra_latency_s)
    nodes = math.ceil(n / net.gpus_per_node)
    return inside + allreduce_s(nodes, mb, net.inter_gb_s, net.inter_latency_s)


STEP_TIME_CV = 0.02  # step-to-step variation of one GPU's compute time (2 %)


def straggler_factor(n: int, cv: float = STEP_TIME_CV) -> float:
    """Expected slowest-of-n step time relative to the mean."""
    return 1.0 + cv * math.sqrt(2 * math.log(n)) if n > 1 else 1.0


def efficiency(w: Workload, net: Network, n: int, overlap: float) -> float:
    """Predicted parallel efficiency at `n` GPUs with `overlap` of communication hidden."""
    t_ar = cluster_allreduce_s(net, n, w.grad_mb)
    return w.t_compute_s / (w.t_compute_s * straggler_factor(n) + (1 - overlap) * t_ar)


def table(workloads: list[Workload], net: Network, sizes: list[int], overlap: float) -> str:
    """A markdown table of efficiency and speedup."""
    head = "| model | " + " | ".join(f"E({n}) / speedup" for n in sizes) + " |"
    rows = [head, "|---|" + "---|" * len(sizes)]
    for w in workloads:
        cells = [f"{efficiency(w, net, n, overlap):.2f} / {n * efficiency(w, net, n, overlap):.0f}x"
                 for n in sizes]  # fmt: skip
        rows.append(f"| {w.name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    """Print the tables, or check the model against a 2-process measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", nargs=4, type=float, metavar=("T_COMPUTE", "GRAD_MB", "MB_S", "LAT")
    )
    args = parser.parse_args()
    if args.check:
        t_c, mb, mb_s, lat = args.check
        t_ar = allreduce_s(2, mb, mb_s / 1e3, lat)
        predicted = t_c / (t_c * straggler_factor(2) + t_ar)
        print(f"predicted 2-process efficiency (no overlap): {predicted:.3f}")
        return
    sizes = [8, 64, 512]
    for net in (INFINIBAND_HDR, ETHERNET_25G):
        for overlap in (0.0, 0.7):
            print(f"\n{net.name}, overlap {overlap:.0%}\n")
            print(table([RESNET50, UNET3D], net, sizes, overlap))


if __name__ == "__main__":
    main()
