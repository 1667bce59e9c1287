"""Run a pipeline training on N processes: `deephealth train --nproc N` and the web server's hook.

`launch_training` writes the config into the run folder, starts `deephealth train` on N processes
with `deephealth launch` (torchrun, heartbeats, restarts from the last checkpoint), forwards the
events rank 0 writes to `events.jsonl` as they appear, stops the job when `should_stop` says so,
and returns the result rank 0 wrote (`result.json`), with the launch report attached.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from deephealth.errors import PipelineError
from deephealth.pipelines.config import load_config

RESULT_FILE = "result.json"


class ParallelRunError(PipelineError, RuntimeError):
    """The distributed run failed after all its attempts (the launch report says why)."""


def _tail(path: Path, offset: int, on_event: Callable[[dict], None] | None) -> int:
    """Forward the complete lines of `path` after `offset`; return the new offset."""
    if on_event is None or not path.exists():
        return offset
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    for line in data[:end].splitlines():
        if line.strip():
            on_event(json.loads(line))
    return offset + end


def launch_training(
    config: dict | str | Path,
    run_dir: str | Path,
    on_event: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
    nproc: int = 2,
    max_restarts: int = 2,
    threads: int | None = None,
    timeout_s: float | None = None,
    poll_s: float = 0.5,
) -> dict[str, Any]:
    """Train `config` on `nproc` local processes; blocks until the run ends.

    Args:
        config: Pipeline config (dict, YAML file or text).
        run_dir: Run folder (as for `pipelines.run.train`).
        on_event: Called with every event rank 0 records.
        should_stop: Polled every `poll_s`; True stops the job.
        resume: Continue from the run folder's last checkpoint.
        nproc: Processes.
        max_restarts: New attempts after a rank fails (each resumes from the checkpoint).
        threads: Threads per process (default: cores / nproc).
        timeout_s: Wall-clock limit per attempt.
        poll_s: Polling period of events and `should_stop`.

    Returns:
        The result dict of `pipelines.run.train`, plus "launch" (the launch report).

    Raises:
        ParallelRunError: the job failed after all attempts (the ranks and causes are named).
    """
    from deephealth.eddl.distributed.launcher import launch

    cfg = load_config(config)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg_path = run_dir / "launch_config.yml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    (run_dir / RESULT_FILE).unlink(missing_ok=True)
    events = run_dir / "events.jsonl"
    offset = events.stat().st_size if resume and events.exists() else 0
    if not resume:
        events.unlink(missing_ok=True)
    target = ["-m", "deephealth.cli", "train", str(cfg_path), "--run-dir", str(run_dir), "-q"]
    if resume:
        target.append("--resume")
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["report"] = launch(
            target, nproc, run_dir / "launch", max_restarts, timeout_s, threads=threads, stop=stop
        )

    worker = threading.Thread(target=run, name="deephealth-launch", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(poll_s)
        offset = _tail(events, offset, on_event)
        if should_stop is not None and not stop.is_set() and should_stop():
            stop.set()
    _tail(events, offset, on_event)
    report = outcome["report"]
    if stop.is_set():
        return {"status": "stopped", "run_dir": str(run_dir), "onnx": None, "launch": report}
    if not report.ok:
        raise ParallelRunError(f"distributed training in {run_dir} failed:\n{report.summary()}")
    result = json.loads((run_dir / RESULT_FILE).read_text())
    result["launch"] = report
    return result
