"""Server configuration: where files live, which database, limits and admin-approved folders.

`ServerConfig` is plain data. It is built by `deephealth serve` from its options, or from the
environment (`DEEPHEALTH_DATA_DIR`, `DEEPHEALTH_DB_URL`, ...) by `ServerConfig.from_env`, and it is
passed to worker processes as JSON so that they see exactly the same settings as the web server.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

MiB = 1024 * 1024


@dataclass
class ServerConfig:
    """Settings of one server instance.

    Attributes:
        data_dir: Root of everything the server writes (database file, datasets, runs, models).
        db_url: SQLAlchemy URL; empty means SQLite at `data_dir/deephealth.db`. A
            `postgresql+psycopg://...` URL works as well.
        max_upload_bytes: Largest accepted upload (a dataset zip, an ONNX file).
        max_image_upload_bytes: Largest accepted single image (the predict endpoint).
        max_request_bytes: Largest body of every other request (JSON forms), checked while it
            streams.
        max_text_bytes: Largest text member (YAML, .txt) of a dataset zip, checked while it is
            extracted.
        max_image_bytes: Most memory an image may take once decoded, as its header declares
            (samples x bytes per decoded sample), checked before decoding (uploads, thumbnails,
            predictions).
        max_zip_entries: Most members a dataset zip may have.
        max_zip_total_bytes: Largest total uncompressed size of a dataset zip.
        max_zip_ratio: Largest compression ratio of one zip member (zip-bomb guard).
        approved_folders: Server folders an admin may register datasets from (nothing else).
        max_concurrent_jobs: Jobs running at the same time, all workers together.
        workers: Worker processes `deephealth serve` starts.
        auto_resume: On restart, re-queue jobs that were running (they continue from their last
            checkpoint); when False they are marked interrupted and wait for the resume button.
        launcher: "local" runs trainings in the worker; "distributed" hands them to the
            distributed launcher (see `deephealth.server.jobs.launcher`).
        launcher_options: Options passed to the distributed launcher (processes, SLURM, ...).
        secure_cookies: Mark session cookies `Secure` (browsers treat 127.0.0.1 as secure too).
        session_hours: Lifetime of a login session.
        signup_open: Whether anyone may create an account (the first account is the admin).
        poll_interval_s: How often workers look for queued jobs and SSE streams for new events.
        job_threads: CPU threads a training may use (-1: all).
        gpus: GPUs trainings may use (-1: as many as torch sees on the worker's host).
        trainings_per_gpu: Trainings that may share one GPU at the same time (the queue holds
            further GPU trainings until one ends; CPU jobs pass them).
        argon2_time_cost: argon2id iterations of new password hashes.
        argon2_memory_kib: argon2id memory of new password hashes, in KiB.
        login_ip_limit: Failed logins one IP address may make per `login_window_s` (all
            accounts) before it is refused (429); stored in the database.
        login_window_s: The window of the login limits, in seconds.
        login_free_failures: Failed logins per IP address and account before each further
            attempt is delayed (doubling up to `login_max_delay_s`); the account itself is never
            locked for other addresses.
        login_max_delay_s: The longest delay between attempts of one IP address on one account.
    """

    data_dir: Path = Path("deephealth-data")
    db_url: str = ""
    max_upload_bytes: int = 512 * MiB
    max_image_upload_bytes: int = 64 * MiB
    max_request_bytes: int = 1 * MiB
    max_text_bytes: int = 16 * MiB
    max_image_bytes: int = 100 * MiB
    max_zip_entries: int = 100_000
    max_zip_total_bytes: int = 4096 * MiB
    max_zip_ratio: float = 200.0
    approved_folders: list[Path] = field(default_factory=list)
    max_concurrent_jobs: int = 2
    workers: int = 2
    auto_resume: bool = True
    launcher: str = "local"
    launcher_options: dict = field(default_factory=dict)
    secure_cookies: bool = True
    session_hours: float = 12.0
    signup_open: bool = True
    poll_interval_s: float = 0.5
    job_threads: int = -1
    gpus: int = -1
    trainings_per_gpu: int = 1
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    login_ip_limit: int = 100
    login_window_s: float = 900.0
    login_free_failures: int = 5
    login_max_delay_s: float = 900.0

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.approved_folders = [Path(p).resolve() for p in self.approved_folders]
        if self.launcher not in ("local", "distributed"):
            raise ValueError(f"launcher must be 'local' or 'distributed', got {self.launcher!r}")
        if self.max_concurrent_jobs < 1:
            raise ValueError("max_concurrent_jobs must be at least 1")

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL in use (SQLite under `data_dir` unless `db_url` is set)."""
        return self.db_url or f"sqlite:///{self.data_dir / 'deephealth.db'}"

    def path(self, *parts: str | int) -> Path:
        """A path under `data_dir` (created as a folder on first use of its parent)."""
        return self.data_dir.joinpath(*(str(p) for p in parts))

    def ensure_dirs(self) -> None:
        """Create the data folders."""
        for sub in ("datasets", "models", "runs", "uploads", "tmp"):
            self.path(sub).mkdir(parents=True, exist_ok=True)

    def to_json(self) -> str:
        """The configuration as JSON (for worker processes)."""
        data = asdict(self)
        data["data_dir"] = str(self.data_dir)
        data["approved_folders"] = [str(p) for p in self.approved_folders]
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        """Inverse of `to_json`."""
        return cls(**json.loads(text))

    @classmethod
    def from_env(cls, **overrides: object) -> ServerConfig:
        """Settings from `DEEPHEALTH_*` environment variables, then `overrides`.

        `DEEPHEALTH_APPROVED_FOLDERS` is an `os.pathsep`-separated list; booleans accept 1/0.
        """
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"DEEPHEALTH_{f.name.upper()}")
            if raw is None:
                continue
            if f.name == "approved_folders":
                values[f.name] = [p for p in raw.split(os.pathsep) if p]
            elif f.name == "launcher_options":
                values[f.name] = json.loads(raw)
            elif f.type in ("int", int):
                values[f.name] = int(raw)
            elif f.type in ("float", float):
                values[f.name] = float(raw)
            elif f.type in ("bool", bool):
                values[f.name] = raw.lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
