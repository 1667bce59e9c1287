"""The synthetic ECG generator (pipelines.signals.synthetic_ecg) and the signal pipeline on it.

Every beat's R-peak time and type (normal N, premature ventricular V) is set by the generator, so
the labels are exact: the R-peak detector is checked against them within ±10 ms, and the
signal_classification pipeline learns to find the windows holding a PVC on held-out recordings.
"""

import numpy as np
import pytest

from deephealth.ecvl.signal.ecg import heart_rate, r_peaks
from deephealth.pipelines.signals.synthetic_ecg import synthetic_ecg, write_synthetic_ecg_dataset


def test_generator_is_deterministic_and_beats_follow_the_rhythm_rules():
    a, b = synthetic_ecg(120, seed=5), synthetic_ecg(120, seed=5)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.channels == ["MLII", "V1"] and a.fs == 360
    labels = [e.label for e in a.annotations]
    r = np.asarray(a.meta["r_peaks"])
    assert len(labels) == len(r) and set(labels) == {"N", "V"}
    rr = np.median([r[j + 1] - r[j] for j in range(len(r) - 1) if labels[j : j + 2] == ["N", "N"]])
    for i, lab in enumerate(labels):
        if lab == "V":  # premature, never two in a row, then a full compensatory pause
            assert labels[i - 1] == "N" and labels[i + 1] == "N"
            assert r[i] - r[i - 1] < 0.8 * rr
            assert r[i + 1] - r[i - 1] == pytest.approx(2 * rr, rel=0.2)
    assert 0.05 < labels.count("V") / len(labels) < 0.2


@pytest.mark.parametrize("seed", [0, 4, 9])
def test_r_peaks_found_within_10_ms_of_every_known_beat(seed):
    sig = synthetic_ecg(300, pvc_rate=0.1, seed=seed)
    truth = np.asarray(sig.meta["r_peaks"])
    found = r_peaks(sig) / sig.fs
    nearest = np.abs(truth[:, None] - found[None]).min(axis=1)
    assert (nearest <= 0.010).mean() >= 0.99  # sensitivity, PVCs included
    assert len(found) <= len(truth) * 1.01  # positive predictive value
    _, bpm = heart_rate(np.round(truth * sig.fs), sig.fs)
    _, bpm_found = heart_rate(r_peaks(sig), sig.fs)
    assert np.median(bpm_found) == pytest.approx(np.median(bpm), rel=0.02)


@pytest.mark.slow
def test_pipeline_finds_pvc_windows_on_held_out_recordings(tmp_path):
    from sklearn.metrics import roc_auc_score

    from deephealth.pipelines.signals.run import train_signal

    write_synthetic_ecg_dataset(tmp_path / "data", {"training": 3, "validation": 1, "test": 2},
                                duration=300, seed=1)  # fmt: skip
    cfg = tmp_path / "config.yml"
    cfg.write_text(
        "version: 1\ntask: signal_classification\ndataset: data/dataset.yml\nmodel: cnn1d\n"
        "model_params: {filters: 8}\n"
        "window: {length: 1, step: 0.5, fs: 128, bandpass: [0.5, 40]}\n"
        "sampling: {windows_per_epoch: 1024, balance: 0.5}\n"
        "events: {threshold: 0.5, smooth: 1, min_duration: 0, merge_gap: 0, tolerance: 0.5}\n"
        "epochs: 6\nbatch_size: 32\nseed: 0\n"
    )
    r = train_signal(cfg, tmp_path / "run")
    m = r["test_metrics"]
    assert m["hours"] == pytest.approx(10 / 60)
    assert m["roc_auc"] >= 0.95 and m["sensitivity"] >= 0.85 and m["specificity"] >= 0.97
    assert m["event_sensitivity"] >= 0.9
    y, s = np.asarray(m["y_true"]), np.asarray(m["scores"])[:, 1]
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-4)
    assert r["onnx_check"]["passed"]
