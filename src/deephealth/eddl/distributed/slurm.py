"""`deephealth slurm`: write an sbatch script for a pipeline config, submit it and follow it.

The script runs `srun torchrun` with a c10d rendezvous on the first node, one task per node and
`--gpus-per-node` processes per task, `--requeue` so that a preempted or failed node restarts the
job, and `deephealth train --resume`, which continues from the run's last checkpoint. `sbatch` and
`sacct` must be on PATH (a Slurm login node); everything else is plain text that can be reviewed
(`--dry-run` writes the script without submitting it).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from deephealth.errors import EddlError

TERMINAL_STATES = {
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
    "BOOT_FAIL", "DEADLINE",
}  # fmt: skip


class SlurmError(EddlError, RuntimeError):
    """Slurm is missing or refused the job."""


@dataclass
class SlurmJob:
    """Options of the generated batch script."""

    config: str
    nodes: int = 1
    gpus_per_node: int = 1
    cpus_per_task: int = 8
    time_limit: str = "24:00:00"
    partition: str | None = None
    account: str | None = None
    run_dir: str = "runs/slurm"
    port: int = 29500
    python: str = "python"

    def validate(self) -> None:
        """Raise ValueError naming the option that is out of range."""
        if self.nodes < 1:
            raise ValueError(f"--nodes must be at least 1, got {self.nodes}")
        if self.gpus_per_node < 0:
            raise ValueError(f"--gpus-per-node must be 0 or more, got {self.gpus_per_node}")
        if self.cpus_per_task < 1:
            raise ValueError(f"--cpus-per-task must be at least 1, got {self.cpus_per_task}")


def sbatch_script(job: SlurmJob) -> str:
    """The text of the sbatch script for `job`."""
    job.validate()
    procs = max(1, job.gpus_per_node)
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name=deephealth-{Path(job.config).stem}",
        f"#SBATCH --nodes={job.nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --cpus-per-task={job.cpus_per_task}",
        f"#SBATCH --time={job.time_limit}",
        "#SBATCH --requeue",
        f"#SBATCH --output={job.run_dir}/slurm-%j.out",
    ]
    if job.gpus_per_node > 0:
        lines.append(f"#SBATCH --gpus-per-node={job.gpus_per_node}")
    if job.partition:
        lines.append(f"#SBATCH --partition={job.partition}")
    if job.account:
        lines.append(f"#SBATCH --account={job.account}")
    threads = max(1, job.cpus_per_task // procs)
    lines += [
        "",
        "set -euo pipefail",
        'export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f"export MASTER_PORT={job.port}",
        f"export OMP_NUM_THREADS={threads}",
        "srun torchrun \\",
        '  --nnodes="$SLURM_NNODES" \\',
        f"  --nproc-per-node={procs} \\",
        '  --rdzv-id="$SLURM_JOB_ID" --rdzv-backend=c10d \\',
        '  --rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT" \\',
        f"  -m deephealth.cli train {shlex.quote(job.config)} \\",
        f"  --run-dir {shlex.quote(job.run_dir)} --resume",
        "",
    ]
    return "\n".join(lines)


def write_script(job: SlurmJob) -> Path:
    """Write the script into the run directory and return its path."""
    path = Path(job.run_dir) / "job.sbatch"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sbatch_script(job))
    return path


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise SlurmError(
            f"'{tool}' was not found on PATH: run this on a Slurm login node, or use --dry-run "
            "to only write the batch script"
        )
    return found


def submit(script: Path) -> str:
    """Submit with `sbatch --parsable` and return the job id."""
    out = subprocess.run(
        [_require("sbatch"), "--parsable", str(script)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SlurmError(f"sbatch refused {script}: {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout.strip().split(";")[0]


def job_state(job_id: str) -> str:
    """The job's state as `sacct` reports it ("PENDING", "RUNNING", "COMPLETED", ...)."""
    out = subprocess.run(
        [_require("sacct"), "-j", job_id, "-X", "--noheader", "--parsable2", "--format=State"],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SlurmError(f"sacct failed for job {job_id}: {out.stderr.strip()}")
    lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return lines[0].split()[0] if lines else "PENDING"


def follow(job_id: str, poll_s: float = 30.0, max_polls: int | None = None) -> str:
    """Poll `sacct` until the job reaches a terminal state; return that state."""
    polls = 0
    while True:
        state = job_state(job_id)
        if state in TERMINAL_STATES:
            return state
        polls += 1
        if max_polls is not None and polls >= max_polls:
            return state
        time.sleep(poll_s)
