"""Signal augmentations in ECVL text syntax: time shift, amplitude scale, noise, baseline wander,
powerline noise, channel dropout, time masking, sign flip.

They follow the image augmentations' shape (one ``spec`` table per class gives the constructor,
the text form and validation; the same factory and parser read them, e.g.
``AugmentationFactory.create("AugSignalNoise std=[0,0.1]")``), and replay exactly with a seed:
the loader gives each window its own generator, ``Apply`` uses the engine ``SetSeed`` reseeds.

They work on ``(C, T)`` arrays. Durations and frequencies are in seconds and Hz, so the sampling
rate travels with the array as a :class:`SignalArray` (``SignalArray(x, fs)``; ``Apply`` on a
:class:`~deephealth.ecvl.signal.Signal` does this itself). Amplitudes of added noise are relative
to each channel's standard deviation, so one text suits µV EEG and mV ECG alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deephealth.ecvl.augment.base import Augmentation, Param
from deephealth.ecvl.augment.rng import global_rng
from deephealth.ecvl.errors import EcvlError


class SignalArray(np.ndarray):
    """A ``(C, T)`` float array that carries its sampling rate ``fs`` through numpy operations."""

    fs: float

    def __new__(cls, x: np.ndarray, fs: float) -> SignalArray:
        obj = np.asarray(x, dtype=np.float32).view(cls)
        obj.fs = float(fs)
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.fs = getattr(obj, "fs", 0.0)


def _fs(x: np.ndarray, name: str) -> float:
    fs = float(getattr(x, "fs", 0.0) or 0.0)
    if fs <= 0:
        raise EcvlError(f"{name} needs the sampling rate: pass SignalArray(x, fs) or a Signal")
    return fs


def _std(x: np.ndarray) -> np.ndarray:
    return np.asarray(x).std(axis=-1, keepdims=True) + 1e-12


def apply_to_signal(aug: Augmentation, sig: Any) -> None:
    """Apply an augmentation or container in place to a Signal (``Augmentation.Apply`` calls this
    for Signals), drawing from the global engine that ``AugmentationParam.SetSeed`` reseeds."""
    x = SignalArray(sig.data, sig.fs)
    y, _ = aug.apply_arrays(x, None, global_rng(), record=True)
    sig._block = np.ascontiguousarray(np.asarray(y, dtype=np.float32))


class _SignalAugmentation(Augmentation):
    """Base of the signal augmentations (``Apply`` takes a Signal, modified in place)."""

    def _transform(self, x, gt, v, rng):
        y = self._signal(x, v, rng)
        if isinstance(x, SignalArray) and not isinstance(y, SignalArray):
            y = SignalArray(y, x.fs)
        return y.astype(np.float32, copy=False), gt

    def _signal(self, x: np.ndarray, v: dict[str, float], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class AugTimeShift(_SignalAugmentation):
    """Shift the signal in time by a random number of seconds (circularly).

    Args:
        shift: Range ``[min, max]`` of the shift in seconds (negative: earlier).
    """

    spec = (Param("shift", "range"),)

    def _signal(self, x, v, rng):
        n = int(round(v["shift"] * _fs(x, "AugTimeShift")))
        return np.roll(x, n, axis=-1)


class AugAmplitudeScale(_SignalAugmentation):
    """Multiply all channels by one random factor (electrode impedance, gain differences).

    Args:
        factor: Range ``[min, max]`` of the factor.
    """

    spec = (Param("factor", "range"),)

    def _signal(self, x, v, rng):
        return x * np.float32(v["factor"])


class AugSignalNoise(_SignalAugmentation):
    """Add white Gaussian noise with a random standard deviation relative to each channel's.

    Args:
        std: Range ``[min, max]`` of the noise std as a fraction of the channel std.
    """

    spec = (Param("std", "range"),)

    def _signal(self, x, v, rng):
        return x + (rng.standard_normal(x.shape) * _std(x) * v["std"]).astype(np.float32)


class AugBaselineWander(_SignalAugmentation):
    """Add a slow sinusoidal drift (respiration, movement), random amplitude, frequency and phase.

    Args:
        amplitude: Range of the drift amplitude as a fraction of the channel std.
        freq: Range of its frequency in Hz (0.05–0.5 Hz is typical).
    """

    spec = (Param("amplitude", "range"), Param("freq", "range", (0.05, 0.5)))

    def _signal(self, x, v, rng):
        fs = _fs(x, "AugBaselineWander")
        t = np.arange(x.shape[-1]) / fs
        phase = rng.uniform(0, 2 * np.pi)
        return x + (v["amplitude"] * _std(x) * np.sin(2 * np.pi * v["freq"] * t + phase)).astype(
            np.float32
        )


class AugPowerlineNoise(_SignalAugmentation):
    """Add mains interference at ``freq`` Hz with a random amplitude and phase.

    Args:
        amplitude: Range of the hum amplitude as a fraction of the channel std.
        freq: Mains frequency (50 or 60 Hz).
    """

    spec = (Param("amplitude", "range"), Param("freq", "number", 50.0))

    def _check(self) -> None:
        if self.get("freq") <= 0:
            raise EcvlError(f"AugPowerlineNoise: freq must be positive, got {self.get('freq')}")

    def _signal(self, x, v, rng):
        fs = _fs(x, "AugPowerlineNoise")
        t = np.arange(x.shape[-1]) / fs
        phase = rng.uniform(0, 2 * np.pi)
        hum = np.sin(2 * np.pi * self.get("freq") * t + phase)
        return x + (v["amplitude"] * _std(x) * hum).astype(np.float32)


class AugChannelDropout(_SignalAugmentation):
    """Set each channel to zero with probability ``p`` (a lost electrode); never all channels.

    Args:
        p: Probability of dropping each channel.
    """

    spec = (Param("p", "number"),)

    def _check(self) -> None:
        if not 0.0 <= self.get("p") <= 1.0:
            raise EcvlError(f"AugChannelDropout: p must be in [0, 1], got {self.get('p')}")

    def _signal(self, x, v, rng):
        drop = rng.uniform(size=x.shape[0]) < self.get("p")
        if drop.all():
            drop[int(rng.integers(0, x.shape[0]))] = False
        y = x.copy()
        y[drop] = 0
        return y


class AugTimeMask(_SignalAugmentation):
    """Set a random time span of all channels to zero (SpecAugment-style masking).

    Args:
        length: Range ``[min, max]`` of the masked span in seconds.
    """

    spec = (Param("length", "range"),)

    def _signal(self, x, v, rng):
        n = min(x.shape[-1], int(round(v["length"] * _fs(x, "AugTimeMask"))))
        if n <= 0:
            return x
        a = int(rng.integers(0, x.shape[-1] - n + 1))
        y = x.copy()
        y[..., a : a + n] = 0
        return y


class AugSignFlip(_SignalAugmentation):
    """Invert the polarity of all channels with probability ``p`` (valid for EEG, whose polarity
    depends on the reference; not for ECG morphology classification).

    Args:
        p: Probability of flipping.
    """

    spec = (Param("p", "prob", 0.5),)

    def _signal(self, x, v, rng):
        return -x if v["p"] < self.get("p") else x


SIGNAL_AUGMENTATIONS = (
    AugTimeShift, AugAmplitudeScale, AugSignalNoise, AugBaselineWander, AugPowerlineNoise,
    AugChannelDropout, AugTimeMask, AugSignFlip,
)  # fmt: skip
