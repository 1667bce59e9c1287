"""A CPU training reuses its freed buffers instead of page-faulting them in at every step
(`eddl.cpu_memory`: glibc's malloc thresholds set when a network is built on the CPU)."""

from __future__ import annotations

import platform
import resource

import numpy as np
import pytest

import deephealth.eddl as eddl
from deephealth.eddl import zoo
from deephealth.eddl.cpu_memory import keep_cpu_memory

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


@glibc
def test_training_steps_do_not_page_fault_their_buffers_in_again():
    # 8 MiB feature maps (32 x 16 x 64 x 64 float32), allocated and freed at every step
    net = zoo.build_model("fusion", (1, 64, 64), 1, num_features=10, fusion="gated",
                          filters=(16, 32))  # fmt: skip
    eddl.build(net, eddl.adam(1e-3), ["mse"], ["mae"], eddl.CS_CPU(1))
    assert keep_cpu_memory()
    rng = np.random.default_rng(0)
    x = [rng.random((128, 1, 64, 64), dtype=np.float32),
         rng.normal(size=(128, 10)).astype(np.float32)]  # fmt: skip
    y = [rng.normal(size=(128, 1)).astype(np.float32)]
    eddl.fit(net, x, y, 32, 2, verbose=0)  # warm-up: the heap grows to the step's peak
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    eddl.fit(net, x, y, 32, 2, verbose=0)
    per_step = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 8
    # one step's activations are ~60 MiB (15,000 pages): faulting them in would show
    assert per_step < 300, per_step


def test_the_tuning_can_be_turned_off(monkeypatch):
    from deephealth.eddl import cpu_memory

    monkeypatch.setattr(cpu_memory, "_done", None)  # as in a new process
    monkeypatch.setenv("DEEPHEALTH_MALLOC_TUNING", "0")
    assert cpu_memory.keep_cpu_memory() is False
