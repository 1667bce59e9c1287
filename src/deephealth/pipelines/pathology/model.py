"""A patch classifier or segmenter in ONNX, fed with RGB tiles, for slide-level inference.

:class:`PatchModel` wraps :class:`deephealth.serving.InferenceSession` (onnxruntime only): it
turns a batch of ``(H, W, 3)`` uint8 tiles into the network input and returns per-tile class
probabilities ``(N, C)`` or per-pixel probability maps ``(N, C, h, w)``. When the model carries
its own preprocessing (sidecar or ONNX metadata, see :mod:`deephealth.serving`), the raw pixels
are given in its layout; otherwise the tiles are scaled by ``scale``, standardized by
``mean``/``std`` and passed ``NCHW``. Logits are turned into probabilities by a softmax over the
class axis unless they already are probabilities.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import numpy as np


def _softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _looks_like_probabilities(x: np.ndarray) -> bool:
    return bool(x.min() >= -1e-6 and np.allclose(x.sum(axis=1), 1.0, atol=1e-3))


class PatchModel:
    """An ONNX patch model ready to run on tiles.

    Args:
        path: ``.onnx`` file: input ``(N, 3, H, W)`` (or the layout of its stored
            preprocessing), output ``(N, C)`` (classifier) or ``(N, C, h, w)`` (segmenter).
        threads: onnxruntime intra-op threads (``None``: onnxruntime's default).
        device: ``"cpu"`` or ``"cuda"``.
        scale: factor applied to uint8 pixels when the model stores no preprocessing.
        mean: per-channel mean subtracted after scaling (no stored preprocessing).
        std: per-channel standard deviation (no stored preprocessing).
        classes: class names (default: those stored with the model, else ``class0, ...``).
        softmax: apply a softmax over classes: ``True``, ``False`` or ``None`` (when the outputs
            are not already probabilities).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        threads: int | None = None,
        device: str = "cpu",
        scale: float = 1.0 / 255.0,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        classes: Sequence[str] | None = None,
        softmax: bool | None = None,
    ) -> None:
        from deephealth.serving import InferenceSession, Preprocessing

        self.path = os.fspath(path)
        self.session = InferenceSession(self.path, device=device, threads=threads)
        prep = self.session.preprocessing
        self._stored = prep != Preprocessing()
        self._layout = (prep.layout or "CHW") if self._stored else "CHW"
        self.scale = np.float32(scale)
        self.mean = None if mean is None else np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        self.std = None if std is None else np.asarray(std, np.float32).reshape(1, -1, 1, 1)
        self._classes = list(classes) if classes is not None else list(self.session.class_names)
        self.softmax = softmax

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the model file (identifies the model in resumable runs)."""
        h = hashlib.sha256()
        with open(self.path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()

    def classes(self, n: int) -> list[str]:
        """Class names for an output with ``n`` classes."""
        if self._classes and len(self._classes) != n:
            raise ValueError(
                f"model '{self.path}' gives {n} classes but {len(self._classes)} names"
            )
        return self._classes or [f"class{i}" for i in range(n)]

    def prepare(self, tiles: np.ndarray) -> np.ndarray:
        """Network input for a ``(N, H, W, 3)`` uint8 batch."""
        if self._stored:
            x = tiles if self._layout == "HWC" else tiles.transpose(0, 3, 1, 2)
            return np.ascontiguousarray(x, dtype=np.float32)
        n, h, w, c = tiles.shape
        x = np.empty((n, c, h, w), dtype=np.float32)
        np.multiply(tiles.transpose(0, 3, 1, 2), self.scale, out=x)  # one pass: cast + scale
        if self.mean is not None:
            x -= self.mean
        if self.std is not None:
            x /= self.std
        return np.ascontiguousarray(x)

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Run the network on prepared input (the model's own rate, for benchmarks)."""
        out = self.session.run(x)
        return out[0] if isinstance(out, list) else out

    def predict(self, tiles: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, C)`` or probability maps ``(N, C, h, w)`` for the tiles."""
        out = np.asarray(self.raw(self.prepare(tiles)), dtype=np.float32)
        if out.ndim not in (2, 4):
            raise ValueError(
                f"model '{self.path}' output has shape {out.shape}; expected (N, C) or (N, C, h, w)"
            )
        if self.softmax or (self.softmax is None and not _looks_like_probabilities(out)):
            out = _softmax(out, axis=1)
        return out
