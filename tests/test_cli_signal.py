"""`deephealth signal info|plot|windows` on real files, and their exit codes on bad input."""

import json

import pytest

from deephealth.cli import main

pyedflib = pytest.importorskip("pyedflib")


def test_info_json_on_dicom_ecg(capsys):
    from pydicom.data import get_testdata_file

    assert main(["signal", "info", get_testdata_file("waveform_ecg.dcm"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in info["channels"]][:2] == ["I", "II"] and info["duration_s"] == 10.0
    assert info["interpretation"] == ["RITMO SINUSALE", "ECG NORMALE"]


def test_plot_and_windows(tmp_path, capsys):
    from deephealth.ecvl.signal import SignalWrite
    from deephealth.pipelines.signals.synthetic import synthetic_eeg, write_annotations_csv

    sig = synthetic_eeg(300, 64, 2, seed=5)
    SignalWrite(tmp_path / "r.edf", sig)
    write_annotations_csv(tmp_path / "r.csv", sig.annotations)
    png = tmp_path / "p.png"
    assert (
        main(
            [
                "signal",
                "plot",
                str(tmp_path / "r.edf"),
                str(png),
                "--start",
                "10",
                "--duration",
                "20",
                "--bandpass",
                "0.5",
                "30",
            ]
        )
        == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = tmp_path / "w.csv"
    assert main(["signal", "windows", str(tmp_path / "r.edf"), "--annotations", str(tmp_path / "r.csv"),
                 "--length", "4", "--step", "2", "--out", str(out)]) == 0  # fmt: skip
    rows = out.read_text().splitlines()
    assert rows[0] == "recording,start,end,label" and len(rows) == 1 + 149
    seizure = [r for r in rows[1:] if r.endswith(",seizure")]
    ev = sig.annotations[0]
    assert seizure and all(
        float(r.split(",")[1]) < ev.end and float(r.split(",")[2]) > ev.onset for r in seizure
    )


def test_bad_input_exit_code(tmp_path, capsys):
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"0       garbage")
    assert main(["signal", "info", str(bad)]) == 2
    assert "bad.edf" in capsys.readouterr().err
