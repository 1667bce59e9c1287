"""ECVL's loader building blocks with pyecvl names: ``ProducersConsumerQueue`` and ``ThreadCounters``.

DLDataset's own engine is :mod:`deephealth.ecvl.dataset.pipeline`; these two classes are the
standalone pieces pyecvl exposes, for scripts that build their own producer/consumer loops: a
bounded thread-safe FIFO of ``(sample, image tensor, ground-truth tensor)`` and a counter that
resets to its minimum.
"""

from __future__ import annotations

import collections
import threading
from typing import Any


class ProducersConsumerQueue:
    """A bounded FIFO of ``(sample, image, label)`` shared by producer and consumer threads.

    ``Push`` waits while the queue is full, ``Pop`` while it is empty (as ECVL's).

    Args:
        mxsz: Maximum length (default: unbounded).
        thresh: Length under which blocked producers are woken (default ``mxsz // 2``).
    """

    def __init__(self, mxsz: int | None = None, thresh: int | None = None) -> None:
        self._items: collections.deque[tuple[Any, Any, Any]] = collections.deque()
        self._cond = threading.Condition()
        self.max_size_ = 0
        self.threshold_ = 0
        self.SetSize(2**62 if mxsz is None else mxsz, -1 if thresh is None else thresh)

    def SetSize(self, max_size: int, thresh: int = -1) -> None:
        """Set the maximum length and the wake-up threshold (-1: half the maximum)."""
        if int(max_size) <= 0:
            raise ValueError(f"ProducersConsumerQueue: max_size must be positive, got {max_size}")
        with self._cond:
            self.max_size_ = int(max_size)
            self.threshold_ = self.max_size_ // 2 if thresh == -1 else int(thresh)
            self._cond.notify_all()

    def Push(self, sample: Any, image: Any, label: Any) -> None:
        """Append an element, waiting while the queue is full."""
        with self._cond:
            while len(self._items) >= self.max_size_:
                self._cond.wait()
            self._items.append((sample, image, label))
            self._cond.notify_all()

    def Pop(self) -> tuple[Any, Any, Any]:
        """Remove and return the oldest element, waiting while the queue is empty."""
        with self._cond:
            while not self._items:
                self._cond.wait()
            item = self._items.popleft()
            if len(self._items) < self.threshold_:
                self._cond.notify_all()
            return item

    def IsFull(self) -> bool:
        """Whether the queue holds ``max_size_`` elements or more."""
        with self._cond:
            return len(self._items) >= self.max_size_

    def IsEmpty(self) -> bool:
        """Whether the queue is empty."""
        with self._cond:
            return not self._items

    def Length(self) -> int:
        """Number of queued elements."""
        with self._cond:
            return len(self._items)

    def FreeLockedOnPush(self) -> None:
        """Wake producers waiting in ``Push`` when the queue is under the threshold."""
        with self._cond:
            if len(self._items) < self.threshold_:
                self._cond.notify_all()

    def Clear(self) -> None:
        """Drop every element (and wake waiting producers)."""
        with self._cond:
            self._items.clear()
            self._cond.notify_all()


class ThreadCounters:
    """A counter with a minimum and a maximum (pyecvl ``ThreadCounters``).

    ``ThreadCounters(min, max)`` starts at ``min``; ``ThreadCounters(counter, min, max)`` at
    ``counter``.
    """

    def __init__(self, *args: int) -> None:
        if len(args) == 2:
            self.min_, self.max_ = int(args[0]), int(args[1])
            self.counter_ = self.min_
        elif len(args) == 3:
            self.counter_, self.min_, self.max_ = (int(a) for a in args)
        else:
            raise ValueError("ThreadCounters takes (min, max) or (counter, min, max)")

    def Reset(self) -> None:
        """Set the counter back to its minimum."""
        self.counter_ = self.min_
