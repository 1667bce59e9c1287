"""NIfTI-1/2 reading and writing through nibabel (``.nii``, ``.nii.gz``, ``.hdr``/``.img``).

A 3D file becomes an ``"xyzc"`` Image with C=1 (voxel index i, j, k → x, y, z); a 4D file puts its
fourth axis on c (time points or modalities as channels). The data keeps its stored type unless the
header scales it (then nibabel's scaled floats). Spacings are the header zooms in mm; the affine
(voxel → RAS+ mm, as stored by the file's sform/qform) is kept in ``meta["affine"]`` and written back.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from deephealth.ecvl.errors import ImageReadError, ImageWriteError
from deephealth.ecvl.image import ColorType, Image, as_supported, rearranged

_UNIT_CODE_TO_MM = {1: 1000.0, 2: 1.0, 3: 0.001}  # meter, mm, micron (0: unknown → mm)


def sniff(head: bytes) -> bool:
    """Whether ``head`` is the start of a NIfTI-1/2 header (magic at byte 344 or 4)."""
    return head[344:348] in (b"n+1\x00", b"ni1\x00") or head[4:8] in (b"n+2\x00", b"ni2\x00")


def read(path: str | os.PathLike, flags: Any = None) -> Image:
    """Read a NIfTI file.

    Args:
        path: ``.nii``, ``.nii.gz``, ``.hdr`` or ``.img``.
        flags: Ignored (for ``ImRead``'s signature).

    Returns:
        ``"xyzc"`` Image; meta holds ``affine``, ``affine_space`` ("RAS"), ``qform_code``,
        ``sform_code``, ``descrip`` and ``nifti_header`` (the nibabel header).

    Raises:
        ImageReadError: Missing, truncated or corrupt file, or more than four dimensions.
    """
    import nibabel as nib

    path = os.fspath(path)
    try:
        nimg = nib.load(path)
        arr = np.asanyarray(nimg.dataobj)
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except Exception as e:
        raise ImageReadError(
            path, f"corrupt or truncated NIfTI ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(nimg, (nib.Nifti1Image, nib.Nifti2Image)):
        raise ImageReadError(path, f"not a NIfTI image ({type(nimg).__name__})")
    if isinstance(arr, np.memmap):  # uncompressed files are memory-mapped: keep the map, drop
        arr = arr.view(np.ndarray)  # the subclass (its per-view bookkeeping slows every slice)
    try:
        arr = as_supported(arr)
    except Exception as e:
        raise ImageReadError(path, str(e)) from None
    hdr = nimg.header
    zooms = [float(z) for z in hdr.get_zooms()]
    scale = _UNIT_CODE_TO_MM.get(int(hdr["xyzt_units"]) & 0x07, 1.0)  # NIfTI unit code bits 0-2
    if arr.ndim == 2:
        arr = arr[:, :, None]
        zooms = [*zooms[:2], 1.0]
    if arr.ndim == 3:
        data = arr[..., None]
        spacings = [z * scale for z in zooms[:3]] + [1.0]
    elif arr.ndim == 4:
        data = arr
        spacings = [z * scale for z in zooms[:3]] + [zooms[3] if len(zooms) > 3 else 1.0]
    else:
        raise ImageReadError(path, f"{arr.ndim}-dimensional NIfTI images are not supported")
    img = Image.fromarray(
        data, "xyzc", ColorType.GRAY if data.shape[3] == 1 else ColorType.none, spacings
    )
    img.meta = {
        "affine": np.asarray(nimg.affine, dtype=np.float64),
        "affine_space": "RAS",
        "qform_code": int(hdr["qform_code"]),
        "sform_code": int(hdr["sform_code"]),
        "descrip": hdr["descrip"].tobytes().rstrip(b"\0").decode("latin-1"),
        "nifti_header": hdr,
    }
    return img


def write(path: str, img: Image) -> bool:
    """Write ``img`` as NIfTI-1 (``.nii`` / ``.nii.gz`` by the extension).

    A 2D image is written as one slice; C=1 gives a 3D file, C>1 a 4D file. The affine comes from
    ``meta["affine"]`` when it is RAS, with its axis lengths set to the image spacings; otherwise a
    diagonal affine of the spacings.

    Raises:
        ImageWriteError: Unsupported layout or type, or nibabel cannot write the file.
    """
    import nibabel as nib

    ch = img.channels
    if "c" not in ch:
        img = Image.fromarray(img.data[..., None], ch + "c", img.colortype, [*img.spacings, 1.0])
        ch = img.channels
    if "z" not in ch:
        img = Image.fromarray(img.data[..., None], ch + "z", img.colortype, [*img.spacings, 1.0])
        img.meta = {}
        ch = img.channels
    if set(ch) != set("xyzc"):
        raise ImageWriteError(path, f"NIfTI holds x, y, z[, c] layouts, not {img.channels!r}")
    src = rearranged(img, "xyzc", copy=False)
    data = src.data[..., 0] if src.data.shape[3] == 1 else src.data
    sx, sy, sz, sc = src.spacings
    meta = img.meta
    aff = meta.get("affine")
    if aff is not None and meta.get("affine_space") == "RAS":
        aff = np.array(aff, dtype=np.float64)
        for i, s in enumerate((sx, sy, sz)):
            n = np.linalg.norm(aff[:3, i])
            if n > 0:
                aff[:3, i] *= s / n
    else:
        aff = np.diag([sx, sy, sz, 1.0])
    hdr = meta.get("nifti_header")
    hdr = (
        hdr.copy()
        if isinstance(hdr, nib.Nifti1Header) and not isinstance(hdr, nib.Nifti2Header)
        else None
    )
    try:
        out = nib.Nifti1Image(data, aff, header=hdr)
        out.header.set_data_dtype(data.dtype)
        out.header.set_slope_inter(1.0, 0.0)
        zooms = (sx, sy, sz) if data.ndim == 3 else (sx, sy, sz, sc)
        out.header.set_zooms(zooms)
        out.header.set_xyzt_units("mm", "sec" if data.ndim == 4 else None)
        out.set_qform(aff, int(meta.get("qform_code", 1)) or 1)
        out.set_sform(aff, int(meta.get("sform_code", 1)) or 1)
        nib.save(out, path)
    except Exception as e:
        raise ImageWriteError(path, f"{type(e).__name__}: {e}") from None
    return True
