"""What a de-identified DICOM file may contain, and the check of every written file against it.

:data:`KEPT` is the allow-list of attributes whose values :func:`~.anonymize.anonymize` copies:
the image pixel, plane, modality LUT / VOI LUT and acquisition-technique attributes a reader or a
model needs, none of which identifies a patient. Everything else is removed unless the PS3.15
basic profile gives it a generated value (empty, dummy, replaced UID, pseudonym). After writing,
:func:`verify_output` re-reads the bytes in a fresh parse and refuses the file when it holds an
element outside that set, file-meta extras, or any original identifying value anywhere in its
bytes (:func:`identifying_values` collects them from the source before de-identification).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydicom.uid import UID_dictionary

from deephealth.ecvl.errors import EcvlError

# Attributes copied unchanged (also inside sequences). Nothing here names or dates a patient.
KEPT = frozenset(
    """
    SpecificCharacterSet SOPClassUID Modality ImageType Rows Columns SamplesPerPixel
    PhotometricInterpretation BitsAllocated BitsStored HighBit PixelRepresentation
    PlanarConfiguration NumberOfFrames FrameIncrementPointer FrameTime PixelData FloatPixelData
    DoubleFloatPixelData PixelSpacing ImagerPixelSpacing PixelAspectRatio SliceThickness
    SpacingBetweenSlices ImagePositionPatient ImageOrientationPatient SliceLocation
    InstanceNumber SeriesNumber AcquisitionNumber PatientPosition WindowCenter WindowWidth
    WindowCenterWidthExplanation VOILUTFunction RescaleIntercept RescaleSlope RescaleType
    PresentationLUTShape LossyImageCompression LossyImageCompressionRatio
    LossyImageCompressionMethod BurnedInAnnotation RecognizableVisualFeatures
    SmallestImagePixelValue LargestImagePixelValue PixelPaddingValue KVP XRayTubeCurrent
    ExposureTime Exposure ConvolutionKernel GantryDetectorTilt MagneticFieldStrength
    RepetitionTime EchoTime InversionTime FlipAngle EchoTrainLength EchoNumbers
    ScanningSequence SequenceVariant ScanOptions MRAcquisitionType ImagingFrequency
    ImagedNucleus NumberOfAverages PhotometricInterpretation RedPaletteColorLookupTableDescriptor
    GreenPaletteColorLookupTableDescriptor BluePaletteColorLookupTableDescriptor
    RedPaletteColorLookupTableData GreenPaletteColorLookupTableData
    BluePaletteColorLookupTableData SequenceOfUltrasoundRegions RegionSpatialFormat
    RegionDataType RegionFlags RegionLocationMinX0 RegionLocationMinY0 RegionLocationMaxX1
    RegionLocationMaxY1 PhysicalUnitsXDirection PhysicalUnitsYDirection PhysicalDeltaX
    PhysicalDeltaY SharedFunctionalGroupsSequence PerFrameFunctionalGroupsSequence
    PixelMeasuresSequence PlanePositionSequence PlaneOrientationSequence
    PixelValueTransformationSequence FrameVOILUTSequence ReferencedSOPClassUID
    """.split()
)
# File meta elements we write ourselves (nothing else of the source's meta is copied).
META = frozenset(
    {0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012, 0x00020013}
)
# Text VRs whose values can identify; shorter strings are too common to scan for without
# refusing innocent files (a sex "M", a count "12"), and they identify nobody alone.
_TEXT_VRS = frozenset(
    {"PN", "LO", "SH", "CS", "DA", "TM", "DT", "UI", "ST", "LT", "UT", "UC", "UR", "AE", "AS"}
)
MIN_SCAN_LENGTH = 5
_PRINTABLE_RUN = re.compile(rb"[\x20-\x7e]{8,}")


class DeidentificationError(EcvlError):
    """A file cannot be made safe; it is refused and listed in the report.

    Attributes:
        path: The source file.
        cause: Why (never an identifying value).
    """

    def __init__(self, path: str, cause: str) -> None:
        self.path, self.cause = path, cause
        super().__init__(f"{path}: refused: {cause}")


def _vm_allows(vm: str, n: int) -> bool:
    """Whether `n` values fit a dictionary value multiplicity ("1", "1-3", "2-n", "3-3n", ...)."""
    if not vm or n == 0:
        return True
    lo_text, _, hi_text = vm.partition("-")
    try:
        lo = int(lo_text)
    except ValueError:
        return True
    if not hi_text:
        return n == lo
    if hi_text == "n":
        return n >= lo
    if hi_text.endswith("n"):  # "3-3n": a multiple of 3
        step = int(hi_text[:-1] or 1)
        return n >= lo and n % step == 0
    return lo <= n <= int(hi_text)


def vr_matches(elem: Any) -> bool:
    """Whether the element's tag is in the data dictionary with this VR and, for a value of
    numbers or text, a number of values the dictionary allows (else unknown/malformed: a damaged
    length can make an element swallow the bytes of the elements after it)."""
    from pydicom.datadict import dictionary_has_tag, dictionary_VM, dictionary_VR, get_entry

    tag = int(elem.tag)
    try:
        vr = dictionary_VR(tag) if dictionary_has_tag(tag) else get_entry(tag)[0]
    except KeyError:
        return False
    if elem.VR not in vr.split(" or "):
        return False
    if elem.VR in ("SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN", "UT", "UR", "LT", "ST"):
        return True
    try:
        return _vm_allows(dictionary_VM(tag), int(elem.VM)) and _text_fits(elem)
    except (KeyError, ValueError, TypeError):
        return False


# PS3.5 6.2: the longest value of each short text VR (PN: three 64-character component groups).
_MAX_CHARS = {"AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64,
              "PN": 194, "SH": 16, "TM": 16, "UI": 64}  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x1a\x1c-\x1f\x7f]")  # ESC (0x1b) starts ISO 2022 escapes
_UID = re.compile(r"[0-9.]*")


def _text_fits(elem: Any) -> bool:
    """Whether each value of a short text element fits its VR: no longer than PS3.5 allows, no
    control characters, a UID only digits and dots (a damaged length lets a kept element such as
    SOPClassUID or ConvolutionKernel carry the bytes of the elements after it, names included)."""
    limit = _MAX_CHARS.get(elem.VR)
    if limit is None or elem.value is None:
        return True
    values = elem.value if isinstance(elem.value, (list, tuple)) or elem.VM > 1 else [elem.value]
    for v in values:
        text = str(v).rstrip("\x00 ")
        if len(text) > limit or _CONTROL.search(text):
            return False
        if elem.VR == "UI" and not _UID.fullmatch(text):
            return False
    return True


def _strings(value: Any) -> list[str]:
    """The text pieces of an element value (multi-values, PN components) worth scanning for."""
    items = (
        value
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue"
        else [value]
    )
    out: list[str] = []
    for item in items:
        s = str(item).strip().strip("\x00").strip()
        out.append(s)
        out += [p.strip() for p in re.split(r"[\^=]", s)]
    return [s for s in out if len(s) >= MIN_SCAN_LENGTH and s not in UID_dictionary]


def identifying_values(ds: Any, kept: set[str]) -> set[str]:
    """Every string of ``ds`` (file meta and sequences included) that the output must not hold.

    Values of the attributes that :data:`KEPT` copies are excluded (``kept`` collects them), as
    are pixel and other binary data; printable runs of malformed or binary elements outside the
    kept ones (such as a file-meta element that swallowed the header) are included.
    """
    found: set[str] = set()

    def walk(d: Any) -> None:
        for elem in d:
            try:
                vr = elem.VR
                value = elem.value
            except Exception:
                continue
            if elem.keyword in KEPT:
                if vr == "SQ":
                    for item in value:
                        walk(item)
                elif vr in _TEXT_VRS:
                    kept.update(_strings(value))
                continue
            if vr == "SQ":
                for item in value or []:
                    walk(item)
            elif vr in _TEXT_VRS:
                found.update(_strings(value))
            elif isinstance(value, (bytes, bytearray)) and elem.keyword != "PixelData":
                for run in _PRINTABLE_RUN.findall(bytes(value)[:1_000_000]):
                    found.update(_strings(run.decode("ascii")))

    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        walk(meta)
    walk(ds)
    return found


def verify_output(
    data: bytes, source: str, allowed: Callable[[int], bool], phi: set[str], keep_private: bool
) -> None:
    """Re-read written bytes and refuse anything outside the retained set or holding ``phi``.

    Args:
        data: The bytes written (or about to be renamed into place).
        source: The source file, for the message.
        allowed: Whether the output may hold a tag (outside the file meta).
        phi: Original identifying strings (:func:`identifying_values`).
        keep_private: Whether private elements are allowed.

    Raises:
        DeidentificationError: naming the element or the kind of value found (never the value).
    """
    import io

    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data))
        extra = [int(e.tag) for e in ds.file_meta if int(e.tag) not in META]

        def walk(d: Any, path: str) -> None:
            for elem in d:
                tag = int(elem.tag)
                if elem.tag.is_private and keep_private:
                    continue
                if not allowed(tag) or not vr_matches(elem):
                    raise DeidentificationError(
                        source, f"output holds element {path}({tag >> 16:04X},{tag & 0xFFFF:04X})"
                        " outside the retained set"
                    )  # fmt: skip
                if elem.VR == "SQ":
                    for i, item in enumerate(elem.value):
                        walk(item, f"{path}({tag >> 16:04X},{tag & 0xFFFF:04X})[{i}]")

        walk(ds, "")
    except DeidentificationError:
        raise
    except Exception as e:
        raise DeidentificationError(
            source, f"output does not read back ({type(e).__name__})"
        ) from None
    if extra:
        raise DeidentificationError(source, f"output file meta holds {len(extra)} extra element(s)")
    for value in phi:
        for enc in ("utf-8", "latin-1", "utf-16-le"):
            try:
                needle = value.encode(enc)
            except UnicodeEncodeError:
                continue
            if needle in data:
                raise DeidentificationError(
                    source, f"an original identifying value ({len(value)} characters) is still in "
                    "the output bytes"
                )  # fmt: skip
