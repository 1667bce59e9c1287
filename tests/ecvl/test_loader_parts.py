"""pyecvl's standalone loader parts: ProducersConsumerQueue (bounded, blocking), ThreadCounters,
and the import of installed back-ends."""

from __future__ import annotations

import threading
import time

import pytest

import deephealth.ecvl as ecvl
from deephealth import eddl


def test_queue_is_fifo_bounded_and_blocks_producers():
    q = ecvl.ProducersConsumerQueue(2)
    s = ecvl.Sample()
    s.location_ = ["a.png"]
    x, y = eddl.Tensor([1, 2]), eddl.Tensor([1])
    q.Push(s, x, y)
    q.Push(s, y, x)
    assert q.IsFull() and q.Length() == 2
    pushed = threading.Event()

    def producer() -> None:
        q.Push(s, x, x)  # waits: the queue is full
        pushed.set()

    t = threading.Thread(target=producer)
    t.start()
    time.sleep(0.1)
    assert not pushed.is_set()
    first = q.Pop()
    assert first[0] is s and first[1] is x and first[2] is y  # oldest first, same objects
    time.sleep(0.1)
    assert not pushed.is_set()  # as ECVL: producers wake only under the threshold (2 // 2)
    q.Pop()
    t.join(timeout=5)
    assert pushed.is_set() and q.Length() == 1
    q.SetSize(8)
    assert not q.IsFull() and q.threshold_ == 4
    q.Clear()
    assert q.IsEmpty()
    with pytest.raises(ValueError, match="max_size"):
        q.SetSize(0)


def test_thread_counters():
    tc = ecvl.ThreadCounters(10, 30)
    assert (tc.counter_, tc.min_, tc.max_) == (10, 10, 30)
    tc = ecvl.ThreadCounters(20, 10, 30)
    tc.counter_ = 25
    tc.Reset()
    assert tc.counter_ == 10
    with pytest.raises(ValueError):
        ecvl.ThreadCounters(1)


def test_import_installed_refuses_blocked_and_missing(monkeypatch):
    from deephealth.ecvl.backends import import_installed, installed

    assert installed("numpy") and not installed("surely-not-a-distribution-xyz")
    with pytest.raises(ImportError, match="pip install nothing"):
        import_installed("nothing_here", "surely-not-a-distribution-xyz", "pip install nothing")
    np_mod = import_installed("numpy", "numpy", "")
    import numpy

    assert np_mod is numpy  # already imported from its own folder: the same module
