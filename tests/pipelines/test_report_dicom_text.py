"""The interpretation text of pydicom's real 12-lead ECG (waveform_ecg.dcm), read as a report."""

from __future__ import annotations

import pytest

from deephealth.pipelines.report_generation.dicom_text import DicomTextError, read_waveform_report
from deephealth.pipelines.report_generation.vocab import UNK, Vocabulary


def test_ecg_interpretation_text_and_signal():
    data = pytest.importorskip("pydicom.data")
    report = read_waveform_report(data.get_testdata_file("waveform_ecg.dcm"))
    assert report["texts"] == ["RITMO SINUSALE", "ECG NORMALE"]
    assert report["channels"] == 12 and report["signal"].shape == (12, 10000)
    text = " . ".join(report["texts"])
    ids = Vocabulary.build([text]).encode(text, 8)
    voc = Vocabulary.build([text])
    assert voc.decode(ids) == "ritmo sinusale . ecg normale" and UNK not in ids


def test_not_a_waveform_names_the_file():
    data = pytest.importorskip("pydicom.data")
    path = data.get_testdata_file("CT_small.dcm")
    with pytest.raises(DicomTextError, match="CT_small.dcm"):
        read_waveform_report(path)
