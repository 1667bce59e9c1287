"""pyecvl's feature flags: which optional parts of ECVL this installation provides.

pyecvl scripts test ``ecvl.ECVL_EDDL``, ``ecvl.ECVL_WITH_DICOM`` and ``ecvl.ECVL_WITH_OPENSLIDE``
before using the bridge, DICOM or slides. Here each is True when the back-end's distribution is
installed (checked by name: nothing heavy is imported to answer).
"""

from __future__ import annotations

from deephealth.ecvl.backends import installed

#: the ECVL↔EDDL bridge (``ImageToTensor``, ``DLDataset.LoadBatch``) needs torch
ECVL_EDDL: bool = installed("torch")
#: DICOM reading and writing (pydicom)
ECVL_WITH_DICOM: bool = installed("pydicom")
#: whole-slide images (openslide-python)
ECVL_WITH_OPENSLIDE: bool = installed("openslide-python")
#: GPU support of ECVL's C++ kernels: image processing runs on the CPU here
ECVL_GPU: bool = False

__all__ = ["ECVL_EDDL", "ECVL_GPU", "ECVL_WITH_DICOM", "ECVL_WITH_OPENSLIDE"]
