"""Checkpoints of a slide inference run, so that an interrupted run resumes where it stopped.

A run folder holds ``manifest.json`` (slide, model fingerprint, tiler, number of tiles) and
``chunks/NNNNNN.npz`` files, each with the indices of finished tiles and their outputs, written
atomically (temporary file, then rename). Reopening the folder for the same slide, model and
tiler returns what was done; a folder from another slide, model or tiling is refused rather
than silently mixed.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np


class RunStore:
    """Finished-tile checkpoints of one slide inference run.

    Args:
        folder: run folder (created when missing).
        manifest: what identifies the run (slide, model fingerprint, tiler, number of tiles).

    Raises:
        ValueError: the folder holds a run with a different manifest.
    """

    def __init__(self, folder: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
        self.folder = Path(folder)
        self.chunks = self.folder / "chunks"
        self.chunks.mkdir(parents=True, exist_ok=True)
        path = self.folder / "manifest.json"
        if path.is_file():
            existing = json.loads(path.read_text(encoding="utf-8"))
            if existing != manifest:
                diff = sorted(
                    k for k in set(existing) | set(manifest) if existing.get(k) != manifest.get(k)
                )
                raise ValueError(
                    f"run folder '{self.folder}' belongs to another run (differs in {diff}); "
                    "use a new folder"
                )
        else:
            _atomic_write(path, json.dumps(manifest, indent=1, sort_keys=True).encode())
        self.manifest = manifest
        self._next = len(list(self.chunks.glob("*.npz")))

    def load(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Return ``(indices, outputs)`` of every finished tile (``outputs`` None when none)."""
        indices, outputs = [], []
        for chunk in sorted(self.chunks.glob("*.npz")):
            try:
                with np.load(chunk) as data:
                    indices.append(data["indices"])
                    outputs.append(data["outputs"])
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                continue  # a chunk cut short by the interruption: its tiles are redone
        if not indices:
            return np.zeros(0, dtype=np.int64), None
        return np.concatenate(indices), np.concatenate(outputs)

    def save(self, indices: np.ndarray, outputs: np.ndarray) -> None:
        """Append one chunk of finished tiles."""
        import io

        buffer = io.BytesIO()
        np.savez(buffer, indices=np.asarray(indices, dtype=np.int64), outputs=outputs)
        _atomic_write(self.chunks / f"{self._next:06d}.npz", buffer.getvalue())
        self._next += 1


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
