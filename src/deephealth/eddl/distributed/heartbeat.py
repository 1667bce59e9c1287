"""Heartbeat and exit records of each rank, read by `deephealth launch`.

When the launcher sets `DEEPHEALTH_HEARTBEAT_DIR`, every rank writes `rank<N>.json` there: its pid
and host, a timestamp refreshed every second by a daemon thread, and at the end its exit status
("ok", "error" with the exception, or "terminated" when the launcher stopped it). A rank that was
killed (SIGKILL, out of memory) leaves a record with no exit status, which is how the launcher names
it without parsing any log text.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ENV_DIR = "DEEPHEALTH_HEARTBEAT_DIR"
INTERVAL_S = 1.0


def write_json_atomic(path: Path, record: dict[str, Any]) -> None:
    """Write `record` as JSON to `path` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


class Heartbeat:
    """Keeps `rank<N>.json` fresh while the process runs and records how it ended."""

    def __init__(self, directory: str | Path, rank: int) -> None:
        self.path = Path(directory) / f"rank{rank}.json"
        self.record: dict[str, Any] = {
            "rank": rank,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.time(),
            "time": time.time(),
            "status": None,
        }
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write()

    def _write(self) -> None:
        with self._lock:
            self.record["time"] = time.time()
            write_json_atomic(self.path, self.record)

    def update(self, **fields: Any) -> None:
        """Add progress fields (epoch, batch, ...) to the record."""
        with self._lock:
            self.record.update(fields)

    def finish(self, status: str, cause: str | None = None) -> None:
        """Write the exit status once; later calls are ignored."""
        if self.record["status"] is not None:
            return
        self.record["status"] = status
        if cause:
            self.record["cause"] = cause
        self._stop.set()
        self._write()

    def _beat(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self._write()

    def start(self) -> Heartbeat:
        """Start the refresh thread and the exit hooks (exception, SIGTERM, normal exit)."""
        threading.Thread(target=self._beat, name="deephealth-heartbeat", daemon=True).start()
        previous_hook = sys.excepthook

        def on_exception(kind, value, tb):
            text = "".join(traceback.format_exception_only(kind, value)).strip()
            self.finish("error", text)
            previous_hook(kind, value, tb)

        sys.excepthook = on_exception

        def on_term(signum, frame):
            self.finish("terminated", f"signal {signal.Signals(signum).name} from the launcher")
            os._exit(128 + signum)

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_term)
        atexit.register(lambda: self.finish("ok"))
        return self


_current: Heartbeat | None = None


def start_from_env(rank: int) -> Heartbeat | None:
    """Start the heartbeat when the launcher asked for one (`DEEPHEALTH_HEARTBEAT_DIR`)."""
    global _current
    directory = os.environ.get(ENV_DIR)
    if directory and _current is None:
        _current = Heartbeat(directory, rank).start()
    return _current


def current() -> Heartbeat | None:
    """The heartbeat of this process, if any."""
    return _current
