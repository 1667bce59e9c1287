"""deephealth anonymize against an independent de-identifier: pydicom's `deid` (default recipe) on
the deid-data files, tag by tag (the full table of differences is in docs/security.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("deid")
pytest.importorskip("deid_data")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import compare_deid

# Values deid removes that we keep on purpose: the SOP class (not identifying; readers need it)
# and the exposure time (an acquisition parameter deid drops with every attribute ending in Time).
KEPT_ON_PURPOSE = {"SOPClassUID", "ExposureTime"}


@pytest.fixture(scope="module")
def rows():
    return compare_deid.rows()


def test_we_never_keep_a_value_deid_takes_out(rows):
    kept = {
        r["keyword"] for r in rows if r["deid"] in ("removed", "replaced") and r["ours"] == "kept"
    }
    assert kept == KEPT_ON_PURPOSE


def test_identity_handled_by_both(rows):
    for r in rows:
        if r["keyword"] in ("PatientName", "PatientID", "StudyInstanceUID", "SOPInstanceUID"):
            assert r["deid"] != "kept"
            assert r["ours"] in ("replaced", "refused", "emptied"), r


def test_attributes_deid_keeps_that_the_profile_removes(rows):
    """deid's default recipe keeps attributes that PS3.15 removes; we do not."""
    ours = {r["keyword"]: r["ours"] for r in rows if r["deid"] == "kept" and r["ours"] != "refused"}
    for kw in ("PatientAge", "InstitutionAddress", "StudyDescription", "SeriesDescription"):
        assert ours.get(kw) in (None, "removed"), kw
    assert ours.get("InstitutionName") in (None, "replaced")


def test_burned_in_files_are_refused(rows):
    refused = {r["file"]: r["refused"] for r in rows if r["ours"] == "refused"}
    assert refused and all("BurnedInAnnotation" in why for why in refused.values())
