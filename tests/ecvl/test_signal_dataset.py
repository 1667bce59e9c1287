"""Recordings datasets: YAML validation lists every problem with its line (through the shared
ValidateDataset), the folder generator keeps patients within one split, and the windows dataset
streams many long recordings with bounded memory, identical windows on both paths and balanced
sampling of rare events."""

import tracemalloc

import numpy as np
import pytest

from deephealth.ecvl.dataset import ValidateDataset
from deephealth.ecvl.dataset.recordings import decode_recordings, generate_recordings_dataset
from deephealth.ecvl.signal import Signal, SignalWrite
from deephealth.ecvl.signal.windows_dataset import WindowsDataset, WindowSpec
from deephealth.pipelines.signals.synthetic import (
    synthetic_eeg,
    write_annotations_csv,
    write_synthetic_dataset,
)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("rec")
    return write_synthetic_dataset(
        d, {"training": 2, "test": 1}, duration=300, fs=64, channels=2, seed=4
    )


def test_valid_dataset_and_events(small):
    assert ValidateDataset(small) == []
    d = decode_recordings(small)
    assert d.classes == ["background", "seizure"] and len(d.split("training")) == 2
    truth = synthetic_eeg(300, 64, 2, seed=4000).annotations
    assert [(e.onset, e.duration) for e in d.recordings[0].events] == [
        (e.onset, e.duration) for e in truth
    ]


def test_every_problem_with_its_line(small):
    bad = small.parent / "bad.yml"
    bad.write_text(
        "name: x\n"
        "classes: [background, seizure]\n"
        "recordings:\n"
        "  - location: rec000.edf\n"
        "    annotations: nope.csv\n"
        "    split: train\n"
        "  - location: missing.edf\n"
        "    events:\n"
        "      - {onset: -1, label: seizure}\n"
        "      - {onset: 5, duration: 2, label: seizur}\n"
        "    patient: p1\n"
        "  - location: rec001.edf\n"
        "    patient: p1\n"
        "    split: test\n"
        "    colour: red\n"
        "split:\n"
        "  training: [1, 7]\n"
    )
    got = {(i.line, i.code) for i in ValidateDataset(bad)}
    assert got == {(5, "missing-file"), (6, "unknown-split"), (7, "missing-file"), (8, "unknown-class"),
                   (9, "type"), (12, "patient-leakage"), (15, "unknown-key"), (17, "split-range")}  # fmt: skip
    (small.parent / "cut.edf").write_bytes((small.parent / "rec000.edf").read_bytes()[:5000])
    cut = small.parent / "cut.yml"
    cut.write_text("classes: [background, seizure]\nrecordings:\n  - location: cut.edf\n")
    (issue,) = ValidateDataset(cut)
    assert issue.line == 3 and issue.code == "unreadable" and "truncated" in issue.message


def test_generator_from_folder(tmp_path):
    for p in range(4):
        (tmp_path / f"pat{p}").mkdir()
        for r in range(2):
            sig = synthetic_eeg(
                120, 64, 2, seizures_per_hour=30, seizure_duration=(5, 10), seed=p * 10 + r
            )
            SignalWrite(tmp_path / f"pat{p}" / f"r{r}.edf", sig)
            write_annotations_csv(tmp_path / f"pat{p}" / f"r{r}.csv", sig.annotations)
    path = generate_recordings_dataset(
        tmp_path, ["background", "seizure"], splits={"training": 0.5, "test": 0.5}
    )
    assert ValidateDataset(path) == []
    d = decode_recordings(path)
    assert len(d.recordings) == 8 and all(r.events for r in d.recordings)
    by_patient = {}
    for r in d.recordings:
        by_patient.setdefault(r.patient, set()).add(r.split)
    assert all(len(s) == 1 for s in by_patient.values()) and {r.split for r in d.recordings} == {
        "training",
        "test",
    }


def test_windows_dataset_paths_agree_and_balance(small):
    d = decode_recordings(small)
    ds = WindowsDataset(
        d.split("training"), WindowSpec(4.0, 2.0, bandpass=(0.5, 30.0), notch=50), chunk=60
    )
    assert ds.shape == (2, 256) and len(ds) == 2 * 149
    seq = np.zeros((len(ds), 2, 256), np.float32)
    for x, y, idx in ds.sequential(32):
        seq[idx] = x
        np.testing.assert_array_equal(y, ds.labels[idx])
    idx = np.random.default_rng(0).permutation(len(ds))[:50]
    rand = np.concatenate([x for x, _, _ in ds.batches(idx, 16)])
    np.testing.assert_array_equal(rand, seq[idx])
    frac = ds.class_counts()[1] / len(ds)
    assert 0 < frac < 0.3
    b = ds.balanced_indices(1000, np.random.default_rng(1), 0.5)
    assert abs((ds.labels[b] == 1).mean() - 0.5) < 0.01
    ds.close()


def test_windows_memory_is_bounded_on_long_recordings(tmp_path):
    """Two 4 h recordings (2 × 14.7 MB of samples) stream in far less memory than they hold."""
    for k in range(2):
        x = np.random.default_rng(k).standard_normal((8, int(4 * 3600 * 64))).astype(np.float32)
        SignalWrite(tmp_path / f"long{k}.edf", Signal(x, 64.0, [f"E{i}" for i in range(8)]))
    ds = WindowsDataset(
        [str(tmp_path / "long0.edf"), str(tmp_path / "long1.edf")], WindowSpec(4.0, 4.0), chunk=60
    )
    tracemalloc.start()
    n = 0
    for x, _, _ in ds.sequential(64):
        n += len(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 2 * 3600
    assert peak < 4e6, peak  # one 60 s block (8 ch × 64 Hz) + one batch, not 29 MB of samples
