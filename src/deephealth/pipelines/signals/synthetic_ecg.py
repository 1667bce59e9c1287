"""Synthetic ECG with labelled beat types (normal and premature ventricular) at known times.

The real ECGs available offline (pydicom's 12-lead, the MIT-BIH excerpts) are too short and carry
too few abnormal beats to train on, so the ECG side of the signal pipeline is trained and checked
on recordings made here, where every beat's time and type is known exactly.

The generator, per recording (two leads named after MIT-BIH's ``MLII`` and ``V1``, in mV):

- **rhythm**: sinus RR intervals around a per-recording rate (55–95 bpm) with 4 % beat-to-beat
  jitter and a slow respiratory modulation (±5 % at 0.2–0.3 Hz);
- **normal beat (N)**: a sum of Gaussian waves as in McSharry et al. (2003), P (−200 ms, 0.15 mV),
  Q, R (1.0 mV, 12 ms wide), S, T (+300 ms, 0.3 mV); QRS about 90 ms;
- **premature ventricular contraction (V)**, with probability ``pvc_rate`` per beat (never two
  in a row): it comes early (55–70 % of the running RR), has no P wave, a wide QRS (R 40 ms wide,
  1.3–1.6 mV in MLII, negative in V1) and a T wave of opposite polarity, and is followed by a
  compensatory pause (the next normal beat keeps the sinus timing);
- **noise**: baseline wander (0.1–0.4 Hz, 0.1–0.2 mV), 50 Hz mains (0.02 mV), white noise
  (0.02 mV) and rare muscle bursts.

Each beat is an annotation labelled ``N`` or ``V`` whose onset is the QRS onset and whose duration
the QRS width; the exact R-peak times are in ``meta["r_peaks"]`` (seconds).
``write_synthetic_ecg_dataset`` writes recordings as EDF+, a CSV of the beats per recording and a
DeepHealth recordings dataset YAML with the classes ``[N, V]`` (``N``, the background, for windows
without a PVC; ``V`` for windows holding one).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np

from deephealth.ecvl.signal.signal import Annotation, Signal

LEADS = ("MLII", "V1")
# (centre s from the R peak, amplitude mV in MLII, width s, amplitude factor in V1)
_Waves = tuple[tuple[float, float, float, float], ...]
_NORMAL: _Waves = ((-0.20, 0.15, 0.025, 0.6), (-0.035, -0.12, 0.010, 1.0), (0.0, 1.0, 0.012, -0.5),
           (0.035, -0.25, 0.012, 1.5), (0.30, 0.30, 0.060, 0.7))  # fmt: skip
_PVC_QRS = 0.16  # s, QRS width of a PVC (normal: 0.09)


def _beat(t: np.ndarray, waves: _Waves) -> np.ndarray:
    """Two leads of one beat: a sum of Gaussian waves around ``t = 0`` (the R peak)."""
    out = np.zeros((2, len(t)))
    for centre, amp, width, v1 in waves:
        g = amp * np.exp(-0.5 * ((t - centre) / width) ** 2)
        out[0] += g
        out[1] += v1 * g
    return out


def synthetic_ecg(
    duration: float = 300.0, fs: float = 360.0, pvc_rate: float = 0.1, seed: int = 0
) -> Signal:
    """One synthetic two-lead ECG with every beat annotated ``N`` or ``V`` (see module doc)."""
    rng = np.random.default_rng(seed)
    n = int(round(duration * fs))
    t = np.arange(n) / fs
    rr_mean = 60.0 / rng.uniform(55, 95)
    resp = rng.uniform(0.2, 0.3)
    x = np.zeros((2, n))
    anns: list[Annotation] = []
    peaks: list[float] = []
    sinus = rng.uniform(0.3, 1.0)  # time of the next sinus beat
    last_v = False
    while sinus < duration - 1.0:
        rr = rr_mean * (1 + 0.04 * rng.standard_normal() + 0.05 * np.sin(2 * np.pi * resp * sinus))
        pvc = not last_v and bool(peaks) and rng.random() < pvc_rate
        if pvc:  # early beat, then the sinus node keeps its timing (compensatory pause)
            r = peaks[-1] + rng.uniform(0.55, 0.70) * (sinus - peaks[-1])
            amp = rng.uniform(1.3, 1.6)
            waves: _Waves = ((-0.045, 0.2 * amp, 0.02, -1.0), (0.0, amp, 0.025, -0.8),
                     (0.05, -0.25 * amp, 0.02, -1.0), (0.31, -0.45, 0.08, -0.8))  # fmt: skip
            qrs = _PVC_QRS
        else:
            r = sinus
            scale = rng.uniform(0.9, 1.1)
            waves = tuple((c, a * scale, w, v) for c, a, w, v in _NORMAL)
            qrs = 0.09
        a, b = max(0, int((r - 0.4) * fs)), min(n, int((r + 0.6) * fs))
        x[:, a:b] += _beat(t[a:b] - r, waves)
        anns.append(Annotation(round(r - qrs / 2, 6), qrs, "V" if pvc else "N"))
        peaks.append(r)
        last_v = bool(pvc)
        # after a PVC the sinus beat it falls on is blocked (refractory): the next normal beat
        # comes two sinus intervals after the last one (a full compensatory pause)
        sinus += rr
    wander_f = rng.uniform(0.1, 0.4)
    x += rng.uniform(0.1, 0.2) * np.sin(2 * np.pi * wander_f * t + rng.uniform(0, 6.28))
    x += 0.02 * np.sin(2 * np.pi * 50 * t)[None] + 0.02 * rng.standard_normal((2, n))
    for _ in range(int(rng.poisson(duration / 60))):  # muscle bursts
        m = int(rng.uniform(0.3, 1.0) * fs)
        s = int(rng.integers(0, max(1, n - m)))
        x[:, s : s + m] += 0.05 * rng.standard_normal((2, m))
    start = _dt.datetime(2024, 1, 1, 9, 0, 0) + _dt.timedelta(minutes=int(seed % 600))
    meta = {"generator": "deephealth synthetic ECG", "seed": seed, "r_peaks": peaks}
    return Signal(x.astype(np.float32), fs, list(LEADS), ["ECG", "ECG"], ["mV", "mV"], start,
                  anns, meta=meta)  # fmt: skip


def write_synthetic_ecg_dataset(
    folder: str | Path,
    splits: dict[str, int] | None = None,
    duration: float = 300.0,
    fs: float = 360.0,
    pvc_rate: float = 0.1,
    seed: int = 0,
) -> Path:
    """Write synthetic ECGs (EDF+), their beat CSVs and ``dataset.yml`` (classes N, V).

    Args:
        folder: Output folder (created).
        splits: Recordings per split (default training 4, validation 1, test 2).
        duration, fs, pvc_rate: See :func:`synthetic_ecg`.
        seed: Base seed; recording ``i`` uses ``seed * 1000 + i``.

    Returns:
        The dataset YAML path.
    """
    from deephealth.pipelines.signals.synthetic import write_recordings_dataset

    header = ["name: synthetic-ecg",
              "description: synthetic two-lead ECG with labelled normal and PVC beats "
              "(deephealth generator)",
              "classes: [N, V]"]  # fmt: skip
    splits = splits or {"training": 4, "validation": 1, "test": 2}
    return write_recordings_dataset(
        folder,
        header,
        splits,
        lambda i: synthetic_ecg(duration, fs, pvc_rate, seed * 1000 + i),
        "ecg",
    )
