"""DICOM de-identification with the PS3.15 Basic Application Level Confidentiality Profile.

:func:`anonymize` rewrites DICOM files into an output folder: every attribute of the profile's
table E.1-1 (the table as shipped by the ``dicom-anonymizer`` package, current DICOM edition) is
removed (X), emptied (Z), given a dummy value (D) or, for UIDs, replaced (U) by a UID derived from
the original and a secret key, so references between files stay consistent. Patient name and ID
become one pseudonym per patient (an HMAC of the patient ID under the key). Private tags are
removed unless asked otherwise; files flagged with burned-in annotation are skipped (or kept with a
warning). The copy is built by allow-list: besides those generated values, only the attributes of
:data:`~.anonymize_checks.KEPT` (pixels, spacing, modality, geometry, acquisition technique) are
copied; unknown, malformed, command-set and file-meta elements never are. Each output is re-read
and checked before it is written (:mod:`~.anonymize_checks`); a file that cannot be made safe is
refused. Nothing is trusted because a file says it is de-identified. Output is deterministic for a
given key. A JSON report lists, per file, every attribute touched and how (never the values).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from deephealth.ecvl.anonymize_checks import (
    KEPT,
    DeidentificationError,
    identifying_values,
    verify_output,
    vr_matches,
)
from deephealth.ecvl.errors import EcvlError

METHOD = "deephealth PS3.15 Basic Appl. Level Confidentiality Profile"  # LO: <= 64 chars
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


def anonymize_dataset(
    ds: Any, key: str | bytes, keep_private: bool = False
) -> tuple[Any, list[dict[str, str]], set[str]]:
    """A de-identified copy of a pydicom dataset, built by allow-list (the source is not changed).

    Only three kinds of elements reach the copy, at every nesting level: attributes of
    :data:`~.anonymize_checks.KEPT` (values copied), attributes the PS3.15 basic profile keeps with
    a generated value (emptied, dummy, replaced UID; patient name and ID become the pseudonym),
    and, with ``keep_private``, private elements. Everything else is left out: attributes the
    profile removes, unknown or malformed elements (a VR the dictionary does not give the tag),
    the command set and the file meta (written afresh by :func:`anonymize`).

    Args:
        ds: A ``pydicom`` Dataset.
        key: Secret for the pseudonym and the UID replacement.
        keep_private: Keep private tags (the profile's "retain safe private" option, unchecked).

    Returns:
        ``(copy, changes, generated)``: the new Dataset; ``{"tag", "keyword", "action"}`` for
        each attribute touched (no values; action X removed by the profile, R outside the retained
        set, unknown or malformed, Z/D/U/P as the profile); the strings we generated.
    """
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as DicomSequence

    kb = _key_bytes(key)
    profile = basic_profile()
    changes: list[dict[str, str]] = []
    patient = str(ds.get("PatientID", "") or ds.get("PatientName", "") or "")
    alias = pseudonym(patient, kb) if patient else "ANONYMOUS"
    generated = {alias, METHOD, *_DUMMY.values()}

    def note(elem: Any, action: str, path: str) -> None:
        changes.append(
            {
                "tag": f"{path}({elem.tag.group:04X},{elem.tag.element:04X})",
                "keyword": "private" if elem.tag.is_private else (elem.keyword or "unknown"),
                "action": action,
            }
        )

    def copy(d: Dataset, path: str, top: bool, refs: bool) -> Dataset:
        out = Dataset()
        for elem in d:
            tag = int(elem.tag)
            here = f"{path}({elem.tag.group:04X},{elem.tag.element:04X})"
            if elem.tag.is_private:
                if keep_private:
                    out.add(elem)
                else:
                    note(elem, "X", path)
                continue
            if elem.tag.group in (0, 2) or not vr_matches(elem):
                note(elem, "R", path)
                continue
            act = profile.action(tag)
            if top and elem.keyword in ("PatientName", "PatientID"):
                out.add_new(elem.tag, elem.VR, alias)
                note(elem, "P", path)
            elif act == "X":
                note(elem, "X", path)
            elif act == "Z":
                empty = [] if elem.VR == "SQ" else (b"" if elem.VR in _BINARY_VRS else None)
                out.add_new(elem.tag, elem.VR, empty)
                note(elem, "Z", path)
            elif act == "U" and elem.VR == "SQ":  # a sequence of references: replace its UIDs
                items = [copy(item, f"{here}[{i}]", False, True) for i, item in enumerate(elem)]
                out.add_new(elem.tag, "SQ", DicomSequence(items))
                note(elem, act, path)
            elif act in ("D", "U"):
                value = _dummy(elem, kb)
                generated.add(str(value))
                out.add_new(elem.tag, elem.VR, value)
                note(elem, act, path)
            elif elem.keyword in KEPT or (refs and elem.keyword == "ReferencedSOPClassUID"):
                if elem.VR == "SQ":
                    items = [copy(item, f"{here}[{i}]", False, refs) for i, item in enumerate(elem)]
                    out.add_new(elem.tag, "SQ", DicomSequence(items))
                else:
                    out.add(elem)
            else:
                note(elem, "R", path)
        return out

    new = copy(ds, "", True, False)
    new.PatientIdentityRemoved = "YES"
    new.DeidentificationMethod = METHOD
    code = Dataset()
    code.CodeValue = "113100"
    code.CodingSchemeDesignator = "DCM"
    code.CodeMeaning = "Basic Application Confidentiality Profile"
    generated.update((code.CodeMeaning, code.CodeValue))
    new.DeidentificationMethodCodeSequence = DicomSequence([code])
    return new, changes, generated


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


_ADDED = frozenset(
    {
        "PatientName", "PatientID", "PatientIdentityRemoved", "DeidentificationMethod",
        "DeidentificationMethodCodeSequence", "CodeValue", "CodingSchemeDesignator", "CodeMeaning",
        "ReferencedSOPClassUID",
    }
)  # fmt: skip
_IMPLEMENTATION = "DEEPHEALTH"
_SAFE_NAME = re.compile(r"^[0-9A-Z.]{1,64}$")


def _inside(root: str, target: str) -> bool:
    root = os.path.realpath(root)
    return os.path.commonpath([root, os.path.realpath(target)]) == root


def _write_atomic(target: str, data: bytes) -> None:
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, target)


def _file_meta(new: Any, source: Any) -> Any:
    """Fresh file meta: SOP class and instance of the copy, the source's transfer syntax (checked
    against the known ones), our implementation UID. Nothing else of the source meta is kept."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    old = getattr(source, "file_meta", None)
    ts = UID(str(old.get("TransferSyntaxUID", "")) if old is not None else "")
    meta.TransferSyntaxUID = ts if ts.is_transfer_syntax else ExplicitVRLittleEndian
    sop_class = UID(str(new.get("SOPClassUID", "")))
    meta.MediaStorageSOPClassUID = sop_class if sop_class.is_valid else "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = new.SOPInstanceUID
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = _IMPLEMENTATION
    return meta


