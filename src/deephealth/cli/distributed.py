"""`deephealth launch` (N processes with torchrun, restarts from checkpoints) and `deephealth slurm`."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `launch` and `slurm` commands."""
    p = subparsers.add_parser(
        "launch",
        help="run a training script on N processes (torchrun), restarting it on failure",
        description="Run SCRIPT on N local processes with torchrun. If a process dies or hangs, "
        "the job is stopped, the failing rank is named, and the script is started again with "
        "DEEPHEALTH_RESUME=1 so it continues from its last checkpoint.",
    )
    p.add_argument("-n", "--nproc", type=int, required=True, help="number of processes")
    p.add_argument("--max-restarts", type=int, default=2, help="new attempts after a failure")
    p.add_argument("--timeout", type=float, default=None, help="seconds allowed per attempt")
    p.add_argument(
        "--heartbeat-timeout", type=float, default=300.0, help="seconds of silence = hung rank"
    )
    p.add_argument("--threads", type=int, default=None, help="threads per process")
    p.add_argument("--run-dir", default="runs/launch", help="heartbeats and launch_report.json")
    p.add_argument("-m", dest="module", help="run a module (as python -m) instead of a script")
    p.add_argument(
        "target", nargs=argparse.REMAINDER, help="script.py [args], or the module's args"
    )
    p.set_defaults(func=_launch)

    s = subparsers.add_parser(
        "slurm",
        help="write, submit and follow a Slurm batch job for a pipeline config",
        description="Write an sbatch script that runs `srun torchrun ... deephealth train CONFIG "
        "--resume` on K nodes with G GPUs each (requeued from its checkpoint on failure), submit "
        "it with sbatch and follow it with sacct.",
    )
    s.add_argument("config", help="pipeline config (YAML)")
    s.add_argument("--nodes", type=int, default=1)
    s.add_argument("--gpus-per-node", type=int, default=1)
    s.add_argument("--cpus-per-task", type=int, default=8)
    s.add_argument("--time", default="24:00:00", help="wall-clock limit (HH:MM:SS)")
    s.add_argument("--partition", default=None)
    s.add_argument("--account", default=None)
    s.add_argument("--run-dir", default="runs/slurm")
    s.add_argument("--dry-run", action="store_true", help="only write the script")
    s.add_argument("--no-follow", action="store_true", help="submit and return at once")
    s.set_defaults(func=_slurm)


def _launch(args: argparse.Namespace) -> int:
    from deephealth.eddl.distributed.launcher import launch

    target = ["-m", args.module, *args.target] if args.module else list(args.target)
    if not target:
        print(
            "deephealth launch: give the script to run, e.g. 'train.py' or '-m pkg.mod'",
            file=sys.stderr,
        )
        return 2
    try:
        report = launch(
            target,
            nproc=args.nproc,
            run_dir=args.run_dir,
            max_restarts=args.max_restarts,
            timeout_s=args.timeout,
            heartbeat_timeout_s=args.heartbeat_timeout,
            threads=args.threads,
        )
    except ValueError as err:
        print(f"deephealth launch: {err}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


def _slurm(args: argparse.Namespace) -> int:
    from deephealth.eddl.distributed import slurm

    job = slurm.SlurmJob(
        config=args.config,
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        cpus_per_task=args.cpus_per_task,
        time_limit=args.time,
        partition=args.partition,
        account=args.account,
        run_dir=args.run_dir,
    )
    try:
        script = slurm.write_script(job)
        print(f"batch script: {script}")
        if args.dry_run:
            return 0
        job_id = slurm.submit(script)
        print(f"submitted Slurm job {job_id}")
        if args.no_follow:
            return 0
        state = slurm.follow(job_id)
    except (ValueError, slurm.SlurmError) as err:
        print(f"deephealth slurm: {err}", file=sys.stderr)
        return 2
    print(f"Slurm job {job_id}: {state}")
    return 0 if state == "COMPLETED" else 1
