"""DICOM de-identification with the PS3.15 Basic Application Level Confidentiality Profile.

:func:`anonymize` rewrites DICOM files into an output folder: every attribute of the profile's
table E.1-1 (the table as shipped by the ``dicom-anonymizer`` package, current DICOM edition) is
removed (X), emptied (Z), given a dummy value (D) or, for UIDs, replaced (U) by a UID derived from
the original and a secret key, so references between files stay consistent. Patient name and ID
become one pseudonym per patient (an HMAC of the patient ID under the key). Private tags are
removed unless asked otherwise; files flagged with burned-in annotation are skipped (or kept with a
warning). Pixels, spacing, modality and geometry are kept. Output is deterministic for a given key,
and de-identified files (marked with our method) pass through unchanged, so running it twice gives
the same output. A JSON report lists, per file, every attribute touched and how (never the values).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from deephealth.ecvl.errors import EcvlError

METHOD = "deephealth PS3.15 Basic Application Level Confidentiality Profile"
_ENV_KEY = "DEEPHEALTH_DEID_KEY"
# Compound actions of table E.1-1 resolved to the choice that keeps the object conformant while
# disclosing nothing: an empty value (Z) or a dummy (D) rather than deletion; U for UIDs.
_ACTIONS = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "D",
    "X_Z_TAGS": "Z",
    "X_D_TAGS": "D",
    "X_Z_D_TAGS": "D",
    "X_Z_U_STAR_TAGS": "U",
}
_DUMMY = {
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "PN": "ANONYMOUS",
    "AS": "000Y",
    "IS": "0",
    "DS": "0",
    "CS": "ANONYMIZED",
    "AE": "ANONYMIZED",
}
_NUMERIC_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"})
_BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})


@dataclasses.dataclass
class Profile:
    """The attribute actions of the Basic profile: exact tags and masked repeating groups."""

    exact: dict[int, str]
    masked: list[tuple[int, int, int, int, str]]

    def action(self, tag: int) -> str | None:
        """The action (X, Z, D or U) for ``tag``, or None when the profile keeps it."""
        act = self.exact.get(tag)
        if act is not None:
            return act
        group, elem = tag >> 16, tag & 0xFFFF
        for g, e, gm, em, a in self.masked:
            if group & gm == g and elem & em == e:
                return a
        return None


_PROFILE: Profile | None = None


def basic_profile() -> Profile:
    """The PS3.15 Basic profile (table E.1-1, current edition), loaded once."""
    global _PROFILE
    if _PROFILE is None:
        try:
            from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as table
        except ImportError as e:  # pragma: no cover - a core dependency
            raise EcvlError(
                "anonymize needs the 'dicom-anonymizer' package (pip install dicom-anonymizer)"
            ) from e
        exact: dict[int, str] = {}
        masked: list[tuple[int, int, int, int, str]] = []
        for category, act in _ACTIONS.items():
            for t in getattr(table, category):
                if len(t) == 2:
                    exact[(t[0] << 16) | t[1]] = act
                else:
                    masked.append((t[0], t[1], t[2], t[3], act))
        _PROFILE = Profile(exact, masked)
    return _PROFILE


def _key_bytes(key: str | bytes | None) -> bytes:
    if key is None:
        key = os.environ.get(_ENV_KEY)
    if not key:
        raise EcvlError(
            f"anonymize needs a secret key (argument 'key' or ${_ENV_KEY}) for pseudonyms"
        )
    return key.encode() if isinstance(key, str) else bytes(key)


def pseudonym(patient: str, key: str | bytes) -> str:
    """The pseudonym of a patient identifier under ``key``: ``ANON`` + 12 hex digits of an HMAC."""
    digest = hmac.new(_key_bytes(key), patient.encode("utf-8"), hashlib.sha256).hexdigest()
    return "ANON" + digest[:12].upper()


def replace_uid(uid: str, key: str | bytes) -> str:
    """A UID derived from ``uid`` and ``key`` (``2.25.`` + 128-bit HMAC): the same input always
    maps to the same output, so references between files stay consistent."""
    digest = hmac.new(_key_bytes(key), b"uid:" + str(uid).encode(), hashlib.sha256).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def _dummy(elem: Any, key: bytes) -> Any:
    vr = elem.VR
    if vr == "UI":
        return replace_uid(str(elem.value), key) if elem.value else ""
    if vr == "SQ":
        return []
    if vr in _NUMERIC_VRS:
        return 0
    if vr in _BINARY_VRS:
        return b""
    return _DUMMY.get(vr, "ANONYMIZED")


def is_deidentified(ds: Any) -> bool:
    """Whether ``ds`` was already de-identified by this module."""
    return str(ds.get("PatientIdentityRemoved", "")) == "YES" and METHOD in str(
        ds.get("DeidentificationMethod", "")
    )


def anonymize_dataset(
    ds: Any, key: str | bytes, keep_private: bool = False
) -> list[dict[str, str]]:
    """De-identify a pydicom dataset in place (profile actions at every nesting level).

    Args:
        ds: A ``pydicom`` Dataset (``file_meta`` included if present).
        key: Secret for the pseudonym and the UID replacement.
        keep_private: Keep private tags (the profile's "retain safe private" option, unchecked).

    Returns:
        The changes: ``{"tag", "keyword", "action"}`` for each attribute touched (no values).
    """
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as DicomSequence

    kb = _key_bytes(key)
    profile = basic_profile()
    changes: list[dict[str, str]] = []
    patient = str(ds.get("PatientID", "") or ds.get("PatientName", "") or "")
    alias = pseudonym(patient, kb) if patient else "ANONYMOUS"

    def note(elem: Any, action: str, path: str) -> None:
        changes.append(
            {
                "tag": f"{path}({elem.tag.group:04X},{elem.tag.element:04X})",
                "keyword": elem.keyword or "private",
                "action": action,
            }
        )

    def walk(d: Dataset, path: str, top: bool) -> None:
        for elem in list(d):
            tag = int(elem.tag)
            if elem.tag.group == 0 and top:  # command set elements do not belong in files
                note(elem, "X", path)
                del d[elem.tag]
                continue
            if elem.tag.is_private and not keep_private:
                note(elem, "X", path)
                del d[elem.tag]
                continue
            act = profile.action(tag)
            if top and elem.keyword in ("PatientName", "PatientID"):
                elem.value = alias
                note(elem, "P", path)
                continue
            if act == "X":
                note(elem, "X", path)
                del d[elem.tag]
            elif act == "Z":
                elem.value = [] if elem.VR == "SQ" else (b"" if elem.VR in _BINARY_VRS else None)
                note(elem, "Z", path)
            elif act == "U" and elem.VR == "SQ":  # a sequence of references: replace its UIDs
                note(elem, act, path)
                for i, item in enumerate(elem.value):
                    walk(item, f"{path}({elem.tag.group:04X},{elem.tag.element:04X})[{i}]", False)
            elif act in ("D", "U"):
                elem.value = _dummy(elem, kb)
                note(elem, act, path)
            elif elem.VR == "SQ" and isinstance(elem.value, DicomSequence):
                for i, item in enumerate(elem.value):
                    walk(item, f"{path}({elem.tag.group:04X},{elem.tag.element:04X})[{i}]", False)

    walk(ds, "", True)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta:
        meta.MediaStorageSOPInstanceUID = ds.get("SOPInstanceUID") or replace_uid(
            meta.MediaStorageSOPInstanceUID, kb
        )
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue = "113100"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    ds.DeidentificationMethodCodeSequence = DicomSequence([code])
    return changes


@dataclasses.dataclass
class DeidReport:
    """What :func:`anonymize` did.

    Attributes:
        files: One entry per written file: ``source``, ``output``, ``patient`` (pseudonym),
            ``changes`` (as :func:`anonymize_dataset`), ``warnings``.
        skipped: ``{"source", "reason"}`` for each file not written.
        report_path: Where the JSON report was written.
    """

    files: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)
    report_path: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {"method": METHOD, "files": self.files, "skipped": self.skipped}


def _iter_files(sources: str | os.PathLike | Sequence[str | os.PathLike]) -> Iterable[str]:
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    for s in sources:
        s = os.fspath(s)
        if os.path.isdir(s):
            for root, dirs, names in os.walk(s):
                dirs.sort()
                for n in sorted(names):
                    if not n.startswith(".") and n != "DICOMDIR":
                        yield os.path.join(root, n)
        else:
            yield s


def anonymize(
    sources: str | os.PathLike | Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    key: str | bytes | None = None,
    keep_private: bool = False,
    burned_in: str = "skip",
    report_name: str = "deid_report.json",
) -> DeidReport:
    """De-identify DICOM files into ``output_dir`` and write a JSON report there.

    Files are written as ``<output_dir>/<patient pseudonym>/<new SeriesInstanceUID>/<new
    SOPInstanceUID>.dcm`` (the source names may hold identifiers). Files that are not DICOM are
    skipped and reported.

    Args:
        sources: A file, a folder (walked recursively) or a list of them.
        output_dir: Destination folder (created).
        key: Secret for pseudonyms and UIDs; defaults to ``$DEEPHEALTH_DEID_KEY``. Keep it to
            de-identify later files of the same patients consistently.
        keep_private: Keep private tags (default: remove them all).
        burned_in: For files with BurnedInAnnotation YES: ``"skip"`` them (default) or ``"keep"``
            them with a warning in the report.
        report_name: File name of the report inside ``output_dir``.

    Returns:
        The :class:`DeidReport`.

    Raises:
        EcvlError: No key, a bad ``burned_in`` value, or an output that cannot be written.
    """
    import pydicom

    kb = _key_bytes(key)
    if burned_in not in ("skip", "keep"):
        raise EcvlError(f"burned_in must be 'skip' or 'keep', not {burned_in!r}")
    out_root = os.fspath(output_dir)
    os.makedirs(out_root, exist_ok=True)
    report = DeidReport()
    for path in _iter_files(sources):
        try:
            ds = pydicom.dcmread(path)
        except Exception as e:
            report.skipped.append(
                {"source": path, "reason": f"not a readable DICOM file ({type(e).__name__})"}
            )
            continue
        warnings: list[str] = []
        if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
            if burned_in == "skip":
                report.skipped.append(
                    {
                        "source": path,
                        "reason": "BurnedInAnnotation is YES: pixels may show identity",
                    }
                )
                continue
            warnings.append("BurnedInAnnotation is YES: pixels may show identity; check them")
        changes = [] if is_deidentified(ds) else anonymize_dataset(ds, kb, keep_private)
        buf = io.BytesIO()
        try:
            ds.save_as(buf, enforce_file_format=False)
        except Exception as e:
            report.skipped.append(
                {"source": path, "reason": f"cannot encode ({type(e).__name__}: {e})"}
            )
            continue
        data = buf.getvalue()
        alias = str(ds.get("PatientID", "") or "ANONYMOUS")
        series = str(ds.get("SeriesInstanceUID", "") or "series")
        # Without a SOP Instance UID the name comes from the content: the same on every run.
        sop = str(ds.get("SOPInstanceUID", "") or replace_uid(hashlib.sha256(data).hexdigest(), kb))
        folder = os.path.join(out_root, alias, series)
        target = os.path.join(folder, sop + ".dcm")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(target, "wb") as f:
                f.write(data)
        except OSError as e:
            raise EcvlError(f"cannot write {target!r}: {e.strerror or e}") from None
        report.files.append(
            {
                "source": path,
                "output": target,
                "patient": alias,
                "changes": changes,
                "warnings": warnings,
            }
        )
    report.report_path = os.path.join(out_root, report_name)
    with open(report.report_path, "w", encoding="utf-8") as f:
        json.dump(report.to_dict(), f, indent=1, sort_keys=True)
    return report


__all__ = [
    "DeidReport",
    "anonymize",
    "anonymize_dataset",
    "basic_profile",
    "pseudonym",
    "replace_uid",
]