def _deidentify_file(path: str, out_root: str, kb: bytes, keep_private: bool, burned_in: str):
    """De-identify one file; returns (report entry, output path, bytes) or raises
    DeidentificationError naming the cause."""
    from pydicom.dataset import FileDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

    from deephealth.ecvl.io.dicom import dcmread

    try:
        ds = dcmread(path)
    except Exception as e:
        raise DeidentificationError(
            path, f"not a readable DICOM file ({type(e).__name__})"
        ) from None
    warnings: list[str] = []
    try:
        if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
            if burned_in == "skip":
                raise DeidentificationError(
                    path, "BurnedInAnnotation is YES: pixels may show identity"
                )
            warnings.append("BurnedInAnnotation is YES: pixels may show identity; check them")
        kept: set[str] = set()
        phi = identifying_values(ds, kept)
        new, changes, generated = anonymize_dataset(ds, kb, keep_private)
        # A removed value that is part of a copied or generated one (a model name "SIGNA" in the
        # kept rescale type "SIGNAL INTENSITY") is not what identifies: the scan skips it.
        allowed_text = "\x00".join(kept | generated | {_IMPLEMENTATION, PYDICOM_IMPLEMENTATION_UID})
        phi = {v for v in phi if v not in allowed_text}
        if "SOPInstanceUID" not in new:  # named from the content: the same on every run
            new.SOPInstanceUID = replace_uid(hashlib.sha256(bytes(path, "utf-8")).hexdigest(), kb)
        if "SeriesInstanceUID" not in new:
            new.SeriesInstanceUID = replace_uid("series:" + str(new.SOPInstanceUID), kb)
        out = FileDataset("", new, file_meta=_file_meta(new, ds), preamble=b"\0" * 128)
        buf = io.BytesIO()
        out.save_as(buf, enforce_file_format=True)
        data = buf.getvalue()
    except DeidentificationError:
        raise
    except Exception as e:
        raise DeidentificationError(path, f"cannot be de-identified ({type(e).__name__})") from None
    verify_output(data, path, retained, phi, keep_private)
    # Path parts are values we generated; checked anyway before anything is written.
    parts = [
        str(new.get("PatientID", "") or "ANONYMOUS"),
        str(new.SeriesInstanceUID),
        str(new.SOPInstanceUID),
    ]
    if not all(_SAFE_NAME.match(p) for p in parts):
        raise DeidentificationError(path, "generated output name is not a plain UID")
    target = os.path.join(out_root, parts[0], parts[1], parts[2] + ".dcm")
    if not _inside(out_root, target):
        raise DeidentificationError(path, "output path would leave the output folder")
    entry = {"source": path, "output": target, "patient": parts[0], "changes": changes,
             "warnings": warnings}  # fmt: skip
    return entry, target, data


