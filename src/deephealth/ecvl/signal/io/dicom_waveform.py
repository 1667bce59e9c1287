"""DICOM waveforms (12-lead ECG, EEG, hemodynamic...) through pydicom, with their annotations.

One multiplex group is read (``group=0``: the first, e.g. the rhythm of a 12-lead ECG; the median
beat is the next one). Samples are in physical units (channel sensitivity, correction and
baseline applied by pydicom's ``waveform_array``). Lead names are shortened from the code meaning
(``"Lead I (Einthoven)"`` → ``I``). The Waveform Annotation Sequence gives: sample-positioned
markers as :class:`Annotation` rows (label = concept name, e.g. ``Fiducial Point``; ``group`` =
the annotation group number; DICOM positions are 1-based), the free text (the machine's
interpretation) in ``meta["interpretation"]`` and the numeric measurements (RR, PR, QRS, QT, axes)
in ``meta["measurements"]`` as ``{name: (value, unit)}``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from deephealth.ecvl.signal.io.base import SignalFile, SignalHeader, import_backend
from deephealth.ecvl.signal.signal import Annotation, SignalReadError


def sniff(head: bytes) -> bool:
    """DICOM Part 10 preamble (``DICM`` at byte 128)."""
    return head[128:132] == b"DICM"


def lead_name(meaning: str) -> str:
    """``"Lead I (Einthoven)"`` → ``"I"``, ``"Lead aVR"`` → ``"aVR"``; other names unchanged."""
    m = re.match(r"^\s*Lead\s+(\S+)", meaning)
    return m.group(1) if m else meaning.strip()


class DicomWaveformFile(SignalFile):
    """A DICOM waveform object (read whole: waveforms are small)."""

    def __init__(self, path: str, group: int = 0) -> None:
        pydicom = import_backend("pydicom", "DICOM waveform reading")
        self.path = path
        try:
            ds = pydicom.dcmread(path)
        except Exception as e:
            raise SignalReadError(path, f"corrupt DICOM: {e}") from None
        seq = ds.get("WaveformSequence")
        if not seq:
            raise SignalReadError(path, "no WaveformSequence: not a DICOM waveform object")
        if not 0 <= group < len(seq):
            raise SignalReadError(path, f"multiplex group {group} out of range (0..{len(seq) - 1})")
        w = seq[group]
        try:
            x = np.asarray(ds.waveform_array(group), dtype=np.float32).T
            fs = float(w.SamplingFrequency)
        except Exception as e:
            raise SignalReadError(path, f"corrupt waveform data: {e}") from None
        names, units = [], []
        for i, ch in enumerate(w.ChannelDefinitionSequence):
            src = ch.get("ChannelSourceSequence")
            names.append(lead_name(src[0].CodeMeaning) if src else f"ch{i}")
            us = ch.get("ChannelSensitivityUnitsSequence")
            units.append(us[0].CodeValue if us else "")
        anns, texts, measures = self._annotations(ds, group, fs)
        modality = str(ds.get("Modality", ""))
        ctype = "ECG" if modality == "ECG" or "ECG" in str(ds.get("SOPClassUID", "").name) else None
        self._data = x
        self.header = SignalHeader(
            channels=names, fs=np.full(len(names), fs), samples=np.full(len(names), x.shape[1]),
            types=[ctype or "MISC"] * len(names), units=units, start_time=_start(ds),
            annotations=anns,
            meta={"interpretation": texts, "measurements": measures,
                  "multiplex_group": str(w.get("MultiplexGroupLabel", group)), "modality": modality},
        )  # fmt: skip

    @staticmethod
    def _annotations(ds: Any, group: int, fs: float) -> tuple[list[Annotation], list[str], dict]:
        anns, texts, measures = [], [], {}
        for it in ds.get("WaveformAnnotationSequence", []):
            ref = list(it.get("ReferencedWaveformChannels", [group + 1, 0]))
            if ref and int(ref[0]) != group + 1:
                continue
            name = (
                it.ConceptNameCodeSequence[0].CodeMeaning if "ConceptNameCodeSequence" in it else ""
            )
            if "UnformattedTextValue" in it:
                texts.append(str(it.UnformattedTextValue))
            elif "NumericValue" in it:
                mu = it.get("MeasurementUnitsCodeSequence")
                measures[name] = (float(it.NumericValue), mu[0].CodeValue if mu else "")
            elif "ReferencedSamplePositions" in it:
                pos = it.ReferencedSamplePositions
                pos = [
                    int(p)
                    for p in (
                        pos
                        if isinstance(pos, (list, tuple))
                        or hasattr(pos, "__len__")
                        and not isinstance(pos, (str, bytes))
                        else [pos]
                    )
                ]
                onset = (pos[0] - 1) / fs
                dur = (
                    (pos[-1] - pos[0]) / fs
                    if it.get("TemporalRangeType") in ("SEGMENT", "MULTISEGMENT")
                    else 0.0
                )
                anns.append(
                    Annotation(onset, dur, name, group=int(it.get("AnnotationGroupNumber", 0)))
                )
        return anns, texts, measures

    def _read_block(self, idx: list[int], first: int, count: int) -> np.ndarray:
        return self._data[idx, first : first + count]

    def _read_samples(self, index: int, first: int, count: int) -> np.ndarray:
        return self._data[index, first : first + count]


def _start(ds: Any) -> Any:
    import datetime as dt

    s = str(ds.get("AcquisitionDateTime", "") or "")
    if not s:
        s = str(ds.get("ContentDate", "") or "") + str(ds.get("ContentTime", "") or "")
    for fmt in ("%Y%m%d%H%M%S.%f", "%Y%m%d%H%M%S", "%Y%m%d"):
        try:
            return dt.datetime.strptime(
                s[: len(dt.datetime.now().strftime(fmt)) + (7 if "%f" in fmt else 0)], fmt
            )
        except ValueError:
            continue
    return None


def open(path: str, group: int = 0, **kwargs: Any) -> DicomWaveformFile:  # noqa: A001
    """Open a DICOM waveform file (multiplex group ``group``)."""
    return DicomWaveformFile(path, group)
