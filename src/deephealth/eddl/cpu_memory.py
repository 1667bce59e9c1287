"""Keep a CPU training's large buffers in the heap between steps (glibc's malloc).

A training step on the CPU allocates and frees the same large activation and gradient buffers at
every batch (8 MiB for one 16×64×64 feature map of a batch of 32). With glibc's defaults a freed
block above the mmap threshold goes back to the kernel, and so does free memory at the top of the
heap beyond the trim threshold (twice the dynamic mmap threshold); the next step then page-faults
the same memory in again, zero-filled. On the fusion benchmark (`bench/bench_multimodal.py`) this
was 200 to 7,000 minor page faults per step (up to 27 MiB), about a tenth of the step, and it
varied with the order of allocations, so that two equal networks in one process differed by it.

`keep_cpu_memory()` (called when a network is built on the CPU; once per process) fixes the mmap
threshold at glibc's maximum, 32 MiB, and the trim threshold at 256 MiB, so freed buffers are
reused without faults. The cost: a process keeps up to 256 MiB of freed heap instead of returning
it (its resident size stays near its training peak, which the next step needs anyway). Set
`DEEPHEALTH_MALLOC_TUNING=0` to keep glibc's defaults. Elsewhere than glibc (musl, macOS,
Windows) nothing is done.
"""

from __future__ import annotations

import ctypes
import os
import platform

MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
TRIM_THRESHOLD = 256 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_done: bool | None = None


def keep_cpu_memory() -> bool:
    """Set glibc's malloc thresholds as described in the module docstring (once per process).

    Returns:
        Whether the thresholds are set (False: not glibc, or `DEEPHEALTH_MALLOC_TUNING=0`).
    """
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("DEEPHEALTH_MALLOC_TUNING", "1") == "0":
        return _done
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return _done
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return _done
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _done = ok
    return _done
