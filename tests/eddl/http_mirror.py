"""A loopback HTTP mirror for download tests: static files, HTTP Range, and cut transfers.

`MirrorServer(root)` serves the files of `root` on 127.0.0.1 (never the internet). It honours
`Range: bytes=N-` (206 Partial Content) unless `ranges=False`; with `cut_after=n`, the next
responses announce the full length but close the connection after `n` body bytes, as a dropped
network would. `requests` records (path, Range header) per GET.
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path


class MirrorServer:
    """A threaded static file server on 127.0.0.1 with Range support."""

    def __init__(self, root: Path, *, ranges: bool = True) -> None:
        self.root = Path(root)
        self.ranges = ranges
        self.cut_after: int | None = None
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                outer.requests.append((self.path, rng))
                path = outer.root / self.path.lstrip("/").split("?")[0]
                if not path.is_file():
                    self.send_error(404, "not found")
                    return
                data = path.read_bytes()
                start = 0
                if rng and outer.ranges and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes" if outer.ranges else "none")
                self.end_headers()
                if outer.cut_after is not None:
                    self.wfile.write(body[: outer.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Shut the server down."""
        self.httpd.shutdown()
        self.httpd.server_close()
