#!/usr/bin/env python
"""Mutation fuzzing of the readers: ImRead (PNG/JPEG/TIFF/DICOM/NIfTI), DICOM series, dataset YAML,
ONNX import and anonymize, on real files (pydicom, skimage, nibabel test data).

Each mutated file (seeded byte flips, overwrites, truncations, insertions, duplications) is read in
a forked child with an address-space limit (``--mem-mb`` above the parent's size) and CPU and wall
time limits. A run is classified as ``ok``, ``documented`` (one of the reader's documented error
types, see ``DOCUMENTED``), ``undocumented`` (any other exception), ``crash`` (killed by a signal),
``hang`` (time limit) or ``leak`` (anonymize wrote an output holding an original identifying value
of the unmutated file). Failing inputs are copied into ``--out`` for reproduction.

    python scripts/fuzz_readers.py --budget 1000            # 1,000 mutations per reader
    python scripts/fuzz_readers.py --budget 50 --readers onnx,yaml --seed 3

Exit status 1 when any run is neither ok nor documented.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

OUTCOMES = ("ok", "documented", "undocumented", "crash", "hang", "leak")
YAML_SEED = """name: fuzz
description: a seed dataset for the fuzzer
classes: &c [benign, malignant]
features: [age, patient]
images:
  - location: images/a.png
    label: benign
    values: {age: 41, patient: p1}
  - location: [images/b.png, images/b2.png]
    label: 1
    values: [52, p2]
  - location: images/c.png
    label: images/c_gt.png
split:
  training: [0, 1]
  validation: [2]
  test: []
