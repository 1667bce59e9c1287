"""`deephealth launch`: run a training on N processes with torchrun, and restart it when it fails.

Each attempt runs `torchrun --standalone --nproc-per-node N` in its own process group. The launcher
watches every rank's heartbeat (see `heartbeat.py`): when a rank dies, torchrun stops the others
within seconds; when a rank hangs (no heartbeat for `heartbeat_timeout_s`) or the whole job exceeds
`timeout_s`, the launcher stops the job itself. Either way it reports which rank failed and why
(from the ranks' exit records, not from log text), then starts a new attempt with
`DEEPHEALTH_RESUME=1`, so a script that checkpoints every epoch (`fit(..., resume=...)`, the
pipelines) finishes with at most one epoch redone. torchrun's own `--max-restarts` is not used: it
failed to re-rendezvous reliably on the machines this was built on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from deephealth.eddl.distributed.heartbeat import ENV_DIR, write_json_atomic

RESUME_ENV = "DEEPHEALTH_RESUME"
ATTEMPT_ENV = "DEEPHEALTH_ATTEMPT"
POLL_S = 0.25


@dataclass
class RankFailure:
    """Why one rank of one attempt did not finish."""

    rank: int | None
    cause: str


@dataclass
class Attempt:
    """One torchrun run of the job."""

    number: int
    exit_code: int | None = None
    seconds: float = 0.0
    failures: list[RankFailure] = field(default_factory=list)


@dataclass
class LaunchReport:
    """Outcome of `launch`: success and every attempt with its failures."""

    ok: bool
    nproc: int
    command: list[str]
    attempts: list[Attempt] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines a person can act on."""
        lines = []
        for a in self.attempts:
            state = "finished" if a.exit_code == 0 else f"failed (exit code {a.exit_code})"
            lines.append(f"attempt {a.number}: {state} after {a.seconds:.1f} s")
            lines.extend(
                f"  rank {f.rank if f.rank is not None else '?'}: {f.cause}" for f in a.failures
            )
        verdict = "job finished" if self.ok else "job FAILED after all attempts"
        return "\n".join([*lines, verdict])


