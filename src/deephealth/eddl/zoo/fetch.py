"""File transfers for the zoo: a mirror URL, a cache, SHA-256 checks and resumable HTTP downloads.

`fetch(url, filename)` returns the cached copy of `url` (`<cache>/<filename>`), downloading it when
missing. A transfer writes `<filename>.part` beside the cache entry and, when interrupted, keeps it:
the next call asks the server for the rest only (HTTP `Range: bytes=N-`) and starts over when the
server does not support ranges. The finished file is checked against a SHA-256 (given, or published
by the server as `<url>.sha256`) before it enters the cache; a mismatch leaves nothing behind.
The cache folder is `$DEEPHEALTH_CACHE`, default `~/.cache/deephealth/models`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from deephealth.errors import EddlError

CACHE_ENV = "DEEPHEALTH_CACHE"
TIMEOUT_S = 30.0
BLOCK = 1 << 20


class DownloadError(EddlError, RuntimeError):
    """A file could not be fetched (and is not in the cache), or failed its checksum."""


def cache_dir() -> Path:
    """The download cache folder (created when missing)."""
    folder = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "deephealth" / "models")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def is_url(text: str) -> bool:
    """True for an http(s) or file URL."""
    return text.startswith(("http://", "https://", "file://"))


def check_sha256(path: Path, expected: str | None, source: str) -> None:
    """Raise `DownloadError` when `path` does not have the `expected` SHA-256 (None: no check)."""
    if expected is not None and sha256_of(path) != expected.lower():
        raise DownloadError(
            f"{source}: SHA-256 {sha256_of(path)} does not match the expected {expected.lower()}"
        )


def published_sha256(url: str) -> str | None:
    """The checksum a server publishes beside a file (`<url>.sha256`), if any."""
    try:
        with urllib.request.urlopen(url + ".sha256", timeout=TIMEOUT_S) as response:
            text = response.read(4096).decode("ascii", "replace").split()
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return text[0].lower() if text else None


def transfer(url: str, part: Path) -> None:
    """Download `url` into `part`, continuing after the bytes `part` already holds.

    Raises:
        DownloadError: on a network error (the partial file is kept for the next try).
    """
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url)
    if have and url.startswith(("http://", "https://")):
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to send: the part is complete
            return
        raise DownloadError(f"cannot download {url}: {err}") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as err:
        raise DownloadError(f"cannot download {url}: {err}") from None
    with response:
        resumed = getattr(response, "status", 200) == 206
        expected = response.headers.get("Content-Length")
        written = 0
        try:
            with open(part, "ab" if resumed else "wb") as out:
                try:
                    while block := response.read(BLOCK):
                        out.write(block)
                        written += len(block)
                except http.client.IncompleteRead as err:
                    out.write(err.partial)
                    written += len(err.partial)
                    raise
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(
                f"download of {url} interrupted after {have + written if resumed else written} "
                f"bytes ({err}); the partial file {part} is kept: call again to resume"
            ) from None
    if expected is not None and written != int(expected):
        raise DownloadError(
            f"download of {url} ended after {written} of {expected} bytes; the partial file "
            f"{part} is kept: call again to resume"
        )


def fetch(
    url: str,
    filename: str,
    *,
    cache: str | os.PathLike[str] | None = None,
    sha256: str | None = None,
    force: bool = False,
) -> Path:
    """The cached copy of `url` as `<cache>/<filename>`, downloaded (or resumed) when needed.

    Raises:
        DownloadError: network failure with nothing cached, checksum mismatch.
    """
    folder = Path(cache) if cache is not None else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    if target.is_file() and not force:
        check_sha256(target, sha256, str(target))
        return target
    part = folder / f"{filename}.part"
    if force:
        part.unlink(missing_ok=True)
    try:
        transfer(url, part)
    except DownloadError:
        if target.is_file():
            return target  # offline: the cached copy
        raise
    try:
        check_sha256(part, sha256 or published_sha256(url), url)
    except DownloadError:
        part.unlink(missing_ok=True)
        raise
    part.replace(target)
    return target


def place(src: Path, dest: Path) -> Path:
    """Copy `src` to `dest` atomically (nothing when they are the same file)."""
    if dest.exists() and src.exists() and os.path.samefile(src, dest):
        return dest
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dest)
    return dest