def retained(tag: int) -> bool:
    """Whether an output may hold ``tag``: an attribute of ``KEPT``, one the basic profile keeps
    with a generated value, or one we add (pseudonym, de-identification method and its code)."""
    from pydicom.datadict import keyword_for_tag

    return profile_keeps(tag) or keyword_for_tag(tag) in KEPT or keyword_for_tag(tag) in _ADDED


def profile_keeps(tag: int) -> bool:
    """Whether the basic profile keeps ``tag`` with a generated value (Z, D or U)."""
    return basic_profile().action(tag) in ("Z", "D", "U")


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
    SOPInstanceUID>.dcm``: only generated values name them, never the source names or values, and
    each path is checked to lie under ``output_dir``. A file already marked as de-identified is
    processed like any other. Each output is built by allow-list (:func:`anonymize_dataset`) and
    re-read before it is written; a file that cannot be made safe (unreadable, burned-in pixels,
    an element that cannot be decoded, an original identifying value still present) is refused
    and listed in ``skipped``. The report is written atomically whatever fails.

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
    kb = _key_bytes(key)
    if burned_in not in ("skip", "keep"):
        raise EcvlError(f"burned_in must be 'skip' or 'keep', not {burned_in!r}")
    if os.path.basename(report_name) != report_name or report_name in ("", ".", ".."):
        raise EcvlError(f"report_name must be a plain file name, not {report_name!r}")
    out_root = os.fspath(output_dir)
    os.makedirs(out_root, exist_ok=True)
    report = DeidReport()
    report.report_path = os.path.join(out_root, report_name)
    try:
        for path in _iter_files(sources):
            try:
                entry, target, data = _deidentify_file(path, out_root, kb, keep_private, burned_in)
            except DeidentificationError as e:
                report.skipped.append({"source": path, "reason": e.cause})
                continue
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if not _inside(out_root, target):  # a link planted in the output folder
                    raise OSError(0, "the output folder holds a link leading elsewhere")
                _write_atomic(target, data)
            except OSError as e:
                raise EcvlError(f"cannot write {target!r}: {e.strerror or e}") from None
            report.files.append(entry)
    finally:
        _write_atomic(
            report.report_path,
            json.dumps(report.to_dict(), indent=1, sort_keys=True).encode("utf-8"),
        )
    return report


__all__ = [
    "DeidReport",
    "anonymize",
    "anonymize_dataset",
    "basic_profile",
    "pseudonym",
    "replace_uid",
]
