"""Biosignals in ECVL: the Signal type (EEG, ECG, EMG, ...), recording I/O, processing, windows.

``Signal`` holds channels × samples in physical units with rates, names, types, start time and
annotations; ``SignalRead``/``SignalOpen``/``SignalWrite`` read and write EDF/EDF+/BDF, WFDB,
DICOM waveforms, CSV and NumPy files; :mod:`.processing` filters, re-references and measures;
:mod:`.windows` cuts recordings into labelled epochs. See ``docs/signals.md``.
"""

from deephealth.ecvl.signal.io import SignalFile, SignalOpen, SignalRead, SignalWrite
from deephealth.ecvl.signal.signal import (
    Annotation,
    Signal,
    SignalError,
    SignalReadError,
    SignalWriteError,
)

__all__ = [
    "Annotation",
    "Signal",
    "SignalError",
    "SignalFile",
    "SignalOpen",
    "SignalRead",
    "SignalReadError",
    "SignalWrite",
    "SignalWriteError",
]
