"""The parallel batch engine behind DLDataset: ordered batches, bounded memory, no hangs.

Workers (threads by default; OpenCV and numpy release the GIL, so threads run in parallel without
copying batches between processes) load samples and write them straight into preallocated batch
tensors. Batch ``k`` always holds positions ``k*bs .. (k+1)*bs-1`` of the job list, so the order is
deterministic whatever the worker count. At most ``max_ahead`` samples are loaded ahead of the
consumer (the bounded queue): a dataset larger than RAM streams. A sample that fails marks its batch;
the consumer raises a :class:`SampleLoadError` naming the sample when it reaches that batch, and the
workers are stopped, never left waiting. A process backend (fork) is available for pure-Python
augmentations that hold the GIL.

Worker threads are daemons, and every started pipeline is stopped by an ``atexit`` hook, before the
interpreter finalizes: a script that ends (or dies of an exception) while a DLDataset is started
exits with its own status and traceback. Without the hook, a daemon thread caught inside OpenCV or
torch at finalization is unwound by force and the C++ runtime aborts the process ("terminate called
without an active exception", SIGABRT).
"""

from __future__ import annotations

import atexit
import collections
import multiprocessing as mp
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deephealth.ecvl.dataset.errors import DatasetError, SampleLoadError

LoadFn = Callable[[Any], tuple[np.ndarray, np.ndarray | None]]


def _torch() -> Any:
    import torch

    return torch


class _Slot:
    __slots__ = ("n", "x", "y", "xt", "yt", "filled", "error")

    def __init__(self, n: int) -> None:
        self.n, self.filled = n, 0
        self.x = self.y = self.xt = self.yt = None
        self.error: tuple[int, BaseException] | None = None


def _alloc(n: int, x: np.ndarray, y: np.ndarray | None) -> tuple[Any, Any, Any, Any]:
    torch = _torch()
    xt = torch.empty((n, *x.shape), dtype=torch.float32)
    yt = None if y is None else torch.empty((n, *y.shape), dtype=torch.float32)
    return xt.numpy(), None if yt is None else yt.numpy(), xt, yt


def _put(buf: np.ndarray, i: int, arr: np.ndarray, what: str) -> None:
    if buf.shape[1:] != arr.shape:
        raise ValueError(f"{what} shape {arr.shape} differs from the batch's {buf.shape[1:]}")
    np.copyto(buf[i], arr, casting="unsafe")


