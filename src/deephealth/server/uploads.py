"""Hostile-input handling for uploads: size limits, content sniffing and safe zip extraction.

* `BodyLimitMiddleware` refuses request bodies above their route's size (413) while they stream
  in, whether or not a Content-Length header is sent (uploads, images and small JSON forms each
  have their own limit).
* `sniff` names a file's type from its bytes (never from its name): PNG, JPEG, DICOM, NIfTI
  (plain or gzip), zip, YAML text. ONNX files are checked by importing them (see api/models).
* `safe_extract_zip` extracts members one by one, refusing absolute paths, `..` components,
  symlinks and other special files, too many members, too much uncompressed data (counted while
  writing, not taken from the headers), text members above their own cap, members whose names
  clash (`a.png` and `a.png/b.png`) and compression ratios typical of zip bombs.
* `check_text` checks that a text file is UTF-8 while streaming it (never read whole).
"""

from __future__ import annotations

import codecs
import gzip
import re
import stat
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from fastapi import HTTPException, UploadFile

CHUNK = 1024 * 1024
IMAGE_TYPES = ("png", "jpeg", "dicom", "nifti")


class UploadRejected(HTTPException):
    """An upload that is refused; the message says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(status, message)


class BodyLimitMiddleware:
    """ASGI middleware: answer 413 as soon as a request body exceeds its route's limit.

    `rules` are (compiled path pattern, limit) pairs tried in order (the upload endpoints);
    every other request gets `limit`. A declared Content-Length above the limit is refused
    before any byte is read; a body without one is counted while it streams.
    """

    def __init__(self, app, limit: int, rules: Iterable[tuple[re.Pattern, int]] = ()) -> None:
        self.app, self.limit, self.rules = app, limit, list(rules)

    def limit_for(self, path: str) -> int:
        """The body limit of a request path."""
        return next((lim for pattern, lim in self.rules if pattern.match(path)), self.limit)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_413(send, limit)
                return
        seen = 0
        too_big = False

        async def limited_receive():
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    too_big = True
                    raise UploadRejected(f"request body larger than {limit} bytes", 413)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except UploadRejected:
            if too_big:
                await _send_413(send, limit)
            else:
                raise


async def _send_413(send, limit: int) -> None:
    body = f'{{"detail":"request body larger than {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def save_upload(upload: UploadFile, dest: Path, limit: int) -> int:
    """Copy an uploaded file to `dest`, refusing it (413) beyond `limit` bytes; returns its size."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with dest.open("wb") as out:
        while chunk := upload.file.read(CHUNK):
            size += len(chunk)
            if size > limit:
                out.close()
                dest.unlink(missing_ok=True)
                raise UploadRejected(f"{upload.filename}: larger than {limit} bytes", 413)
            out.write(chunk)
    return size