"""


def _seed_files(work: Path) -> dict[str, Path]:
    """Small real files, one per reader (plus the companions a series needs)."""
    import nibabel
    import skimage
    from pydicom.data import get_testdata_file

    sk = Path(skimage.__file__).parent / "data"
    nib = Path(nibabel.__file__).parent / "tests" / "data"
    seeds = {
        "png": sk / "chessboard_RGB.png",
        "jpeg": sk / "rocket.jpg",
        "tiff": sk / "multipage.tif",
        "dicom": Path(get_testdata_file("MR_small.dcm")),
        "nifti": nib / "resampled_anat_moved.nii",
        "series": Path(get_testdata_file("MR_small.dcm")),  # replaced by slice_1 below
        "anonymize": Path(get_testdata_file("CT_small.dcm")),
    }
    out = {}
    for name, path in seeds.items():
        out[name] = work / f"seed_{name}{''.join(path.suffixes)}"
        shutil.copy(path, out[name])
    (work / "seed_yaml.yml").write_text(YAML_SEED)
    out["yaml"] = work / "seed_yaml.yml"
    out["onnx"] = work / "seed.onnx"
    out["onnx"].write_bytes(_onnx_seed())
    # A series of three slices; the fuzzer mutates the middle one.
    import pydicom

    ds = pydicom.dcmread(seeds["series"])
    for i in range(3):
        ds.ImagePositionPatient = [0.0, 0.0, float(i)]
        ds.InstanceNumber = i + 1
        ds.SOPInstanceUID = f"1.2.3.{i + 1}"
        ds.save_as(work / f"slice_{i}.dcm")
    out["series"] = work / "slice_1.dcm"
    return out


def _onnx_seed() -> bytes:
    """A foreign-style graph: shape computations folded at import, Conv, Relu, Reshape, Gemm."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(2, 1, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(2, np.float32), "b")
    g = numpy_helper.from_array(rng.normal(size=(3, 32)).astype(np.float32), "g")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Shape", ["r"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="batch", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["r", "target"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "g"], ["y"], name="dense", transB=1),
    ]
    consts = [
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([0], np.int64), "axes"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
    ]
    graph = helper.make_graph(
        nodes, "seed", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [w, b, g, *consts],
    )  # fmt: skip
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three seeded mutations: bit flips, byte overwrites (often extreme values),
    truncation, insertion of random or repeated bytes, chunk duplication."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        n = len(buf)
        if n == 0:
            buf += bytes(rng.randrange(256) for _ in range(8))
            continue
        i = rng.randrange(n)
        if kind < 0.35:
            for _ in range(rng.randint(1, 8)):
                j = rng.randrange(n)
                buf[j] ^= 1 << rng.randrange(8)
        elif kind < 0.55:
            val = rng.choice([b"\xff", b"\x00", b"\x7f", b"\x80", b"\xff\xff\xff\x7f", b"\xff\xff"])
            buf[i : i + len(val)] = val
        elif kind < 0.7:
            del buf[rng.randrange(max(1, n // 8), n) if rng.random() < 0.5 and n > 1 else i :]
        elif kind < 0.85:
            chunk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
            buf[i:i] = chunk
        else:
            j = min(n, i + rng.randint(1, 256))
            buf[i:i] = buf[i:j] * rng.randint(1, 4)
    return bytes(buf)


# --------------------------------------------------------------------------- readers


def _documented() -> dict[str, tuple[type[BaseException], ...]]:
    """The exception types each reader documents (its docstring's Raises)."""
    from deephealth.ecvl.dataset.errors import DatasetError
    from deephealth.ecvl.errors import EcvlError
    from deephealth.eddl.onnx.errors import OnnxError

    image = (EcvlError,)
    return {
        "png": image, "jpeg": image, "tiff": image, "dicom": image, "nifti": image,
        "series": image, "yaml": (DatasetError,), "onnx": (OnnxError,), "anonymize": (EcvlError,),
    }  # fmt: skip


DOCUMENTED_TEXT = {
    "png/jpeg/tiff/dicom/nifti/series (ecvl.ImRead)": "EcvlError (ImageReadError, "
    "UnsupportedFormatError, SeriesError)",
    "yaml (ecvl.Dataset)": "DatasetError (DatasetSyntaxError, DatasetLimitError, "
    "DatasetFormatError)",
    "onnx (eddl.import_net_from_onnx_file)": "OnnxError (OnnxImportError, TensorLimitError, "
    "UnsupportedOpsError), a ValueError",
    "anonymize (ecvl.anonymize)": "EcvlError for a key or write problem; a bad file is refused "
    "and listed, never raised",
}


def _identifying(path: Path) -> set[str]:
    """Original identifying values of the unmutated anonymize seed."""
    import pydicom

    from deephealth.ecvl.anonymize_checks import identifying_values

    kept: set[str] = set()
    phi = identifying_values(pydicom.dcmread(path), kept)
    blob = "\x00".join(kept)
    return {v for v in phi if v not in blob and not v.startswith("1.2.840.10008.")}


def _reader(name: str, seeds: dict[str, Path], work: Path) -> Callable[[Path], str | None]:
    """A function reading one mutated file; returns a leak description or None."""
    import deephealth.ecvl as ecvl

    if name in ("png", "jpeg", "tiff", "dicom", "nifti"):
        return lambda p: (ecvl.ImRead(str(p)), None)[1]
    if name == "series":
        slices = [work / "slice_0.dcm", None, work / "slice_2.dcm"]
        return lambda p: (ecvl.ImRead([str(slices[0]), str(p), str(slices[2])]), None)[1]
    if name == "yaml":
        return lambda p: (ecvl.Dataset(str(p)), None)[1]
    if name == "onnx":
        from deephealth.eddl import import_net_from_onnx_file

        return lambda p: (import_net_from_onnx_file(str(p)), None)[1]
    if name == "anonymize":
        phi = sorted(_identifying(seeds["anonymize"]))

        def run(p: Path) -> str | None:
            out = Path(tempfile.mkdtemp(dir=work))
            ecvl.anonymize(str(p), str(out), key="fuzz")
            if not (out / "deid_report.json").is_file():
                return "no report written"
            for f in out.rglob("*.dcm"):
                data = f.read_bytes()
                for v in phi:
                    if v.encode("utf-8", "replace") in data:
                        return f"output holds an original identifying value ({len(v)} chars)"
            return None

        return run
    raise ValueError(f"unknown reader {name!r}")


def _vm_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _run_child(
    read: Callable[[Path], str | None], path: Path, documented: tuple, mem_mb: int, seconds: int
) -> tuple[str, str]:
    """Run ``read(path)`` in a forked child under limits; (outcome, detail)."""
    r, w = os.pipe()
    vm = _vm_bytes()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        code = 0
        try:
            resource.setrlimit(resource.RLIMIT_AS, (vm + mem_mb * 2**20, vm + mem_mb * 2**20))
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
            signal.alarm(seconds * 2)
            try:
                leak = read(path)
                msg = f"leak\t{leak}" if leak else "ok\t"
            except documented as e:
                msg = f"documented\t{type(e).__name__}"
            except BaseException as e:
                tb = traceback.extract_tb(e.__traceback__)[-1]
                msg = f"undocumented\t{type(e).__module__}.{type(e).__name__} at {tb.filename}:{tb.lineno}: {str(e)[:200]}"
            os.write(w, msg.encode("utf-8", "replace")[:4000])
        except BaseException:
            code = 3
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 4096)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode("utf-8", "replace")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in (signal.SIGALRM, signal.SIGXCPU, signal.SIGKILL):
            return "hang", f"killed by {signal.Signals(sig).name}"
        return "crash", f"killed by {signal.Signals(sig).name}"
    if not text:
        return "crash", f"exit status {os.WEXITSTATUS(status)} without a result"
    outcome, _, detail = text.partition("\t")
    return outcome, detail


def run(
    budget: int, readers: list[str], seed: int = 0, out: Path | None = None,
    mem_mb: int = 512, seconds: int = 20, log: Callable[[str], None] = print,
) -> dict[str, dict]:  # fmt: skip
    """Fuzz each reader with ``budget`` mutations; returns per-reader counts and failures."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = Path(tempfile.mkdtemp(prefix="dh-fuzz-"))
    try:
        seeds = _seed_files(work)
        documented = _documented()
        results: dict[str, dict] = {}
        for name in readers:
            read = _reader(name, seeds, work)
            read(seeds[name])  # the unmutated seed must read cleanly (warms caches too)
            rng = random.Random(f"{seed}:{name}")
            data = seeds[name].read_bytes()
            counts = dict.fromkeys(OUTCOMES, 0)
            failures, exc_types = [], {}
            t0 = time.time()
            for i in range(budget):
                mutated = work / f"m_{name}{''.join(seeds[name].suffixes)}"
                m = mutate(data, rng)
                if name == "yaml" and rng.random() < 0.7:  # mostly keep it ASCII: reach the parser
                    m = bytes(b & 0x7F for b in m)
                mutated.write_bytes(m)
                outcome, detail = _run_child(read, mutated, documented[name], mem_mb, seconds)
                counts[outcome] += 1
                if outcome == "documented":
                    exc_types[detail] = exc_types.get(detail, 0) + 1
                elif outcome != "ok":
                    failures.append({"mutation": i, "outcome": outcome, "detail": detail})
                    if out is not None:
                        out.mkdir(parents=True, exist_ok=True)
                        shutil.copy(mutated, out / f"{name}_{i}_{outcome}{mutated.suffix}")
            results[name] = {
                "mutations": budget, **counts, "documented_types": exc_types,
                "failures": failures[:20], "seconds": round(time.time() - t0, 1),
            }  # fmt: skip
            log(f"{name}: " + ", ".join(f"{k} {counts[k]}" for k in OUTCOMES)
                + f" ({results[name]['seconds']} s)")  # fmt: skip
            for f in failures[:5]:
                log(f"  #{f['mutation']} {f['outcome']}: {f['detail']}")
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


READERS = ["png", "jpeg", "tiff", "dicom", "nifti", "series", "yaml", "onnx", "anonymize"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=int, default=1000, help="mutations per reader")
    p.add_argument("--readers", default=",".join(READERS), help="comma-separated subset")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mem-mb", type=int, default=512, help="address-space allowance per run")
    p.add_argument("--seconds", type=int, default=20, help="CPU seconds per run (wall: twice)")
    p.add_argument("--out", type=Path, default=Path("fuzz-failures"), help="failing inputs")
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    results = run(args.budget, args.readers.split(","), args.seed, args.out, args.mem_mb,
                  args.seconds)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    bad = sum(r[k] for r in results.values() for k in OUTCOMES[2:])
    print(f"total: {sum(r['mutations'] for r in results.values())} mutations, {bad} failures")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
