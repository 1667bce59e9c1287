"""Signal processing on scipy.signal: filters, notch, resampling, re-referencing, normalisation.

Filters are zero-phase (``sosfiltfilt``/``filtfilt``: the signal passes forward and backward, so
waveform peaks stay where a clinician expects them; the magnitude response is the square of the
designed filter's). Every function takes a :class:`Signal` and returns a new one (channels at one
rate; resample first otherwise), so they chain: ``notch(bandpass(sig, 0.5, 40), 50)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from scipy import signal as ss

from deephealth.ecvl.signal.signal import Signal, SignalError

#: The longitudinal bipolar "double banana" montage of the 10-20 system (18 derivations).
DOUBLE_BANANA: tuple[tuple[str, str], ...] = (
    ("Fp1", "F7"), ("F7", "T3"), ("T3", "T5"), ("T5", "O1"),
    ("Fp2", "F8"), ("F8", "T4"), ("T4", "T6"), ("T6", "O2"),
    ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
    ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"),
    ("Fz", "Cz"), ("Cz", "Pz"),
)  # fmt: skip
#: 10-10 names of the same electrodes (T3=T7, T4=T8, T5=P7, T6=P8), tried when the first is absent
ALIASES = {
    "T3": "T7",
    "T4": "T8",
    "T5": "P7",
    "T6": "P8",
    "T7": "T3",
    "T8": "T4",
    "P7": "T5",
    "P8": "T6",
}
#: Classical EEG bands in Hz
EEG_BANDS = {
    "delta": (0.5, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}


def _check_band(fs: float, *freqs: float) -> None:
    for f in freqs:
        if not 0 < f < fs / 2:
            raise SignalError(f"cut-off {f} Hz must lie between 0 and Nyquist ({fs / 2} Hz)")


def butter_sos(kind: str, freqs: float | Sequence[float], fs: float, order: int = 4) -> np.ndarray:
    """The Butterworth design (second-order sections) the filters below apply (cached)."""
    f = (float(freqs),) if np.isscalar(freqs) else tuple(float(v) for v in freqs)  # type: ignore[union-attr,arg-type]
    _check_band(fs, *f)
    return _design(kind, f, float(fs), int(order)).copy()


@functools.lru_cache(maxsize=64)
def _design(kind: str, f: tuple[float, ...], fs: float, order: int) -> np.ndarray:
    sos = ss.butter(order, list(f) if len(f) > 1 else f[0], btype=kind, fs=fs, output="sos")
    return sos


@functools.lru_cache(maxsize=16)
def _notch_design(f: float, quality: float, fs: float) -> tuple[np.ndarray, np.ndarray]:
    return ss.iirnotch(f, quality, fs=fs)


def _apply_sos(sig: Signal, sos: np.ndarray) -> Signal:
    x = sig.data.astype(np.float64)
    pad = min(x.shape[1] - 1, 3 * (2 * len(sos) + 1)) if x.shape[1] > 1 else 0
    y = ss.sosfiltfilt(sos, x, axis=1, padlen=pad)
    return sig.copy(y.astype(np.float32))


def bandpass(sig: Signal, low: float, high: float, order: int = 4) -> Signal:
    """Zero-phase Butterworth band-pass between ``low`` and ``high`` Hz."""
    return _apply_sos(sig, butter_sos("bandpass", (low, high), sig.fs, order))


def highpass(sig: Signal, cutoff: float, order: int = 4) -> Signal:
    """Zero-phase Butterworth high-pass (baseline wander removal at ~0.5 Hz)."""
    return _apply_sos(sig, butter_sos("highpass", cutoff, sig.fs, order))


def lowpass(sig: Signal, cutoff: float, order: int = 4) -> Signal:
    """Zero-phase Butterworth low-pass."""
    return _apply_sos(sig, butter_sos("lowpass", cutoff, sig.fs, order))


def notch(
    sig: Signal, freq: float = 50.0, quality: float = 30.0, harmonics: bool = False
) -> Signal:
    """Zero-phase IIR notch at the mains frequency (50 Hz Europe, 60 Hz Americas).

    Args:
        sig: The recording.
        freq: Mains frequency in Hz.
        quality: Quality factor (bandwidth = freq / quality).
        harmonics: Also remove the harmonics below Nyquist.
    """
    x = sig.data.astype(np.float64)
    f = freq
    while f < sig.fs / 2:
        b, a = _notch_design(float(f), float(quality), float(sig.fs))
        x = ss.filtfilt(b, a, x, axis=1, padlen=min(x.shape[1] - 1, 3 * max(len(a), len(b))))
        if not harmonics:
            break
        f += freq
    if freq >= sig.fs / 2:
        raise SignalError(f"notch {freq} Hz must lie below Nyquist ({sig.fs / 2} Hz)")
    return sig.copy(x.astype(np.float32))


def resample(sig: Signal, fs: float) -> Signal:
    """All channels at ``fs`` Hz (see :meth:`Signal.resample`)."""
    return sig.resample(fs)


def _find(sig: Signal, name: str) -> int:
    low = [c.lower() for c in sig.channels]
    for cand in (name, ALIASES.get(name, "")):
        for i, c in enumerate(low):
            bare = c.replace("eeg ", "").split("-")[0].strip()
            if cand and (c == cand.lower() or bare == cand.lower()):
                return i
    raise SignalError(f"montage needs channel {name!r}; channels: {sig.channels}")


def rereference(
    sig: Signal, ref: str | Sequence[str] | Sequence[tuple[str, str]] = "average"
) -> Signal:
    """Re-reference: ``"average"`` (common average), a channel name or list of names (their mean
    is subtracted), ``"double_banana"`` or a bipolar montage as ``[(a, b), ...]`` (channels
    ``a-b``).

    Raises:
        SignalError: A channel the reference needs is missing (names it).
    """
    x = sig.data
    if isinstance(ref, str) and ref == "average":
        return sig.copy(x - x.mean(axis=0, keepdims=True))
    if isinstance(ref, str) and ref == "double_banana":
        ref = DOUBLE_BANANA
    if isinstance(ref, str):
        ref = [ref]
    ref = list(ref)
    if ref and isinstance(ref[0], (tuple, list)):
        pairs = [(_find(sig, a), _find(sig, b)) for a, b in ref]  # type: ignore[misc]
        y = np.stack([x[a] - x[b] for a, b in pairs])
        names = [f"{a}-{b}" for a, b in ref]  # type: ignore[misc]
        return sig.copy(
            y,
            fs=sig.fs,
            channels=names,
            types=["EEG"] * len(names),
            units=[sig.units[p[0]] for p in pairs],
        )
    idx = [_find(sig, r) for r in ref]  # type: ignore[arg-type]
    return sig.copy(x - x[idx].mean(axis=0, keepdims=True))


def normalize(sig: Signal, method: str = "zscore", eps: float = 1e-6) -> Signal:
    """Per-channel normalisation: ``zscore`` (mean/std) or ``robust`` (median / IQR÷1.349)."""
    x = sig.data
    if method == "zscore":
        centre, scale = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
    elif method == "robust":
        centre = np.median(x, axis=1, keepdims=True)
        q75, q25 = np.percentile(x, [75, 25], axis=1, keepdims=True)
        scale = (q75 - q25) / 1.349
    else:
        raise SignalError(f"normalize method must be 'zscore' or 'robust', got {method!r}")
    return sig.copy(((x - centre) / np.maximum(scale, eps)).astype(np.float32))


def clip(sig: Signal, limit: float | None = None, n_std: float | None = None) -> Signal:
    """Artefact clipping to ``±limit`` (physical units) or to ``mean ± n_std·std`` per channel."""
    x = sig.data
    if (limit is None) == (n_std is None):
        raise SignalError("clip needs exactly one of limit= or n_std=")
    if limit is not None:
        return sig.copy(np.clip(x, -limit, limit))
    m, s = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
    return sig.copy(np.clip(x, m - n_std * s, m + n_std * s))


def spectrogram(
    sig: Signal, window_s: float = 2.0, overlap: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectral density over time per channel (``scipy.signal.spectrogram``, Hann window).

    Returns:
        ``(freqs, times, power)`` with power of shape ``(C, F, T)`` in units²/Hz; times are
        seconds from the recording's start.
    """
    n = max(8, int(round(window_s * sig.fs)))
    f, t, p = ss.spectrogram(sig.data, fs=sig.fs, nperseg=n, noverlap=int(n * overlap), axis=-1)
    return f, t + sig.offset, p


def band_powers(
    sig: Signal, bands: dict[str, tuple[float, float]] | None = None, window_s: float = 2.0
) -> dict[str, np.ndarray]:
    """Absolute power per band and channel (Welch PSD integrated over the band; units²)."""
    bands = bands or EEG_BANDS
    n = min(sig.num_samples, max(8, int(round(window_s * sig.fs))))
    f, p = ss.welch(sig.data, fs=sig.fs, nperseg=n, axis=-1)
    out = {}
    df = f[1] - f[0]
    for name, (lo, hi) in bands.items():
        m = (f >= lo) & (f < hi)
        out[name] = p[:, m].sum(axis=1) * df
    return out
