"""Recording I/O against the reference libraries on the same files: EDF/BDF (pyedflib, MNE),
WFDB (wfdb), DICOM waveform (pydicom), CSV/NumPy; exact EDF round trip read back in a new
process; lazy range reads; clear errors naming the file."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deephealth.ecvl.signal import (
    Annotation,
    Signal,
    SignalError,
    SignalOpen,
    SignalRead,
    SignalReadError,
    SignalWrite,
)

pyedflib = pytest.importorskip("pyedflib")
EDF_DATA = Path(pyedflib.__file__).parent / "tests" / "data"
ROOT = Path(__file__).resolve().parents[2]
MITDB = ROOT / ".data" / "mitdb" / "mitdb.csv"


def _ecg_path() -> str:
    from pydicom.data import get_testdata_file

    return get_testdata_file("waveform_ecg.dcm")


@pytest.mark.parametrize("name", ["test_subsecond.edf", "test_generator.edf", "test_generator.bdf"])
def test_edf_values_equal_pyedflib(name):
    path = str(EDF_DATA / name)
    sig = SignalRead(path)
    r = pyedflib.EdfReader(path)
    try:
        assert sig.channels == [c.strip() for c in r.getSignalLabels()]
        assert np.allclose(sig.fs_, r.getSampleFrequencies())
        for i in range(r.signals_in_file):
            np.testing.assert_array_equal(sig.channel(i), r.readSignal(i).astype(np.float32))
        onsets, _, texts = r.readAnnotations()
        ref = sorted(zip(onsets.tolist(), texts.tolist()))
        assert [(a.onset, a.label) for a in sig.annotations] == [
            (pytest.approx(o), t) for o, t in ref
        ]
    finally:
        r.close()


def test_edf_values_equal_mne():
    mne = pytest.importorskip("mne")
    path = str(EDF_DATA / "test_subsecond.edf")
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    sig = SignalRead(path)
    # MNE stores volts; the file is in µV
    np.testing.assert_allclose(sig.data[0], raw.get_data()[0] * 1e6, rtol=1e-5, atol=1e-3)


def test_mixed_rates_and_resample():
    sig = SignalRead(str(EDF_DATA / "test_generator.bdf"))
    assert not sig.uniform and sorted(set(sig.fs_.tolist())) == [500.0, 800.0, 975.0, 999.0, 1000.0]
    with pytest.raises(SignalError, match="different sampling rates"):
        _ = sig.data
    one = sig.resample(250)
    assert one.uniform and one.fs == 250 and one.data.shape == (sig.num_channels, 30 * 250)
    # a 5 Hz sine survives resampling: correlation with the original at matching times
    i = sig.index("sine 5Hz")
    t = np.arange(one.num_samples) / 250
    src = np.interp(t, np.arange(len(sig.channel(i))) / sig.fs_[i], sig.channel(i))
    assert np.corrcoef(src[100:-100], one.channel(i)[100:-100])[0, 1] > 0.999


@pytest.mark.parametrize(
    "name,ext",
    [
        ("test_subsecond.edf", ".edf"),
        ("test_generator.bdf", ".bdf"),
        ("test_generator.edf", ".edf"),
    ],
)
def test_edf_round_trip_exact_in_new_process(name, ext, tmp_path):
    sig = SignalRead(str(EDF_DATA / name))
    sig.add_annotations([(12.5, 3.0, "seizure")])
    out = tmp_path / f"copy{ext}"
    SignalWrite(out, sig)
    code = (
        "import json,sys,pyedflib,numpy as np; r=pyedflib.EdfReader(sys.argv[1]);"
        "print(json.dumps({'x':[r.readSignal(i).astype(np.float32).tolist()[:4000] for i in range(r.signals_in_file)],"
        "'ann':[list(map(str,a)) for a in zip(*r.readAnnotations())]}))"
    )
    res = json.loads(
        subprocess.run(
            [sys.executable, "-c", code, str(out)], capture_output=True, text=True, check=True
        ).stdout
    )
    for i, x in enumerate(res["x"]):
        np.testing.assert_array_equal(np.asarray(x, np.float32), sig.channel(i)[:4000])
    # EDF+ stores onsets relative to a start time with sub-second part: 100 µs resolution
    assert any(
        a[2] == "seizure" and abs(float(a[0]) - 12.5) < 1e-4 and float(a[1]) == 3.0
        for a in res["ann"]
    )


def test_lazy_range_reads_only_the_range():
    path = str(EDF_DATA / "test_subsecond.edf")
    whole = SignalRead(path)
    part = SignalRead(path, 100.0, 110.0)
    assert part.offset == 100.0 and part.num_samples == 1280
    np.testing.assert_array_equal(part.data, whole.data[:, 12800:14080])
    with SignalOpen(path) as f:
        assert f.header.duration == 698.0
        assert f.read(697, None).num_samples == 128
        with pytest.raises(SignalReadError, match="past the end"):
            f.read(800, 900)


def test_dicom_ecg_reads_leads_annotations_and_text():
    import pydicom

    path = _ecg_path()
    sig = SignalRead(path)
    ref = pydicom.dcmread(path).waveform_array(0).T.astype(np.float32)
    np.testing.assert_array_equal(sig.data, ref)
    assert sig.channels[:3] == ["I", "II", "III"] and sig.fs == 1000 and sig.units[0] == "uV"
    assert set(sig.types) == {"ECG"}
    assert sig.meta["interpretation"] == ["RITMO SINUSALE", "ECG NORMALE"]
    assert sig.meta["measurements"]["QRS Duration"] == (75.0, "ms")
    beats = [a for a in sig.annotations if a.label == "Fiducial Point" and a.group >= 100]
    assert len(beats) == 10 and beats[0].onset == pytest.approx(0.526)
    assert SignalRead(path, group=1).num_samples == 1200  # the median beat


def test_wfdb_record_and_annotations_equal_wfdb(tmp_path):
    wfdb = pytest.importorskip("wfdb")
    if not MITDB.exists():
        pytest.skip("run scripts/fetch_data.sh for the MIT-BIH excerpt")
    csv = SignalRead(MITDB, fs=360)
    assert csv.num_samples == 7500 and [a.label for a in csv.annotations] == ["1"]
    sig = Signal(csv.data, 360, ["MLII"], units=["mV"]).add_annotations([(6936 / 360, 0, "V")])
    SignalWrite(tmp_path / "100.hea", sig)
    rec = wfdb.rdrecord(str(tmp_path / "100"))
    ann = wfdb.rdann(str(tmp_path / "100"), "atr")
    got = SignalRead(tmp_path / "100.hea")
    np.testing.assert_array_equal(got.data, rec.p_signal.T.astype(np.float32))
    assert [(a.label, round(a.onset * 360)) for a in got.annotations] == list(
        zip(ann.symbol, ann.sample.tolist())
    )
    part = SignalRead(tmp_path / "100", 1.0, 2.0)
    np.testing.assert_array_equal(part.data, got.data[:, 360:720])


def test_npz_and_csv_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    sig = Signal(rng.standard_normal((3, 500)).astype(np.float32), 250, ["Fp1", "Cz", "ECG"],
                 annotations=[Annotation(0.5, 0.2, "artefact")])  # fmt: skip
    SignalWrite(tmp_path / "a.npz", sig)
    back = SignalRead(tmp_path / "a.npz")
    np.testing.assert_array_equal(back.data, sig.data)
    assert (
        back.channels == sig.channels
        and back.types == ["EEG", "EEG", "ECG"]
        and back.annotations[0].label == "artefact"
    )
    SignalWrite(tmp_path / "a.csv", sig)
    back = SignalRead(tmp_path / "a.csv")
    assert back.fs == 250
    np.testing.assert_allclose(back.data, sig.data, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "content,match",
    [
        (b"", "empty file"),
        (b"0       " + b"x" * 100, "truncated header"),
        (b"hello world\n" * 30, "unknown recording format"),
    ],
)
def test_bad_files_name_the_file(tmp_path, content, match):
    p = tmp_path / "bad.edf" if content[:1] == b"0" else tmp_path / "bad.bin"
    p.write_bytes(content)
    with pytest.raises(SignalReadError, match=match) as e:
        SignalRead(p)
    assert str(p) in str(e.value)


def test_truncated_edf_is_refused(tmp_path):
    data = (EDF_DATA / "test_generator.edf").read_bytes()
    p = tmp_path / "cut.edf"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(SignalReadError, match="truncated") as e:
        SignalRead(p)
    assert "cut.edf" in str(e.value)


def test_missing_file():
    with pytest.raises(SignalReadError, match="no such file"):
        SignalRead("/nonexistent/x.edf")
