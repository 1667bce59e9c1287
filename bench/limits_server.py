"""Peak memory of a real `deephealth serve` under hostile requests (issue #13, server rows).

`server_cases()` starts `deephealth serve` (uvicorn, no job workers, default limits) on a
temporary data folder, signs up, creates a project with a tiny classifier, then sends each hostile
request and measures how much the server process's peak resident memory rose above its resident
memory just before the request (Linux: the peak, VmHWM, is reset through /proc/PID/clear_refs
before every case). Goal: no request of 10 MB or less raises it by more than 256 MB, and larger
bodies are refused early (413).

`bench/bench_limits.py` calls `server_cases()`; run alone, this module prints a Markdown table.
"""

from __future__ import annotations

import gzip
import io
import os
import signal
import struct
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
MB = 1024 * 1024
GOAL_MB = 256


def _status(pid: int, key: str) -> int:
    """A /proc/PID/status memory figure in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _png_bomb(side: int = 40000) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (side + 1) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _nifti_bomb() -> bytes:
    """A gzip NIfTI declaring 512 x 512 x 4096 int16 voxels (2 GiB) whose data are zeros."""
    import nibabel as nib

    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4))
    header = bytearray(img.header.binaryblock)
    struct.pack_into("<8h", header, 40, 3, 512, 512, 4096, 1, 1, 1, 1)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as g:
        g.write(bytes(header) + b"\0" * 4)
        zeros = b"\0" * (64 * MB)
        for _ in range(32):
            g.write(zeros)
    return out.getvalue()


def _nifti_scaled(side: int) -> bytes:
    """A real gzip NIfTI of side^3 int16 zeros whose header scales the values (slope 2), so
    nibabel decodes it to float64 (8 bytes per voxel)."""
    import nibabel as nib

    img = nib.Nifti1Image(np.zeros((side, side, side), np.int16), np.eye(4))
    img.header.set_slope_inter(2.0, 0.0)
    path = Path(tempfile.mkdtemp()) / "limit.nii.gz"
    nib.save(img, str(path))
    return path.read_bytes()


def _text_zip(total: int) -> bytes:
    """A zip with one text member of `total` bytes compressing about 120:1 (under the zip-bomb
    ratio of 200), written in chunks."""
    rng = np.random.default_rng(0)
    block = np.full(8 * MB, ord(" "), np.uint8)
    hits = rng.integers(0, block.size, block.size // 400)
    block[hits] = rng.integers(ord("a"), ord("z") + 1, hits.size)
    data = block.tobytes()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("notes.txt", "w", force_zip64=True) as member:
            for _ in range(total // len(data)):
                member.write(data)
    return out.getvalue()


def _clash_zip(png: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a.png", png)
        zf.writestr("a.png/inner.png", png)
    return out.getvalue()


def _chunks(total: int, size: int = MB) -> Iterator[bytes]:
    block = b"\0" * size
    for _ in range(total // size):
        yield block


def server_cases(quick: bool = False) -> list[dict]:
    """Run every hostile request against a fresh server; one dict per case.

    Args:
        quick: Smaller versions of the largest inputs (the 1 GiB text member becomes 256 MiB).

    Returns:
        Rows with `case`, `request_mb`, `status`, `rss_rise_mb`, `seconds`, `goal_ok`.
    """
    sys.path.insert(0, str(HERE))
    from bench_server import free_port, make_model, start_server
    from pydicom.data import get_testdata_file

    tmp = Path(tempfile.mkdtemp(prefix="bench-limits-server-"))
    model = make_model(tmp / "lenet.onnx", 32)
    import cv2

    png = cv2.imencode(".png", np.full((32, 32), 128, np.uint8))[1].tobytes()
    dicom = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    at = dicom.find(b"\x10\x00\x10\x00PN")
    unknown_vr = dicom[: at + 4] + b"ZZ" + dicom[at + 6 :]
    text_zip = _text_zip((256 if quick else 1024) * MB)
    png_bomb, nifti_bomb = _png_bomb(), _nifti_bomb()
    nifti_limit, nifti_over = _nifti_scaled(235), _nifti_scaled(320)
    port = free_port()
    proc = start_server(tmp / "data", port)
    rows: list[dict] = []
    try:
        base = f"http://127.0.0.1:{port}"
        c = httpx.Client(base_url=base, timeout=300)
        r = c.post(
            "/api/auth/signup",
            json={"email": "limits@example.org", "password": "correct horse battery"},
        )
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        pid = c.post("/api/projects", json={"name": "limits", "task": "classification"}).json()
        pid = pid["id"]
        w = c.post(
            f"/api/projects/{pid}/weights",
            files={"file": ("lenet.onnx", model.read_bytes(), "application/octet-stream")},
        ).json()
        predict = f"/api/v1/predict/{w['id']}"
        datasets = f"/api/projects/{pid}/datasets"

        def zip_upload(data: bytes) -> Callable[[], httpx.Response]:
            return lambda: c.post(datasets, files={"file": ("d.zip", data, "application/zip")})

        def raw(url: str, data: bytes | Iterator[bytes], ctype: str) -> Callable:
            return lambda: c.post(url, content=data, headers={"Content-Type": ctype})

        cases: list[tuple[str, float, Callable[[], httpx.Response]]] = [
            ("predict: 400 MB raw body, Content-Length", 400, raw(predict, b"\0" * 400 * MB, "image/png")),
            ("predict: 400 MB raw body, chunked (no length)", 400, raw(predict, _chunks(400 * MB), "image/png")),
            ("predict: 10 MB of garbage", 10, raw(predict, os.urandom(10 * MB), "image/png")),
            ("predict: PNG declaring 40000x40000", len(png_bomb) / MB, raw(predict, png_bomb, "image/png")),
            ("predict: NIfTI.gz declaring 512x512x4096 (2 GiB)", len(nifti_bomb) / MB, raw(predict, nifti_bomb, "application/gzip")),
            ("predict: NIfTI.gz 235^3 int16, scaled (99 MiB as float64: under the limit, accepted)", len(nifti_limit) / MB, raw(predict, nifti_limit, "application/gzip")),
            ("predict: NIfTI.gz 320^3 int16, scaled (250 MiB as float64: over the limit)", len(nifti_over) / MB, raw(predict, nifti_over, "application/gzip")),
            ("predict: DICOM with an unknown VR", len(unknown_vr) / MB, raw(predict, unknown_vr, "application/dicom")),
            ("predict: truncated PNG", len(png) / 2 / MB, raw(predict, png[: len(png) // 2], "image/png")),
            (f"dataset zip: {'256 MiB' if quick else '1 GiB'} text member (ratio ~120, under 200)", len(text_zip) / MB, zip_upload(text_zip)),
            ("dataset zip: a.png and a.png/inner.png", 0.01, zip_upload(_clash_zip(png))),
            ("JSON: 10 MB project name", 10, lambda: c.post("/api/projects", json={"name": "x" * 10 * MB, "task": "classification"})),
            ("JSON: 200,000 nested arrays", 0.4, raw("/api/projects", b"[" * 200_000 + b"]" * 200_000, "application/json")),
            ("job file with NUL: /api/jobs/1/files/%00", 0, lambda: c.get("/api/jobs/1/files/%00")),
        ]  # fmt: skip
        for name, size_mb, send in cases:
            Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
            before = _status(proc.pid, "VmRSS")
            t0 = time.perf_counter()
            try:
                status: int | str = send().status_code
            except httpx.HTTPError as err:  # the server may close the connection after its 413
                status = f"closed ({type(err).__name__})"
            seconds = time.perf_counter() - t0
            time.sleep(0.2)
            rise = (_status(proc.pid, "VmHWM") - before) / MB
            rows.append(
                {
                    "case": name,
                    "request_mb": round(size_mb, 2),
                    "status": status,
                    "rss_rise_mb": round(rise, 1),
                    "seconds": round(seconds, 2),
                    "goal_ok": rise <= GOAL_MB,
                }
            )
        c.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| hostile request | request MB | status | server peak RSS rise MB | s | ≤ 256 MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = "yes" if r["goal_ok"] else "**no**"
        lines.append(
            f"| {r['case']} | {r['request_mb']} | {r['status']} | {r['rss_rise_mb']} | "
            f"{r['seconds']} | {ok} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(server_cases(quick="--quick" in sys.argv)))