def check_text(path: Path, what: str) -> None:
    """Refuse (415) a text file that is not UTF-8, decoding it chunk by chunk."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as f:
            while chunk := f.read(CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise UploadRejected(f"{what}: text file is not UTF-8", 415) from None


def sniff(head: bytes) -> str | None:
    """The type of a file from its first bytes (at least 512 of them), or None.

    Returns one of "png", "jpeg", "dicom", "nifti", "zip", "gzip". Only these image types are
    accepted (an allowlist: no TIFF, no NumPy files); DICOM and NIfTI are recognised by ECVL's
    own readers' sniffers.
    """
    from deephealth.ecvl.io import dicom, nifti

    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if dicom.sniff(head):
        return "dicom"
    if nifti.sniff(head):
        return "nifti"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    return None


def sniff_file(path: Path) -> str | None:
    """`sniff` applied to a file; gzip files are looked into (so .nii.gz reads as "nifti")."""
    with path.open("rb") as f:
        head = f.read(1024)
    kind = sniff(head)
    if kind == "gzip":
        try:
            with gzip.open(path, "rb") as g:
                inner = sniff(g.read(1024))
        except (OSError, EOFError):
            return None
        return inner if inner == "nifti" else None
    return kind


def require_image(path: Path, what: str) -> str:
    """The image type of `path` (PNG, JPEG, DICOM, NIfTI), else a 415 naming `what`."""
    kind = sniff_file(path)
    if kind not in IMAGE_TYPES:
        raise UploadRejected(
            f"{what}: content is not a PNG, JPEG, DICOM or NIfTI image", status=415
        )
    return kind  # type: ignore[return-value]


def _safe_member_path(name: str) -> PurePosixPath:
    if "\\" in name or "\x00" in name:
        raise UploadRejected(f"zip member {name!r}: backslashes or NUL in the name")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        raise UploadRejected(f"zip member {name!r}: absolute path")
    if any(part == ".." for part in path.parts):
        raise UploadRejected(f"zip member {name!r}: '..' in the path (path traversal)")
    return path


def safe_extract_zip(
    zip_path: Path,
    dest: Path,
    max_entries: int,
    max_total_bytes: int,
    max_ratio: float,
    allowed_suffixes: Iterable[str] | None = None,
    text_suffixes: Iterable[str] = (),
    max_text_bytes: int | None = None,
) -> list[Path]:
    """Extract a zip safely into `dest` (which must not exist yet); returns the files written.

    Members whose name ends with one of `text_suffixes` may not expand beyond `max_text_bytes`
    (counted while writing).

    Raises:
        UploadRejected: on a corrupt zip, traversal, links or special files, too many members,
            too much data, a too large text member, a suspicious compression ratio, clashing
            member names or a disallowed file suffix. Nothing is left in `dest` in that case.
    """
    import shutil

    suffixes = {s.lower() for s in allowed_suffixes} if allowed_suffixes else None
    texts = tuple(s.lower() for s in text_suffixes)
    dest.mkdir(parents=True)
    written: list[Path] = []
    try:
        try:
            zf = zipfile.ZipFile(zip_path)
        except zipfile.BadZipFile as err:
            raise UploadRejected(f"not a valid zip file ({err})") from None
        except OSError:
            raise UploadRejected("not a valid zip file (unreadable)") from None
        with zf:
            infos = zf.infolist()
            if len(infos) > max_entries:
                raise UploadRejected(f"zip has {len(infos)} members; the limit is {max_entries}")
            total = 0
            for info in infos:
                rel = _safe_member_path(info.filename)
                mode = info.external_attr >> 16
                if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise UploadRejected(f"zip member {info.filename!r}: links are not allowed")
                if info.is_dir():
                    continue
                if info.flag_bits & 0x1:
                    raise UploadRejected(f"zip member {info.filename!r}: encrypted")
                name = rel.name.lower()
                if suffixes is not None and not any(name.endswith(s) for s in suffixes):
                    raise UploadRejected(
                        f"zip member {info.filename!r}: file type not allowed "
                        f"(allowed: {', '.join(sorted(suffixes))})"
                    )
                target = dest.joinpath(*rel.parts)
                if dest.resolve() not in target.resolve().parents:
                    raise UploadRejected(f"zip member {info.filename!r}: escapes the folder")
                cap = max_text_bytes if max_text_bytes and name.endswith(texts) else None
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    out = target.open("xb")
                except OSError:
                    raise UploadRejected(
                        f"zip member {info.filename!r}: clashes with another member "
                        "(the same name twice, or a file that is also a folder)"
                    ) from None
                try:
                    size = 0
                    with zf.open(info) as src, out:
                        while chunk := src.read(CHUNK):
                            size += len(chunk)
                            total += len(chunk)
                            if cap is not None and size > cap:
                                raise UploadRejected(
                                    f"zip member {info.filename!r}: text file larger than {cap} bytes",
                                    413,
                                )
                            if total > max_total_bytes:
                                raise UploadRejected(
                                    f"zip expands beyond {max_total_bytes} bytes (zip bomb?)", 413
                                )
                            if size > 1024 * 1024 and size > max_ratio * max(info.compress_size, 1):
                                raise UploadRejected(
                                    f"zip member {info.filename!r}: compression ratio above "
                                    f"{max_ratio:g} (zip bomb?)",
                                    413,
                                )
                            out.write(chunk)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
                    raise UploadRejected(
                        f"zip member {info.filename!r}: corrupt or unsupported ({err})"
                    ) from None
                written.append(target)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return written
