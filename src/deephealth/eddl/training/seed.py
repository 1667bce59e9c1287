"""Seeding for reproducible runs: one call seeds torch, numpy and Python's `random`.

With the same seed, thread count and machine, `build` + `fit` on the CPU give bit-identical weights
(torch's CPU kernels are deterministic for a fixed thread count; `fit` shuffles with its own
generator seeded from torch's).
"""

from __future__ import annotations

import random

import numpy as np
import torch


def set_seed(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and Python's random generators."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
