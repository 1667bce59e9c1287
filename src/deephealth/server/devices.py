"""Where trainings run: the computing-service choice of the training form and the GPU slots.

A training asks for `auto` (the GPU when the server has one), `cpu` or `gpu`, with optional mixed
precision (bf16 or fp16, GPU only). The choice becomes the `computing_service` of the job's
pipelines config when it is queued (`computing_service`), and a worker that has no GPU runs a GPU
job on the CPU, saying so in the job's events (`fallback_to_cpu`). The queue gives each GPU at
most `trainings_per_gpu` running trainings (`free_gpu`); a job's GPU is its one-hot `gpus` mask.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

DEVICE_CHOICES = ("auto", "cpu", "gpu")
PRECISIONS = ("none", "bf16", "fp16")


def detected_gpus(configured: int = -1) -> int:
    """GPUs trainings may use: `configured` when >= 0, else those torch sees (0 without CUDA)."""
    if configured >= 0:
        return configured
    try:
        import torch

        return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
    except Exception:  # a broken CUDA install counts as no GPU
        return 0


def computing_service(
    choice: str, precision: str, threads: int, gpus: int
) -> tuple[dict[str, Any], str]:
    """The pipelines `computing_service` of a training and a note on how it was chosen.

    Args:
        choice: auto, cpu or gpu.
        precision: none, bf16 or fp16 (ignored on the CPU).
        threads: CPU threads.
        gpus: GPUs of this server (see `detected_gpus`).
    """
    use_gpu = choice == "gpu" or (choice == "auto" and gpus > 0)
    if use_gpu:
        cs: dict[str, Any] = {"type": "gpu", "threads": threads, "gpus": [1]}
        if precision != "none":
            cs["mixed_precision"] = precision
        note = f"computing service {choice}: GPU" + (
            f", {precision}" if precision != "none" else ""
        )
        if gpus == 0:
            note += " (no GPU on this server now: a worker without one runs it on the CPU)"
        return cs, note
    note = f"computing service {choice}: CPU, {threads if threads > 0 else 'all'} thread(s)"
    if choice == "auto":
        note += " (no GPU on this server)"
    return {"type": "cpu", "threads": threads}, note


def is_gpu_job(config: dict[str, Any]) -> bool:
    """Whether a job's pipelines config asks for the GPU."""
    cs = config.get("computing_service") or {}
    return isinstance(cs, dict) and cs.get("type") == "gpu"


def gpu_index(config: dict[str, Any]) -> int | None:
    """The GPU a running job was given (its one-hot mask), or None."""
    if not is_gpu_job(config):
        return None
    mask = config["computing_service"].get("gpus") or [1]
    return mask.index(1) if 1 in mask else 0


def free_gpu(running: list[dict[str, Any]], gpus: int, per_gpu: int) -> int | None:
    """The least-loaded GPU with a free slot, given the configs of the running jobs."""
    load = Counter(gpu_index(c) for c in running if is_gpu_job(c))
    free = [(load.get(i, 0), i) for i in range(gpus) if load.get(i, 0) < per_gpu]
    return min(free)[1] if free else None


def on_gpu(config: dict[str, Any], index: int) -> dict[str, Any]:
    """`config` with its computing service pinned to GPU `index`."""
    cs = dict(config["computing_service"])
    cs["gpus"] = [0] * index + [1]
    return {**config, "computing_service": cs}


def fallback_to_cpu(config: dict[str, Any]) -> dict[str, Any]:
    """`config` with its computing service on the CPU (mixed precision dropped)."""
    cs = {"type": "cpu", "threads": config["computing_service"].get("threads", -1)}
    return {**config, "computing_service": cs}
