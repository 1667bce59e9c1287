"""The Signal type: a multichannel recording (EEG, ECG, EMG, ...) in physical units.

A :class:`Signal` holds channels × samples float32 values, one sampling rate per channel (EDF and
WFDB files may mix rates; :meth:`Signal.resample` brings them to one), channel names, types and
units, the recording's start time and its annotations (onset, duration, label) — those stored in
the file and external ones added later, told apart by their ``source``. Readers return Signals,
processing takes and returns Signals, and the windows loader turns them into tensors at the end,
as for :class:`deephealth.ecvl.Image`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from deephealth.ecvl.errors import EcvlError, ImageReadError, ImageWriteError

#: channel types a Signal knows (others are allowed and kept as given)
CHANNEL_TYPES = ("EEG", "ECG", "EMG", "EOG", "RESP", "SPO2", "MISC")


class SignalError(EcvlError):
    """A Signal was built or used with inconsistent values (shapes, rates, channel names)."""


class SignalReadError(ImageReadError):
    """A recording could not be read: missing, truncated, corrupt or unsupported (names the file)."""


class SignalWriteError(ImageWriteError):
    """A recording could not be written (names the file and the cause)."""


@dataclasses.dataclass(frozen=True)
class Annotation:
    """One event of a recording.

    Attributes:
        onset: Seconds from the recording's start.
        duration: Seconds (0 for a point event such as an R peak).
        label: What happened ("seizure", "R", "Fiducial Point", ...).
        channels: Channel names the event concerns (empty: all).
        source: ``"recording"`` (stored in the file) or where an external one came from.
        group: The DICOM annotation group or WFDB ``num`` field, when the file gives one.
    """

    onset: float
    duration: float
    label: str
    channels: tuple[str, ...] = ()
    source: str = "recording"
    group: int | None = None

    @property
    def end(self) -> float:
        """Onset plus duration, in seconds."""
        return self.onset + self.duration


def guess_channel_type(name: str) -> str:
    """A channel type from its label (``"EEG Fp1-REF"`` → EEG, ``"II"`` → ECG, else EEG/MISC)."""
    up = name.upper().strip()
    for t in CHANNEL_TYPES:
        if up.startswith(t + " ") or up.startswith(t + "-") or up == t:
            return t
    ecg = {"I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6", "MLII"}
    if up in ecg or up.startswith("LEAD") or "ECG" in up or "EKG" in up:
        return "ECG"
    if "EMG" in up or "CHIN" in up:
        return "EMG"
    if "EOG" in up:
        return "EOG"
    if up.split("-")[0].rstrip("0123456789").upper() in _EEG_PREFIXES:
        return "EEG"
    return "MISC"


_EEG_PREFIXES = {"FP", "F", "C", "P", "O", "T", "FZ", "CZ", "PZ", "OZ", "A", "M", "AF", "FC", "CP",
                 "PO", "FT", "TP", "FPZ", "NZ", "IZ"}  # fmt: skip


class Signal:
    """A multichannel recording (channels × samples, float32, physical units).

    Args:
        data: A ``(C, T)`` array, or a list of 1D arrays (one per channel, lengths may differ when
            the rates differ).
        fs: Sampling rate in Hz, one for all channels or one per channel.
        channels: Channel names (default ``ch0``, ``ch1``, ...); must be unique.
        types: Channel types (EEG, ECG, ...; default guessed from the names).
        units: Physical units per channel (default ``"uV"``).
        start_time: Date and time of the first sample (None when unknown).
        annotations: Events of the recording.
        offset: Seconds from the recording's start to the first sample held (a range read lazily).
        meta: Free-form header values (patient, equipment, interpretation text, ...).

    Raises:
        SignalError: Inconsistent shapes, rates or names.
    """

    def __init__(
        self,
        data: np.ndarray | Sequence[np.ndarray],
        fs: float | Sequence[float],
        channels: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        units: Sequence[str] | None = None,
        start_time: _dt.datetime | None = None,
        annotations: Iterable[Annotation] = (),
        offset: float = 0.0,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(data, np.ndarray) and data.ndim == 2:
            chans = [np.asarray(r, dtype=np.float32) for r in data]
            block: np.ndarray | None = np.ascontiguousarray(data, dtype=np.float32)
        else:
            if isinstance(data, np.ndarray) and data.ndim == 1:
                data = [data]
            chans = [np.ascontiguousarray(np.asarray(c, dtype=np.float32).ravel()) for c in data]
            block = None
        n = len(chans)
        rates = np.broadcast_to(np.asarray(fs, dtype=np.float64), (n,)).copy() if n else np.zeros(0)
        if np.any(~np.isfinite(rates)) or np.any(rates <= 0):
            raise SignalError(f"sampling rates must be positive, got {rates.tolist()}")
        names = list(channels) if channels is not None else [f"ch{i}" for i in range(n)]
        if len(names) != n:
            raise SignalError(f"{len(names)} channel names for {n} channels")
        if len(set(names)) != n:
            dup = sorted({c for c in names if names.count(c) > 1})
            raise SignalError(f"channel names must be unique; repeated: {dup}")
        if block is None and n and len({len(c) for c in chans}) == 1 and len(set(rates)) == 1:
            block = np.stack(chans) if n > 1 else chans[0][None]
        if block is None and n:
            dur = {round(len(c) / r, 6) for c, r in zip(chans, rates)}
            if len(dur) > 1:
                raise SignalError(f"channels differ in duration: {sorted(dur)} s")
        self._block = block
        self._chans = None if block is not None else chans
        self.fs_ = rates
        self.channels = names
        self.types = (
            [t.upper() for t in types]
            if types is not None
            else [guess_channel_type(c) for c in names]
        )
        if len(self.types) != n:
            raise SignalError(f"{len(self.types)} channel types for {n} channels")
        self.units = list(units) if units is not None else ["uV"] * n
        if len(self.units) != n:
            raise SignalError(f"{len(self.units)} units for {n} channels")
        self.start_time = start_time
        self.annotations: list[Annotation] = sorted(annotations, key=lambda a: (a.onset, a.label))
        self.offset = float(offset)
        self.meta: dict[str, Any] = dict(meta or {})

    # ------------------------------------------------------------------------------ shape, rate
    @property
    def uniform(self) -> bool:
        """Whether every channel has the same rate (then :attr:`data` is one array)."""
        return self._block is not None

    @property
    def data(self) -> np.ndarray:
        """The ``(C, T)`` float32 array (channels at one rate).

        Raises:
            SignalError: The channels have different rates (call :meth:`resample` first).
        """
        if self._block is None:
            raise SignalError(
                f"channels have different sampling rates {sorted(set(self.fs_.tolist()))}; "
                "call resample(fs) for one (C, T) array"
            )
        return self._block

    @property
    def fs(self) -> float:
        """The sampling rate in Hz (channels at one rate)."""
        if len(set(self.fs_.tolist())) > 1:
            raise SignalError(
                f"channels have different sampling rates {sorted(set(self.fs_.tolist()))}"
            )
        return float(self.fs_[0]) if len(self.fs_) else 0.0

    @property
    def num_channels(self) -> int:
        """Number of channels."""
        return len(self.channels)

    @property
    def num_samples(self) -> int:
        """Samples per channel (at one rate)."""
        return int(self.data.shape[1])

    @property
    def duration(self) -> float:
        """Seconds held."""
        if not self.num_channels:
            return 0.0
        return len(self.channel(0)) / float(self.fs_[0])

    def channel(self, key: int | str) -> np.ndarray:
        """One channel's samples, by index or name."""
        i = self.index(key)
        return self._block[i] if self._block is not None else self._chans[i]  # type: ignore[index]

    def index(self, key: int | str) -> int:
        """A channel's index, by index or name.

        Raises:
            SignalError: Unknown name, naming the known ones.
        """
        if isinstance(key, (int, np.integer)):
            if not -self.num_channels <= key < self.num_channels:
                raise SignalError(f"channel {key} out of range (0..{self.num_channels - 1})")
            return int(key) % self.num_channels
        if key not in self.channels:
            raise SignalError(f"no channel {key!r}; channels: {self.channels}")
        return self.channels.index(key)

    def times(self) -> np.ndarray:
        """Sample times in seconds from the recording's start (channels at one rate)."""
        return self.offset + np.arange(self.num_samples) / self.fs

    # ------------------------------------------------------------------------------- new signals
    def copy(self, data: np.ndarray | Sequence[np.ndarray] | None = None, **changes: Any) -> Signal:
        """A new Signal with the same header, optionally other data or header fields."""
        fields = {
            "fs": self.fs_, "channels": self.channels, "types": self.types, "units": self.units,
            "start_time": self.start_time, "annotations": self.annotations,
            "offset": self.offset, "meta": self.meta,
        }  # fmt: skip
        fields.update(changes)
        if data is None:
            data = (
                self._block.copy() if self._block is not None else [c.copy() for c in self._chans]
            )  # type: ignore[union-attr]
        return Signal(data, **fields)

    def pick(self, channels: Sequence[int | str]) -> Signal:
        """The Signal restricted to some channels, in the given order."""
        idx = [self.index(c) for c in channels]
        return Signal(
            [self.channel(i) for i in idx], self.fs_[idx], [self.channels[i] for i in idx],
            [self.types[i] for i in idx], [self.units[i] for i in idx], self.start_time,
            self.annotations, self.offset, self.meta,
        )  # fmt: skip

    def crop(self, start: float, stop: float | None = None) -> Signal:
        """The part between ``start`` and ``stop`` seconds from the recording's start."""
        out = []
        for i in range(self.num_channels):
            r = float(self.fs_[i])
            a = max(0, int(round((start - self.offset) * r)))
            b = None if stop is None else max(a, int(round((stop - self.offset) * r)))
            out.append(self.channel(i)[a:b])
        first = max(start, self.offset)
        return self.copy(out, offset=first)

    def apply_augmentation(self, aug: Any) -> None:
        """Apply an ECVL augmentation (or container) in place (``Augmentation.Apply`` calls this)."""
        from deephealth.ecvl.augment.signal import apply_to_signal

        apply_to_signal(aug, self)

    def resample(self, fs: float) -> Signal:
        """All channels at ``fs`` Hz (polyphase, zero-phase anti-aliasing; see ``processing``)."""

        out = [
            resample_array(self.channel(i), float(self.fs_[i]), fs)
            for i in range(self.num_channels)
        ]
        n = min((len(c) for c in out), default=0)
        return self.copy(np.stack([c[:n] for c in out]) if out else np.zeros((0, 0)), fs=fs)

    def add_annotations(
        self, events: Iterable[Annotation | tuple], source: str = "external"
    ) -> Signal:
        """Add external events (Annotations or ``(onset, duration, label)`` tuples), in place.

        Returns:
            self.
        """
        for e in events:
            if not isinstance(e, Annotation):
                onset, duration, label = e[:3]
                e = Annotation(float(onset), float(duration), str(label), source=source)
            self.annotations.append(e)
        self.annotations.sort(key=lambda a: (a.onset, a.label))
        return self

    def events(self, label: str | None = None, source: str | None = None) -> list[Annotation]:
        """Annotations, optionally only those with ``label`` and/or from ``source``."""
        return [
            a for a in self.annotations
            if (label is None or a.label == label) and (source is None or a.source == source)
        ]  # fmt: skip

    def __repr__(self) -> str:
        rates = sorted(set(self.fs_.tolist()))
        return (
            f"Signal({self.num_channels} channels {self.channels[:4]}{'...' if self.num_channels > 4 else ''}, "
            f"{self.duration:.3f} s at {rates} Hz, {len(self.annotations)} annotations)"
        )


def resample_array(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """One channel from ``fs_in`` to ``fs_out`` Hz (polyphase, linear-phase anti-aliasing FIR)."""
    if fs_out <= 0:
        raise SignalError(f"target rate must be positive, got {fs_out}")
    if abs(fs_in - fs_out) < 1e-9:
        return np.asarray(x, np.float32)
    from fractions import Fraction

    import scipy.signal as ss

    frac = Fraction(fs_out / fs_in).limit_denominator(1000)
    y = ss.resample_poly(np.asarray(x, np.float64), frac.numerator, frac.denominator)
    n = int(round(len(x) * fs_out / fs_in))
    return y[:n].astype(np.float32)