class BatchPipeline:
    """Load ``jobs`` in parallel and hand out ordered batches.

    Args:
        jobs: One opaque job per sample, in batch order.
        batch_size: Samples per batch (the last batch may be smaller).
        load: ``load(job) -> (x, y)``: channel-first float-convertible arrays (y may be None).
        num_workers: Worker count (0: load in the consumer thread).
        max_ahead: Most samples loaded but not yet consumed (at least one batch).
        backend: ``"thread"`` or ``"process"``.
        describe: ``describe(job) -> (index, location)`` to name a job in error messages.
    """

    def __init__(
        self,
        jobs: Sequence[Any],
        batch_size: int,
        load: LoadFn,
        num_workers: int = 1,
        max_ahead: int | None = None,
        backend: str = "thread",
        describe: Callable[[Any], tuple[int, Any]] | None = None,
    ) -> None:
        if backend not in ("thread", "process"):
            raise DatasetError(f"backend must be 'thread' or 'process', got {backend!r}")
        self.jobs, self.bs, self.load = list(jobs), int(batch_size), load
        self.describe = describe or (lambda job: (-1, job))
        self.num_workers, self.backend = max(0, int(num_workers)), backend
        self.max_ahead = max(self.bs, int(max_ahead or self.bs * max(1, self.num_workers)))
        self.num_batches = -(-len(self.jobs) // self.bs) if self.bs else 0
        self._cond = threading.Condition()
        self._next = 0
        self._consumed = 0
        self._slots: dict[int, _Slot] = {}
        self._stopped = False
        self._threads: list[threading.Thread] = []
        self._pool: Any = None
        self._pending: collections.deque = collections.deque()
        self._submitted = 0

    # ------------------------------------------------------------------------------- common
    def _batch_len(self, b: int) -> int:
        return min(self.bs, len(self.jobs) - b * self.bs)

    def start(self) -> None:
        """Start the workers."""
        _LIVE.add(self)  # stopped at interpreter exit if the caller does not
        if self.backend == "process" and self.num_workers > 0:
            self._start_processes()
            return
        for k in range(self.num_workers):
            t = threading.Thread(target=self._worker, name=f"dldataset-{k}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop the workers (the samples being loaded finish first)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for t in self._threads:
            t.join()
        self._threads.clear()
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
            _FORK_JOBS.pop(id(self), None)

    def queue_size(self) -> int:
        """Samples loaded and waiting for the consumer."""
        if self._pool is not None:
            return sum(self._batch_len(b) for b, r in self._pending if r.ready())
        with self._cond:
            return sum(s.filled for s in self._slots.values())

    def get(self) -> tuple[list[Any], Any, Any]:
        """The next batch ``(jobs, x, y)``.

        Raises:
            StopIteration: All batches were handed out.
            SampleLoadError: A sample of this batch failed (workers are stopped).
        """
        if self._consumed >= self.num_batches:
            raise StopIteration
        if self._pool is not None:
            return self._get_process()
        if self.num_workers == 0:
            return self._get_inline()
        b = self._consumed
        with self._cond:
            while True:
                slot = self._slots.get(b)
                if slot is not None and slot.filled == slot.n:
                    break
                if not any(t.is_alive() for t in self._threads):
                    raise DatasetError("the loader workers stopped before finishing the batch")
                self._cond.wait(timeout=1.0)
            del self._slots[b]
            self._consumed += 1
            self._cond.notify_all()
        if slot.error is not None:
            self.stop()
            raise slot.error[1]
        return self.jobs[b * self.bs : b * self.bs + slot.n], slot.xt, slot.yt

    # ------------------------------------------------------------------------------ threads
    def _process_one(self, pos: int) -> None:
        b, i = divmod(pos, self.bs)
        err: BaseException | None = None
        x = y = None
        try:
            x, y = self.load(self.jobs[pos])
        except BaseException as e:
            err = e
        with self._cond:
            slot = self._slots.get(b)
            if slot is None:
                slot = self._slots[b] = _Slot(self._batch_len(b))
            if err is None and slot.x is None:
                slot.x, slot.y, slot.xt, slot.yt = _alloc(slot.n, x, y)
        if err is None:
            try:
                _put(slot.x, i, x, "image")
                if slot.y is not None:
                    _put(slot.y, i, y, "label")
            except Exception as e:
                err = e
        with self._cond:
            if err is not None and (slot.error is None or pos < slot.error[0]):
                if not isinstance(err, SampleLoadError):
                    index, where = self.describe(self.jobs[pos])
                    err = SampleLoadError(index, where, f"{type(err).__name__}: {err}")
                slot.error = (pos, err)
            slot.filled += 1
            if slot.filled == slot.n:
                self._cond.notify_all()

    def _worker(self) -> None:
        n = len(self.jobs)
        while True:
            with self._cond:
                while (
                    not self._stopped
                    and self._next < n
                    and self._next >= self._consumed * self.bs + self.max_ahead
                ):
                    self._cond.wait()
                if self._stopped or self._next >= n:
                    return
                pos = self._next
                self._next += 1
            self._process_one(pos)

    def _get_inline(self) -> tuple[list[Any], Any, Any]:
        b = self._consumed
        start = b * self.bs
        for pos in range(start, start + self._batch_len(b)):
            self._process_one(pos)
        slot = self._slots.pop(b)
        self._consumed += 1
        if slot.error is not None:
            raise slot.error[1]
        return self.jobs[start : start + slot.n], slot.xt, slot.yt

    # ---------------------------------------------------------------------------- processes
    def _start_processes(self) -> None:
        _FORK_JOBS[id(self)] = (self.load, self.jobs, self.describe)
        self._pool = mp.get_context("fork").Pool(self.num_workers)
        ahead = max(1, self.max_ahead // self.bs)
        while self._submitted < self.num_batches and len(self._pending) < ahead:
            self._submit()

    def _submit(self) -> None:
        b = self._submitted
        res = self._pool.apply_async(_run_batch, (id(self), b * self.bs, self._batch_len(b)))
        self._pending.append((b, res))
        self._submitted += 1

    def _get_process(self) -> tuple[list[Any], Any, Any]:
        torch = _torch()
        b, res = self._pending.popleft()
        status, x, y = res.get()
        self._consumed += 1
        if status == "error":
            self.stop()
            raise x
        if self._submitted < self.num_batches:
            self._submit()
        start = b * self.bs
        xt = torch.from_numpy(x)
        yt = None if y is None else torch.from_numpy(y)
        return self.jobs[start : start + len(x)], xt, yt


_FORK_JOBS: dict[int, tuple[LoadFn, list[Any], Callable[[Any], tuple[int, Any]]]] = {}
_LIVE: weakref.WeakSet[BatchPipeline] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """Stop every started pipeline's workers before the interpreter finalizes (no SIGABRT)."""
    for pipe in list(_LIVE):
        try:
            pipe.stop()
        except Exception:
            pass


def _run_batch(token: int, start: int, n: int) -> tuple[str, Any, Any]:
    load, jobs, describe = _FORK_JOBS[token]
    xs, ys = None, None
    for i in range(n):
        try:
            x, y = load(jobs[start + i])
            if xs is None:
                xs = np.empty((n, *x.shape), np.float32)
                ys = None if y is None else np.empty((n, *y.shape), np.float32)
            _put(xs, i, x, "image")
            if ys is not None:
                _put(ys, i, y, "label")
        except SampleLoadError as e:
            return "error", e, None
        except Exception as e:
            index, where = describe(jobs[start + i])
            return "error", SampleLoadError(index, where, f"{type(e).__name__}: {e}"), None
    return "ok", xs, ys
