"""Run dataset-scale work as batches of samples on a local process pool or a Dask cluster.

Each task carries a batch of samples (not one image: per-image tasks cost more in scheduling than
the work itself). The task function writes its outputs to storage and returns only a small record;
the runner then writes the batch's marker file (`.batches/batch_NNNNNN.json`) atomically. The marker
is the commit point: a rerun after a crash skips every batch that has one and redoes the others, so
no finished batch is computed twice and no half-written batch is taken as done.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm import tqdm

MARKERS = ".batches"

TaskFn = Callable[[int, list[Any], str], dict[str, Any]]


@dataclass
class RunStats:
    """What a batch run did."""

    batches: int
    skipped: int
    computed: int
    samples: int
    seconds: float
    workers: int
    engine: str

    @property
    def samples_per_s(self) -> float:
        """Throughput over the computed samples."""
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def make_batches(items: Sequence[Any], batch_size: int) -> list[list[Any]]:
    """Split `items` into consecutive batches of at most `batch_size`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return [list(items[i : i + batch_size]) for i in range(0, len(items), batch_size)]


def marker_path(out_dir: str | Path, index: int) -> Path:
    """Marker file of batch `index`."""
    return Path(out_dir) / MARKERS / f"batch_{index:06d}.json"


def finished(out_dir: str | Path, index: int) -> dict[str, Any] | None:
    """The record of a finished batch, or None when it must be (re)computed."""
    path = marker_path(out_dir, index)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _commit(out_dir: str, index: int, record: dict[str, Any]) -> None:
    path = marker_path(out_dir, index)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def _run_one(fn: TaskFn, index: int, batch: list[Any], out_dir: str) -> tuple[int, dict[str, Any]]:
    record = fn(index, batch, out_dir)
    _commit(out_dir, index, record)
    return index, record


def run_batches(
    fn: TaskFn,
    batches: Sequence[list[Any]],
    out_dir: str | Path,
    workers: int = 2,
    scheduler: str | None = None,
    progress: bool = True,
    description: str = "batches",
    fork_safe: bool = False,
) -> tuple[RunStats, list[dict[str, Any]]]:
    """Run `fn(index, batch, out_dir)` over every unfinished batch.

    Args:
        fn: A picklable top-level function that writes its outputs under `out_dir` and returns
            a small JSON-able record.
        batches: The batches of samples.
        out_dir: Output folder (markers go to `out_dir/.batches`).
        workers: Local processes (ignored with `scheduler`); 1 runs in this process.
        scheduler: Address of a Dask scheduler ("tcp://host:8786"), or "local" for a Dask
            LocalCluster of `workers` processes; None uses a local process pool.
        progress: Show a progress bar.
        description: Label of the progress bar.
        fork_safe: `fn` holds no state from this process (no model session, no thread pool):
            local workers are then forked, which starts them in milliseconds instead of the
            half second of a fresh interpreter. Never done once torch is imported here.

    Returns:
        The run statistics and the records of all batches, in order.
    """
    out = Path(out_dir)
    (out / MARKERS).mkdir(parents=True, exist_ok=True)
    records: dict[int, dict[str, Any]] = {}
    todo = []
    for i in range(len(batches)):
        done = finished(out, i)
        if done is None:
            todo.append(i)
        else:
            records[i] = done
    start = time.perf_counter()
    bar = tqdm(total=len(todo), desc=description, unit="batch", disable=not progress)
    engine = "inline"
    if not todo:
        pass
    elif scheduler is not None:
        engine = "dask"
        for index, record in _run_dask(fn, batches, todo, str(out), workers, scheduler):
            records[index] = record
            bar.update()
    elif workers <= 1:
        for i in todo:
            records[i] = _run_one(fn, i, batches[i], str(out))[1]
            bar.update()
    else:
        engine = "processes"
        method = "fork" if fork_safe and _can_fork() else "spawn"
        with ProcessPoolExecutor(workers, mp_context=get_context(method)) as pool:
            futures = [pool.submit(_run_one, fn, i, batches[i], str(out)) for i in todo]
            for future in as_completed(futures):
                index, record = future.result()
                records[index] = record
                bar.update()
    bar.close()
    seconds = time.perf_counter() - start
    stats = RunStats(
        batches=len(batches),
        skipped=len(batches) - len(todo),
        computed=len(todo),
        samples=sum(len(batches[i]) for i in todo),
        seconds=seconds,
        workers=workers,
        engine=engine,
    )
    return stats, [records[i] for i in range(len(batches))]


def _can_fork() -> bool:
    """Forking is safe: POSIX, and no torch/OpenMP runtime initialised in this process."""
    return os.name == "posix" and "torch" not in sys.modules


def _run_dask(
    fn: TaskFn,
    batches: Sequence[list[Any]],
    todo: list[int],
    out: str,
    workers: int,
    scheduler: str,
):
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as err:
        raise ImportError(
            "Dask is not installed: pip install 'deephealth[dask]' (needed for --scheduler)"
        ) from err
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        client = Client(scheduler, timeout="30s")
    try:
        futures = [client.submit(_run_one, fn, i, batches[i], out, pure=False) for i in todo]
        for future in dask_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
