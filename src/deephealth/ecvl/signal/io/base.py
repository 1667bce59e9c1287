"""What every recording reader gives: a header without samples and range reads.

:class:`SignalFile` is the open-file object of every format: ``header`` (channel names, rates,
samples per channel, types, units, start time, annotations) is read when the file is opened; the
samples of a time range are read by ``read(start, stop, channels)``, which converts seconds into
per-channel sample ranges once for all formats and asks the format's ``_read_samples`` for them.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from deephealth.ecvl.signal.signal import Annotation, Signal, SignalReadError


@dataclasses.dataclass
class SignalHeader:
    """A recording's header.

    Attributes:
        channels: Channel names.
        fs: Sampling rate per channel (Hz).
        samples: Samples per channel.
        types: Channel types.
        units: Physical units.
        start_time: Date and time of the first sample, if known.
        annotations: Events stored in the file.
        meta: Other header values.
    """

    channels: list[str]
    fs: np.ndarray
    samples: np.ndarray
    types: list[str]
    units: list[str]
    start_time: _dt.datetime | None = None
    annotations: list[Annotation] = dataclasses.field(default_factory=list)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Seconds of the recording (longest channel)."""
        return float(np.max(self.samples / self.fs)) if len(self.fs) else 0.0


class SignalFile:
    """An open recording. Subclasses set ``self.path``, ``self.header`` and ``_read_samples``."""

    path: str
    header: SignalHeader

    def _read_samples(self, index: int, first: int, count: int) -> np.ndarray:
        """``count`` physical samples of channel ``index`` from sample ``first``."""
        raise NotImplementedError

    def _read_block(self, idx: list[int], first: int, count: int) -> np.ndarray | None:
        """Optional fast path: a (len(idx), count) block at one rate (None: per channel)."""
        return None

    def read(
        self,
        start: float = 0.0,
        stop: float | None = None,
        channels: Sequence[int | str] | None = None,
    ) -> Signal:
        """The samples of ``[start, stop)`` seconds (whole recording by default) as a Signal.

        Raises:
            SignalReadError: Range outside the recording, unknown channel or unreadable data.
        """
        h = self.header
        idx = self._channel_indices(channels)
        if start < 0 or (stop is not None and stop < start):
            raise SignalReadError(self.path, f"bad time range [{start}, {stop}]")
        if start > h.duration + 1e-9:
            raise SignalReadError(
                self.path, f"start {start} s is past the end ({h.duration:.3f} s)"
            )
        firsts = [int(round(start * h.fs[i])) for i in idx]
        counts = []
        for i, a in zip(idx, firsts):
            b = (
                int(h.samples[i])
                if stop is None
                else min(int(h.samples[i]), int(round(stop * h.fs[i])))
            )
            counts.append(max(0, b - a))
        block = None
        if len({h.fs[i] for i in idx}) == 1 and len(set(firsts)) == 1 and len(set(counts)) == 1:
            block = self._read_block(idx, firsts[0], counts[0])
        if block is None:
            data: Any = [self._read_samples(i, a, n) for i, a, n in zip(idx, firsts, counts)]
        else:
            data = block
        end = h.duration if stop is None else min(stop, h.duration)
        anns = [a for a in h.annotations if a.end >= start and a.onset <= end]
        return Signal(
            data, h.fs[idx], [h.channels[i] for i in idx], [h.types[i] for i in idx],
            [h.units[i] for i in idx], h.start_time, anns, offset=start, meta=dict(h.meta),
        )  # fmt: skip

    def _channel_indices(self, channels: Sequence[int | str] | None) -> list[int]:
        names = self.header.channels
        if channels is None:
            return list(range(len(names)))
        out = []
        for c in channels:
            if isinstance(c, (int, np.integer)):
                if not 0 <= c < len(names):
                    raise SignalReadError(
                        self.path, f"channel {c} out of range (0..{len(names) - 1})"
                    )
                out.append(int(c))
            elif c in names:
                out.append(names.index(c))
            else:
                raise SignalReadError(self.path, f"no channel {c!r}; channels: {names}")
        return out

    def close(self) -> None:
        """Release the file."""

    def __enter__(self) -> SignalFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def import_backend(module: str, what: str) -> Any:
    """Import an optional back-end or raise an ImportError naming the ``signals`` pip extra."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"{what} needs the {module!r} package: pip install 'deephealth[signals]'"
        ) from e
