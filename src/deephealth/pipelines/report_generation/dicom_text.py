"""Report texts stored in DICOM files: the interpretation texts of a waveform (e.g. an ECG).

DICOM waveforms carry their interpretation as annotations: items of the Waveform Annotation
Sequence (0040,B020) with an Unformatted Text Value (0070,0006). `read_waveform_report` returns
these texts, in file order, with the waveform's sample array, so that a signal and its report can
be paired like an image and its report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deephealth.errors import PipelineError


class DicomTextError(PipelineError, ValueError):
    """A DICOM file without the waveform or the texts asked for."""


def read_waveform_report(path: str | Path) -> dict[str, Any]:
    """{"texts": interpretation texts, "signal": (channels, samples) float array, "channels": n}.

    Raises:
        DicomTextError: naming the file, when it has no waveform.
    """
    import pydicom

    ds = pydicom.dcmread(str(path))
    if "WaveformSequence" not in ds:
        raise DicomTextError(f"{path}: no Waveform Sequence (5400,0100); not a DICOM waveform")
    texts = [
        str(item.UnformattedTextValue).strip()
        for item in ds.get("WaveformAnnotationSequence", [])
        if "UnformattedTextValue" in item and str(item.UnformattedTextValue).strip()
    ]
    signal = np.asarray(ds.waveform_array(0), dtype=np.float32).T
    return {"texts": texts, "signal": signal, "channels": int(signal.shape[0])}
