"""Synthetic EEG with seizure-like spike-and-wave bursts at known times (training and test data).

No labelled real EEG is available offline, so the signal pipeline is trained and checked on
recordings whose seizures are placed by this generator, so the labels are exact.

The generator, per recording (``channels`` EEG channels at ``fs`` Hz, in µV):

- **background**: 1/f ("pink") noise per channel (white noise shaped by an FFT filter with
  amplitude ∝ 1/√f above 0.5 Hz), scaled to ~20 µV std, plus an alpha rhythm (8–12 Hz, random
  per recording) whose amplitude wanders slowly (0–15 µV), stronger in the occipital channels;
- **distractors** (so amplitude alone does not detect seizures): isolated sharp transients
  (one spike-and-wave complex, about one every 2 minutes), eye-blink-like slow deflections
  (~100 µV, 300 ms, frontal channels) and short bursts of muscle noise (30–70 Hz);
- **seizures**: ``seizures_per_hour`` bursts (Poisson count, at least one per recording unless
  the rate is 0) of generalized spike-and-wave: a train of complexes at 2.5–3.5 Hz (each a 20 ms
  spike of 80–200 µV followed by a 150 ms slow wave of half that amplitude, opposite sign), with
  a 1 s linear ramp in and out, lasting ``seizure_duration`` seconds (uniform), present in every
  channel with a per-channel gain in [0.6, 1.2]. Seizures never overlap and start ≥ 30 s from
  the edges and ≥ 60 s from one another.

``write_synthetic_dataset`` writes the recordings as EDF+ (seizures also stored as EDF+
annotations), one ``<name>.csv`` annotation file per recording (onset, duration, label) and the
DeepHealth recordings dataset YAML with a split per recording.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from deephealth.ecvl.signal.signal import Annotation, Signal

CHANNELS = ("Fp1", "C3", "O1", "Cz", "Fp2", "C4", "O2", "Pz")


def _pink(rng: np.random.Generator, n: int, fs: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / fs)
    spec *= 1 / np.sqrt(np.maximum(f, 0.5))
    x = np.fft.irfft(spec, n)
    return x / (x.std() + 1e-12)


def _complex(fs: float, amp: float) -> np.ndarray:
    """One spike-and-wave complex (spike then slow wave of opposite sign)."""
    t = np.arange(int(0.25 * fs)) / fs
    spike = amp * np.exp(-0.5 * ((t - 0.02) / 0.008) ** 2)
    wave = -0.5 * amp * np.sin(np.pi * np.clip((t - 0.06) / 0.15, 0, 1))
    return spike + wave


def seizure_times(rng: np.random.Generator, duration: float, per_hour: float,
                  length: tuple[float, float]) -> list[tuple[float, float]]:  # fmt: skip
    """Non-overlapping (onset, duration) pairs: ≥ 30 s from the edges, ≥ 60 s apart."""
    if per_hour <= 0:
        return []
    count = max(1, int(rng.poisson(per_hour * duration / 3600)))
    out: list[tuple[float, float]] = []
    for _ in range(50 * count):
        if len(out) == count:
            break
        d = float(rng.uniform(*length))
        on = float(rng.uniform(30, max(30.0, duration - 30 - d)))
        if on + d > duration - 30:
            continue
        if all(on + d + 60 < o or o + dd + 60 < on for o, dd in out):
            out.append((round(on, 3), round(d, 3)))
    return sorted(out)


def synthetic_eeg(
    duration: float = 600.0,
    fs: float = 128.0,
    channels: int = 4,
    seizures_per_hour: float = 4.0,
    seizure_duration: tuple[float, float] = (10.0, 30.0),
    seed: int = 0,
) -> Signal:
    """One synthetic EEG recording with its seizures as ``seizure`` annotations (see module doc)."""
    rng = np.random.default_rng(seed)
    n = int(round(duration * fs))
    names = list(CHANNELS[:channels]) + [f"E{i}" for i in range(len(CHANNELS), channels)]
    t = np.arange(n) / fs
    x = np.empty((channels, n), dtype=np.float64)
    alpha_f = rng.uniform(8, 12)
    alpha_env = 7.5 + 7.5 * np.sin(2 * np.pi * t / rng.uniform(20, 60) + rng.uniform(0, 6.28))
    for c in range(channels):
        gain = 1.0 if names[c].startswith("O") else 0.4
        x[c] = 20 * _pink(rng, n, fs) + gain * alpha_env * np.sin(
            2 * np.pi * alpha_f * t + rng.uniform(0, 6.28)
        )
    # distractors
    for _ in range(int(rng.poisson(duration / 120))):  # isolated spike-and-wave transients
        cplx = _complex(fs, rng.uniform(80, 200))
        a = int(rng.integers(0, max(1, n - len(cplx))))
        x[:, a : a + len(cplx)] += cplx * rng.uniform(0.6, 1.2, (channels, 1))
    blink = 100 * np.sin(np.pi * np.arange(int(0.3 * fs)) / (0.3 * fs))
    frontal = [i for i, c in enumerate(names) if c.startswith("Fp")]
    for _ in range(int(rng.poisson(duration / 30))):  # eye blinks
        a = int(rng.integers(0, max(1, n - len(blink))))
        for c in frontal:
            x[c, a : a + len(blink)] += blink * rng.uniform(0.7, 1.3)
    for _ in range(int(rng.poisson(duration / 90))):  # muscle bursts
        m = int(rng.uniform(0.5, 2.0) * fs)
        a = int(rng.integers(0, max(1, n - m)))
        burst = np.sin(2 * np.pi * rng.uniform(30, min(70, fs / 2 - 1)) * np.arange(m) / fs)
        x[rng.integers(0, channels), a : a + m] += 30 * burst * rng.standard_normal(m)
    # seizures
    anns = []
    for on, d in seizure_times(rng, duration, seizures_per_hour, seizure_duration):
        a, b = int(on * fs), int((on + d) * fs)
        burst = np.zeros(b - a)
        pos = 0.0
        while pos < d - 0.25:
            cplx = _complex(fs, rng.uniform(80, 200))
            k = int(pos * fs)
            m = min(len(cplx), len(burst) - k)
            burst[k : k + m] += cplx[:m]
            pos += 1.0 / rng.uniform(2.5, 3.5)
        ramp = np.minimum(1.0, np.minimum(np.arange(b - a), np.arange(b - a)[::-1]) / fs)
        x[:, a:b] += (burst * ramp)[None] * rng.uniform(0.6, 1.2, (channels, 1))
        anns.append(Annotation(on, d, "seizure"))
    start = _dt.datetime(2024, 1, 1, 8, 0, 0) + _dt.timedelta(hours=int(seed % 24))
    return Signal(x.astype(np.float32), fs, names, ["EEG"] * channels, ["uV"] * channels, start, anns,
                  meta={"generator": "deephealth synthetic EEG", "seed": seed})  # fmt: skip


def write_annotations_csv(path: str | Path, events: Sequence[Annotation]) -> None:
    """Write events as CSV with the header ``onset,duration,label`` (seconds)."""
    lines = ["onset,duration,label"] + [f"{e.onset:.6g},{e.duration:.6g},{e.label}" for e in events]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_synthetic_dataset(
    folder: str | Path,
    splits: dict[str, int] | None = None,
    duration: float = 600.0,
    fs: float = 128.0,
    channels: int = 4,
    seizures_per_hour: float = 4.0,
    seizure_duration: tuple[float, float] = (10.0, 30.0),
    seed: int = 0,
) -> Path:
    """Write synthetic recordings (EDF+), their CSV annotations and ``dataset.yml``.

    Args:
        folder: Output folder (created).
        splits: Recordings per split (default training 6, validation 2, test 2).
        duration, fs, channels, seizures_per_hour, seizure_duration: See :func:`synthetic_eeg`.
        seed: Base seed; recording ``i`` uses ``seed * 1000 + i``.

    Returns:
        The dataset YAML path.
    """
    splits = splits or {"training": 6, "validation": 2, "test": 2}
    header = ["name: synthetic-eeg",
              "description: synthetic EEG with spike-and-wave seizures (deephealth generator)",
              "classes: [background, seizure]"]  # fmt: skip

    def make(i: int) -> Signal:
        return synthetic_eeg(
            duration, fs, channels, seizures_per_hour, seizure_duration, seed * 1000 + i
        )

    return write_recordings_dataset(folder, header, splits, make, "rec")


def write_recordings_dataset(
    folder: str | Path,
    header: list[str],
    splits: dict[str, int],
    make: Callable[[int], Signal],
    prefix: str,
) -> Path:
    """Write generated recordings as EDF+ (``<prefix>NNN.edf``) with a CSV of their annotations
    each, and the recordings dataset YAML (``header`` lines, then one entry per recording with its
    patient and split).

    Args:
        folder: Output folder (created).
        header: The YAML's first lines (name, description, classes).
        splits: Recordings per split.
        make: Recording ``i`` (its annotations are the labels).
        prefix: File name prefix.

    Returns:
        The dataset YAML path.
    """
    from deephealth.ecvl.signal.io import SignalWrite

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    lines = [*header, "recordings:"]
    i = 0
    for split, count in splits.items():
        for _ in range(count):
            sig = make(i)
            name = f"{prefix}{i:03d}"
            SignalWrite(out / f"{name}.edf", sig)
            write_annotations_csv(out / f"{name}.csv", sig.annotations)
            lines += [f"  - location: {name}.edf", f"    annotations: {name}.csv",
                      f"    patient: p{i:03d}", f"    split: {split}"]  # fmt: skip
            i += 1
    path = out / "dataset.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
