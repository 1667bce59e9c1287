"""Computing services: where a network runs (`CS_CPU`, `CS_GPU`), with how many threads and GPUs.

A computing service is a small value object given to `build`. It resolves to torch devices when the
network is built: `CS_CPU(th)` sets torch's intra-op thread count explicitly (`th=-1`: the value of
`OMP_NUM_THREADS` when set, else every core this process may use); `CS_GPU(g)` selects the GPUs whose
mask entry is 1 and raises `DeviceError` when CUDA or a selected GPU is missing, unless
`fallback_to_cpu=True`, which warns and runs on the CPU. Several selected GPUs train data-parallel.
`precision="bf16"`/`"fp16"` turns on mixed precision (autocast), an option beyond pyeddl.
On the CPU, glibc's malloc is told to keep freed training buffers (`eddl.cpu_memory`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from deephealth.eddl.cpu_memory import keep_cpu_memory
from deephealth.errors import EddlError

MEMORY_MODES = ("full_mem", "mid_mem", "low_mem")
PRECISIONS = {None: None, "fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class DeviceError(EddlError, RuntimeError):
    """A computing service asks for hardware this machine does not have."""


@dataclass
class ComputingService:
    """Where and how a network runs.

    Attributes:
        kind: "cpu" or "gpu".
        threads: CPU threads (-1 = automatic).
        gpus: GPU selection mask (1 = use), pyeddl's `g`.
        lsb: Batches between weight syncs on several GPUs (kept for pyeddl; torch syncs each batch).
        mem: pyeddl's memory mode (accepted, no effect on torch).
        precision: None, "bf16" or "fp16" (mixed precision through autocast).
        fallback_to_cpu: Run on the CPU with a warning instead of failing when no GPU exists.
        compile: Run the network through `torch.compile` (opt-in speed-up).
        channels_last: Use the channels-last memory format for 4-D activations (opt-in).
    """

    kind: str = "cpu"
    threads: int = -1
    gpus: list[int] = field(default_factory=lambda: [1])
    lsb: int = 1
    mem: str = "full_mem"
    precision: str | None = None
    fallback_to_cpu: bool = False
    compile: bool = False
    channels_last: bool = False

    def __post_init__(self) -> None:
        if self.mem not in MEMORY_MODES:
            raise ValueError(f"unknown memory mode {self.mem!r}; valid: {', '.join(MEMORY_MODES)}")
        if self.precision not in PRECISIONS:
            valid = ", ".join(str(p) for p in PRECISIONS)
            raise ValueError(f"unknown precision {self.precision!r}; valid: {valid}")
        if self.kind == "cpu" and self.threads != -1 and self.threads < 1:
            raise ValueError(f"CS_CPU needs th >= 1 or th = -1 (all), got {self.threads}")
        if self.kind == "gpu":
            if not self.gpus or any(g not in (0, 1) for g in self.gpus):
                raise ValueError(f"CS_GPU needs a 0/1 mask such as [1] or [1, 1], got {self.gpus}")
            if sum(self.gpus) == 0:
                raise ValueError(f"CS_GPU mask {self.gpus} selects no GPU")
            if self.lsb < 1:
                raise ValueError(f"CS_GPU needs lsb >= 1, got {self.lsb}")

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype for mixed precision, or None for float32."""
        return PRECISIONS[self.precision]

    def cpu_threads(self) -> int:
        """The thread count this service asks for (resolving -1)."""
        if self.threads > 0:
            return self.threads
        env = os.environ.get("OMP_NUM_THREADS", "")
        if env.isdigit() and int(env) > 0:
            return int(env)
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover (non-Linux)
            return os.cpu_count() or 1

    def devices(self) -> list[torch.device]:
        """Resolve to torch devices: one CPU, or the selected GPUs.

        Raises:
            DeviceError: a GPU is asked for and CUDA or a selected GPU is missing (unless
                `fallback_to_cpu`, which warns and returns the CPU).
        """
        if self.kind == "cpu":
            torch.set_num_threads(self.cpu_threads())
            keep_cpu_memory()
            return [torch.device("cpu")]
        available = torch.cuda.device_count() if torch.cuda.is_available() else 0
        wanted = [i for i, on in enumerate(self.gpus) if on]
        problem = None
        if available == 0:
            problem = f"CS_GPU({self.gpus}) asks for a GPU, but torch sees no CUDA GPU"
        elif wanted[-1] >= available:
            problem = (
                f"CS_GPU({self.gpus}) selects GPU {wanted[-1]}, but only {available} "
                f"GPU(s) exist (indices 0..{available - 1})"
            )
        if problem:
            if not self.fallback_to_cpu:
                raise DeviceError(
                    f"{problem}; use CS_CPU() or CS_GPU(..., fallback_to_cpu=True) to run on the CPU"
                )
            warnings.warn(f"{problem}; falling back to the CPU as asked", RuntimeWarning, 2)
            torch.set_num_threads(self.cpu_threads())
            keep_cpu_memory()
            return [torch.device("cpu")]
        return [torch.device("cuda", i) for i in wanted]


def CS_CPU(
    th: int = -1,
    mem: str = "full_mem",
    precision: str | None = None,
    compile: bool = False,  # noqa: A002
    channels_last: bool = False,
) -> ComputingService:
    """Run on the CPU with `th` threads (-1: `OMP_NUM_THREADS` if set, else all usable cores)."""
    return ComputingService(
        "cpu",
        threads=int(th),
        mem=mem,
        precision=precision,
        compile=compile,
        channels_last=channels_last,
    )


def CS_GPU(
    g: Sequence[int] = (1,),
    lsb: int | str = 1,
    mem: str = "full_mem",
    precision: str | None = None,
    fallback_to_cpu: bool = False,
    compile: bool = False,  # noqa: A002
    channels_last: bool = False,
) -> ComputingService:
    """Run on the CUDA GPUs selected by the mask `g` (`[1]`: the first; `[1, 1]`: two, data-parallel)."""
    if isinstance(g, int):
        g = [1] * g
    if isinstance(lsb, str):  # EDDL's CS_GPU({1}, "low_mem") overload
        lsb, mem = 1, lsb
    return ComputingService(
        "gpu",
        gpus=[int(x) for x in g],
        lsb=int(lsb),
        mem=mem,
        precision=precision,
        fallback_to_cpu=fallback_to_cpu,
        compile=compile,
        channels_last=channels_last,
    )


CS_CUDNN = CS_GPU  # EDDL 1.x's cuDNN service: same thing on torch (cuDNN is always used)
