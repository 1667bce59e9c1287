"""Fetching of http(s) sample locations into a local cache folder.

A dataset may list images by URL. They are downloaded once into a cache folder (``$DEEPHEALTH_CACHE``
or ``~/.cache/deephealth/remote``), named by a hash of the URL plus the original file name (so the
reader still sees the extension), written atomically so parallel workers never see a partial file.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from deephealth.ecvl.dataset.errors import DatasetError

URL = re.compile(r"^https?://", re.IGNORECASE)


def is_url(location: str) -> bool:
    """Whether a location is an http(s) URL."""
    return bool(URL.match(location))


def cache_dir(folder: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``folder``, else ``$DEEPHEALTH_CACHE``, else ``~/.cache/deephealth/remote``."""
    if folder is not None:
        return Path(folder)
    env = os.environ.get("DEEPHEALTH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "deephealth" / "remote"


def cached_path(url: str, folder: str | os.PathLike | None = None) -> Path:
    """Where ``url`` is (or will be) cached."""
    name = posixpath.basename(urllib.parse.urlparse(url).path) or "download"
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return cache_dir(folder) / f"{digest}_{name}"


def fetch(url: str, folder: str | os.PathLike | None = None, timeout: float = 60.0) -> str:
    """Download ``url`` into the cache unless already there; return the local path.

    Raises:
        DatasetError: The download failed (the message names the URL and the cause).
    """
    dest = cached_path(url, folder)
    if dest.exists():
        return str(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        os.replace(tmp, dest)
    except Exception as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise DatasetError(f"cannot fetch {url}: {e}") from e
    return str(dest)
