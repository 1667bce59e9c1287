"""`deephealth serve`: the web front-end with its worker processes, on one data folder.

Migrates the database to the newest schema, re-queues (or marks interrupted) jobs left running by
a previous server, starts `--workers` worker processes, then serves the application with uvicorn
until interrupted; the workers are stopped on the way out (their jobs go back to the queue and
resume from their checkpoints next time).
"""

from __future__ import annotations

import argparse
import signal
import threading


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` sub-command."""
    p = subparsers.add_parser(
        "serve",
        help="start the web front-end (datasets, trainings, reports, inference API)",
        description="Start the DeepHealth web front-end: SQLite and local worker processes by "
        "default, everything under one data folder; OpenAPI docs at /docs.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on [127.0.0.1]")
    p.add_argument("--port", type=int, default=8000, help="port [8000]")
    p.add_argument("--data-dir", default=None, help="data folder [./deephealth-data]")
    p.add_argument("--db-url", default=None, help="SQLAlchemy URL [SQLite in the data folder]")
    p.add_argument("--workers", type=int, default=None, help="worker processes for jobs [2]")
    p.add_argument("--max-concurrent-jobs", type=int, default=None, help="jobs running at once")
    p.add_argument(
        "--approved-folder",
        action="append",
        default=None,
        help="server folder admins may register datasets from (repeatable)",
    )
    p.add_argument(
        "--launcher",
        choices=("local", "distributed"),
        default=None,
        help="where trainings run [local]",
    )
    p.add_argument(
        "--no-auto-resume",
        action="store_true",
        help="mark jobs of a previous run interrupted instead of resuming them",
    )
    p.add_argument(
        "--insecure-cookies",
        action="store_true",
        help="send session cookies without the Secure flag (plain-HTTP hosts)",
    )
    p.add_argument("--job-threads", type=int, default=None, help="CPU threads per training")
    p.add_argument(
        "--closed-signup",
        action="store_true",
        help="no self sign-up after the first (admin) account; admins create accounts",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the server and its workers; returns when the server stops."""
    try:
        import uvicorn

        from deephealth.server.app import create_app
        from deephealth.server.config import ServerConfig
        from deephealth.server.jobs.supervisor import WorkerPool
    except ImportError as err:
        print(f"deephealth serve needs the server extra: pip install 'deephealth[server]' ({err})")
        return 2
    overrides: dict[str, object] = {
        "data_dir": args.data_dir,
        "db_url": args.db_url,
        "workers": args.workers,
        "max_concurrent_jobs": args.max_concurrent_jobs,
        "approved_folders": args.approved_folder,
        "launcher": args.launcher,
        "job_threads": args.job_threads,
    }
    if args.no_auto_resume:
        overrides["auto_resume"] = False
    if args.closed_signup:
        overrides["signup_open"] = False
    if args.insecure_cookies:
        overrides["secure_cookies"] = False
    try:
        config = ServerConfig.from_env(**overrides)
    except ValueError as err:
        print(f"deephealth serve: {err}")
        return 2
    app = create_app(config)
    pool = WorkerPool(config)
    pool.start()
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(5.0):
            pool.check()

    watcher = threading.Thread(target=watch, name="worker-watch", daemon=True)
    watcher.start()
    print(
        f"deephealth serve: http://{args.host}:{args.port}/ (data in {config.data_dir}, "
        f"{config.workers} worker(s))",
        flush=True,
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; with these handlers in
    # place that no longer kills the process, so the workers below are stopped cleanly (their
    # running jobs go back to the queue and resume from their checkpoints).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda _signum, _frame: None)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        stop.set()
        pool.stop()
    return 0