def torchrun_command(nproc: int, target: Sequence[str]) -> list[str]:
    """The torchrun command line for `target` (a script with arguments, or `-m module ...`)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "--monitor-interval=0.5",
        *target,
    ]


def read_records(directory: Path) -> dict[int, dict]:
    """Heartbeat records by rank (unreadable ones are skipped)."""
    records = {}
    for path in sorted(directory.glob("rank*.json")):
        try:
            record = json.loads(path.read_text())
            records[int(record["rank"])] = record
        except (OSError, ValueError, KeyError):
            continue
    return records


def diagnose(records: dict[int, dict], nproc: int, exit_code: int | None) -> list[RankFailure]:
    """Name the rank(s) that caused a failed attempt from their exit records."""
    failures = [
        RankFailure(rank, f"raised {rec.get('cause', 'an error')}")
        for rank, rec in sorted(records.items())
        if rec.get("status") == "error"
    ]
    failures += [
        RankFailure(rank, "died without an exit record (killed, e.g. SIGKILL or out of memory)")
        for rank, rec in sorted(records.items())
        if rec.get("status") is None
    ]
    missing = sorted(set(range(nproc)) - set(records))
    failures += [RankFailure(rank, "never started (no heartbeat)") for rank in missing]
    if not failures:
        failures.append(RankFailure(None, f"torchrun exited with code {exit_code}"))
    return failures


def _stop(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace_s)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def run_attempt(
    command: list[str],
    env: dict[str, str],
    beat_dir: Path,
    nproc: int,
    number: int,
    timeout_s: float | None,
    heartbeat_timeout_s: float,
    stop: threading.Event | None = None,
) -> Attempt:
    """Run one attempt and watch it until it ends, hangs, times out or is stopped."""
    attempt = Attempt(number)
    start = time.monotonic()
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    watchdog_cause: RankFailure | None = None
    first_dead: RankFailure | None = None
    while proc.poll() is None:
        time.sleep(POLL_S)
        elapsed = time.monotonic() - start
        if stop is not None and stop.is_set():
            watchdog_cause = RankFailure(None, "stopped on request")
            break
        if timeout_s is not None and elapsed > timeout_s:
            watchdog_cause = RankFailure(None, f"job timeout of {timeout_s:.0f} s exceeded")
            break
        now = time.time()
        for rank, rec in read_records(beat_dir).items():
            silent = now - float(rec.get("time", now))
            if first_dead is None and rec.get("status") is None and not _alive(rec.get("pid")):
                first_dead = RankFailure(
                    rank,
                    "died first, without an exit record (killed, e.g. SIGKILL or out of memory)",
                )
            if rec.get("status") is None and silent > heartbeat_timeout_s:
                watchdog_cause = RankFailure(rank, f"no heartbeat for {silent:.0f} s (hung)")
                break
        if watchdog_cause:
            break
    if watchdog_cause is not None:
        _stop(proc)
    attempt.exit_code = proc.wait()
    attempt.seconds = time.monotonic() - start
    if watchdog_cause is not None:
        attempt.failures = [watchdog_cause]
    elif attempt.exit_code != 0:
        failures = diagnose(read_records(beat_dir), nproc, attempt.exit_code)
        if first_dead is not None:
            failures = [first_dead, *(f for f in failures if f.rank != first_dead.rank)]
        attempt.failures = failures
    return attempt


def _alive(pid: int | None) -> bool:
    if not pid:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by torchrun) is dead too
        return Path(f"/proc/{int(pid)}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def launch(
    target: Sequence[str],
    nproc: int,
    run_dir: str | Path = "runs/launch",
    max_restarts: int = 2,
    timeout_s: float | None = None,
    heartbeat_timeout_s: float = 300.0,
    threads: int | None = None,
    stop: threading.Event | None = None,
) -> LaunchReport:
    """Run `target` on `nproc` processes, restarting from the last checkpoint on failure.

    Args:
        target: Script path and its arguments, or `["-m", "module", ...]`.
        nproc: Processes on this machine.
        run_dir: Where heartbeats and `launch_report.json` go.
        max_restarts: New attempts after a failure.
        timeout_s: Wall-clock limit of one attempt (None: no limit).
        heartbeat_timeout_s: A rank silent this long is considered hung.
        threads: Torch/OpenMP threads per process (default: cores / nproc).
        stop: Set it to stop the job (no restart follows).

    Returns:
        The report, also written to `run_dir/launch_report.json`.
    """
    if nproc < 1:
        raise ValueError(f"nproc must be at least 1, got {nproc}")
    if max_restarts < 0:
        raise ValueError(f"max_restarts must be 0 or more, got {max_restarts}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 1
    threads = threads or max(1, cores // nproc)
    command = torchrun_command(nproc, target)
    report = LaunchReport(ok=False, nproc=nproc, command=command)
    for number in range(max_restarts + 1):
        beat_dir = run_dir / "heartbeat" / f"attempt{number}"
        beat_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            ENV_DIR: str(beat_dir),
            ATTEMPT_ENV: str(number),
            "OMP_NUM_THREADS": str(threads),
        }
        if number > 0:
            env[RESUME_ENV] = "1"
        attempt = run_attempt(
            command, env, beat_dir, nproc, number, timeout_s, heartbeat_timeout_s, stop
        )
        report.attempts.append(attempt)
        write_json_atomic(run_dir / "launch_report.json", asdict(report))
        if attempt.exit_code == 0 and not attempt.failures:
            report.ok = True
            break
        if stop is not None and stop.is_set():
            break
    write_json_atomic(run_dir / "launch_report.json", asdict(report))
    return report
