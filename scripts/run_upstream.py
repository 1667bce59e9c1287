"""Run pyeddl's or pyecvl's own example scripts and unit tests against deephealth, imports changed.

    python scripts/run_upstream.py /path/to/pyeddl-checkout [--work DIR] [--only NAME] [--no-tests]
    python scripts/run_upstream.py /path/to/pyecvl-checkout ...

The checkout is an existing local copy of github.com/deephealthproject/pyeddl or pyecvl (this
script fetches nothing). Each example and test file is copied into a scratch folder with only its
imports rewritten (`pyeddl.eddl` / `pyeddl._core` -> `deephealth.eddl`, `pyeddl.tensor` ->
`deephealth.eddl`, `pyecvl.ecvl` / `pyecvl._core.ecvl` -> `deephealth.ecvl`), then run in a
subprocess with a timeout. pyeddl's dataset and model downloads are served by a local HTTP server
on 127.0.0.1 (`DEEPHEALTH_DATASETS_URL`, `DEEPHEALTH_MODELS_URL`) from small stand-ins written in
EDDL's formats (Fashion-MNIST images for MNIST when installed, generated data for the others, ONNX
stand-ins with the layer names of EDDL's pretrained files; a file a script downloads itself is put
in its folder, `LOCAL_FILES`); pyecvl's examples get a data root of
real images (scikit-image, pydicom, nibabel test files, the CMU-1 slide when present). Examples run
with `--epochs 1 --small` (and smaller batches) when they take those options.

Prints one line per script (ok / FAIL with the last error line) and the totals; `--json FILE`
writes the results. Exit status 0 whatever the counts (it is a report, not a test).
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

IMPORTS = [
    (r"pyeddl\._core\.eddl\b", "deephealth.eddl"),
    (r"from pyeddl\.tensor import", "from deephealth.eddl import"),
    (r"import pyeddl\._core\.eddl as", "import deephealth.eddl as"),
    (r"from pyeddl\._core import", "from deephealth.eddl import"),
    (r"import pyeddl\.eddl as", "import deephealth.eddl as"),
    (r"from pyeddl import eddl\b", "import deephealth.eddl as eddl"),
    (r"from pyeddl\.eddl import", "from deephealth.eddl import"),
    (r"import pyeddl\._core\b", "import deephealth.eddl"),
    (r"pyeddl\._core\.", "deephealth.eddl."),
    (r"import pyecvl\._core\.ecvl as", "import deephealth.ecvl as"),
    (r"import pyecvl\.ecvl as", "import deephealth.ecvl as"),
    (r"from pyecvl import ecvl\b", "import deephealth.ecvl as ecvl"),
    (r"from pyecvl\.ecvl import", "from deephealth.ecvl import"),
    (r"from pyecvl\._core\.ecvl import", "from deephealth.ecvl import"),
    (r"import pyecvl\._core\.ecvl\b", "import deephealth.ecvl"),
    (r"pyecvl\._core\.ecvl\.", "deephealth.ecvl."),
    (r"([\"'])pyecvl\.(augmentations|ecvl)([\"'])", r"\1deephealth.ecvl\3"),  # importorskip
    (r"([\"'])pyeddl\.(tensor|eddl)([\"'])", r"\1deephealth.eddl\3"),
]


def rewrite(text: str) -> str:
    """`text` with pyeddl/pyecvl imports pointing at deephealth."""
    for pattern, repl in IMPORTS:
        text = re.sub(pattern, repl, text)
    return text


# ---- stand-in data ----------------------------------------------------------------------------


def _bin(array: np.ndarray) -> bytes:
    from deephealth.eddl.tensor import bin_bytes

    return bytes(bin_bytes(np.asarray(array, dtype=np.float32)))


def _mnist(rng: np.random.Generator) -> dict[str, np.ndarray]:
    onehot = np.eye(10, dtype=np.float32)
    try:
        from deephealth.eddl.examples import fashion_mnist

        x, y, xt, yt = fashion_mnist.load(fashion_mnist.DEFAULT_DIR, 600)
        return {
            "mnist_trX.bin": np.rint(x.reshape(len(x), 784) * 255.0),
            "mnist_trY.bin": y,
            "mnist_tsX.bin": np.rint(xt[:200].reshape(200, 784) * 255.0),
            "mnist_tsY.bin": yt[:200],
        }
    except Exception:  # Fashion-MNIST not installed: digit-like blobs with their labels
        out = {}
        for part, n in (("tr", 600), ("ts", 200)):
            labels = rng.integers(0, 10, n)
            img = rng.uniform(0, 40, (n, 28, 28))
            for i, c in enumerate(labels):
                img[i, 2 * c : 2 * c + 8, 4:24] += 200
            out[f"mnist_{part}X.bin"] = np.rint(np.clip(img, 0, 255).reshape(n, 784))
            out[f"mnist_{part}Y.bin"] = onehot[labels]
        return out


def write_datasets(root: Path) -> None:
    """EDDL `.bin` stand-ins of every pyeddl dataset (small, in the original layouts)."""
    rng = np.random.default_rng(0)
    onehot = np.eye(10, dtype=np.float32)
    files = _mnist(rng)
    for part, n in (("tr", 240), ("ts", 60)):
        labels = rng.integers(0, 10, n)
        img = rng.uniform(0, 60, (n, 3, 32, 32))
        img[np.arange(n), labels % 3] += 18.0 * (labels[:, None, None] + 1)
        files[f"cifar_{part}X.bin"] = np.rint(img)
        files[f"cifar_{part}Y.bin"] = onehot[labels]
        files[f"imdb_2000_{part}X.bin"] = rng.integers(0, 2000, (n, 250))
        files[f"imdb_2000_{part}Y.bin"] = rng.integers(0, 2, (n, 1))
        files[f"eutrans_{part}X.bin"] = rng.integers(0, 687, (n // 4, 30))
        files[f"eutrans_{part}Y.bin"] = rng.integers(0, 514, (n // 4, 30))
    files["drive_trX.bin"] = rng.integers(0, 256, (20, 584, 584, 3))
    files["drive_trY.bin"] = 255.0 * rng.integers(0, 2, (20, 584, 584))
    files["flickr_trX.bin"] = rng.integers(0, 256, (48, 256, 256, 3))  # --small takes 2 batches
    files["flickr_trY.bin"] = rng.integers(0, 2000, (48, 20))
    for name, array in files.items():
        data = _bin(array)
        (root / name).write_bytes(data)
        (root / f"{name}.sha256").write_text(hashlib.sha256(data).hexdigest() + f"  {name}\n")


def write_models(root: Path) -> None:
    """ONNX stand-ins with the input/flatten/dense names of EDDL's ResNet files."""
    import deephealth.eddl as eddl

    for name, feats in (("resnet18", 512), ("resnet34", 512)):
        x = eddl.Input([3, 224, 224], name="data")
        h = eddl.ReLu(eddl.Conv2D(x, feats, [8, 8], [8, 8], name="resnetv15_conv0_fwd"))
        h = eddl.GlobalAveragePool2D(h, name="resnetv15_pool1_fwd")
        h = eddl.Flatten(h, name="flatten_170")
        net = eddl.Model([x], [eddl.Dense(h, 1000, name="resnetv15_dense0_fwd")])
        path = root / f"{name}.onnx"
        eddl.save_net_to_onnx_file(net, str(path))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        (root / f"{name}.onnx.sha256").write_text(f"{digest}  {name}.onnx\n")


def _save(path: Path, array: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3:
        array = array[..., ::-1]  # RGB -> OpenCV's BGR
    cv2.imwrite(str(path), np.ascontiguousarray(array))


def write_ecvl_root(root: Path) -> None:
    """The data folder pyecvl's `run_all.sh` expects, from real images shipped by the packages."""
    import nibabel
    import skimage.data
    from pydicom.data import get_testdata_file

    ihc = skimage.data.immunohistochemistry()
    _save(root / "test.jpg", ihc)
    _save(root / "lena.png", ihc[256:512, 256:512])
    _save(root / "example_ISIC_01.jpg", skimage.data.coffee()[::2, ::2])
    (root / "dicom").mkdir(parents=True, exist_ok=True)
    # ECVL's file is an RGB skin image in DICOM: pydicom's RGB secondary capture stands in
    shutil.copy(get_testdata_file("SC_rgb.dcm"), root / "dicom" / "ISIC_0000008.dcm")
    nib_data = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    (root / "nifti").mkdir(exist_ok=True)
    shutil.copy(nib_data, root / "nifti" / "LR_nifti.nii")
    slide = ROOT / ".data" / "cmu_small_region.svs"  # CMU-1-Small-Region (see DATA.md)
    if slide.is_file():
        (root / "hamamatsu").mkdir(exist_ok=True)
        shutil.copy(slide, root / "hamamatsu" / "test3-DAPI 2 (387).ndpi")
    digits = skimage.data.camera()
    rng = np.random.default_rng(0)
    lines = ["name: MNIST stand-in", "classes: [" + ", ".join(f'"{c}"' for c in range(10)) + "]"]
    lines.append("images:")
    n = 0
    split: dict[str, list[int]] = {"training": [], "test": []}  # as ECVL's MNIST
    for part, count in (("training", 128), ("test", 64)):
        for _ in range(count):
            c = int(rng.integers(0, 10))
            y0 = 20 * c
            img = digits[y0 : y0 + 28, 100:128]
            rel = f"{part}/{c}/{n:04d}.png"
            _save(root / "mnist" / rel, img)
            lines += [f"  - location: {rel}", f'    label: "{c}"']
            split[part].append(n)
            n += 1
    lines.append("split:")
    lines += [f"  {k}: {v}" for k, v in split.items()]
    (root / "mnist" / "mnist.yml").write_text("\n".join(lines) + "\n")
    reduced = [*lines]
    (root / "mnist" / "mnist_reduced.yml").write_text("\n".join(reduced) + "\n")
    for part in ("training", "test"):
        for c in ("a", "b"):
            for k in range(3):
                _save(root / "fake_classification_dataset" / part / c / f"{k}.png", ihc[:32, :32])
        seg = root / "fake_segmentation_dataset" / part
        for k in range(3):
            _save(seg / f"img{k}.png", ihc[:32, :32])
            _save(seg / f"img{k}_segmentation.png", (ihc[:32, :32, 0] > 128).astype(np.uint8) * 255)
        _save(seg / "black.png", np.zeros((32, 32), np.uint8))


# ---- HTTP mirror ------------------------------------------------------------------------------


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A static file server on 127.0.0.1 (a free port) for `folder`."""
    handler = type(
        "Quiet",
        (http.server.SimpleHTTPRequestHandler,),
        {"log_message": lambda *a: None},
    )
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: handler(*a, directory=str(folder))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# ---- running ----------------------------------------------------------------------------------


def example_args(text: str, data: Path) -> list[str]:
    """Options that keep an example short, when its parser takes them; positional data paths."""
    args = []
    if '"--epochs"' in text:
        args += ["--epochs", "1"]
    if '"--small"' in text:
        args.append("--small")
    m = re.search(r'"--batch-size", type=int, metavar="INT", default=(\d+)', text)
    if m and int(m.group(1)) > 100:
        args += ["--batch-size", "100"]
    if '"--num-batches"' in text:
        args += ["--num-batches", "1"]
    return args


PYECVL_ARGS = {
    "augmentations.py": ["{d}/test.jpg"],
    "dataset.py": ["{d}/mnist/mnist.yml"],
    "dataset_generator.py": ["{d}/fake_classification_dataset", "{d}/fake_segmentation_dataset"],
    "ecvl_eddl.py": ["{d}/test.jpg", "{d}/mnist/mnist.yml"],
    "img_format.py": ["{d}/nifti/LR_nifti.nii", "{d}/dicom/ISIC_0000008.dcm"],
    "imgproc.py": ["{d}/test.jpg", "{d}/lena.png"],
    "moments.py": ["{d}/example_ISIC_01.jpg"],
    "openslide.py": ["{d}/hamamatsu/test3-DAPI 2 (387).ndpi"],
    "pipeline.py": ["{d}/mnist/mnist_reduced.yml", "--batch-size", "20"],
    "read_write.py": ["{d}/test.jpg", "test_mod.jpg"],
}
PYEDDL_ARGS = {  # positional arguments of the application scripts
    "image_classification_resnet34.py": ["{e}/test.jpg", "{e}/classes.txt", "{m}/resnet34.onnx"],
}
FIRST = ("save_net_to_file.py",)  # examples whose outputs others read


def write_keras_mnist(folder: Path) -> None:
    """`mnist.npz` in Keras' layout (uint8 images, integer labels), from the MNIST stand-in.

    pyeddl's `Tensor/array_tensor_save.py` downloads this file itself with `urllib` (no network
    here) unless it is already in its folder, so the stand-in is put there.
    """
    files = _mnist(np.random.default_rng(0))
    x, y = files["mnist_trX.bin"], files["mnist_trY.bin"]
    xt, yt = files["mnist_tsX.bin"], files["mnist_tsY.bin"]
    np.savez(
        folder / "mnist.npz",
        x_train=x.reshape(-1, 28, 28).astype(np.uint8),
        y_train=np.argmax(y, axis=1).astype(np.uint8),
        x_test=xt.reshape(-1, 28, 28).astype(np.uint8),
        y_test=np.argmax(yt, axis=1).astype(np.uint8),
    )


LOCAL_FILES = {"array_tensor_save.py": write_keras_mnist}  # files a script downloads itself


def run_one(
    cmd: list[str], cwd: Path, env: dict[str, str], timeout: int
) -> tuple[bool, str, float]:
    start = time.time()
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return False, f"timeout after {timeout} s", time.time() - start
    lines = [l for l in (proc.stdout + proc.stderr).splitlines() if l.strip()]
    errors = [l for l in lines if re.match(r"^\w*(Error|Exception)\b|^\w+\.\w+Error", l)]
    last = (errors or lines or [""])[-1][:300]
    return proc.returncode == 0, last, time.time() - start


def run_examples(kind: str, src: Path, work: Path, env: dict, only: str, timeout: int) -> list:
    scripts = sorted(
        p
        for p in (src / "examples").rglob("*.py")
        if "_OLD" not in p.parts and (not only or only in p.name)
    )
    scripts.sort(key=lambda p: (p.name not in FIRST, str(p)))
    results = []
    for path in scripts:
        rel = path.relative_to(src / "examples")
        folder = work / "examples" / rel.parent
        folder.mkdir(parents=True, exist_ok=True)
        text = path.read_text()
        (folder / path.name).write_text(rewrite(text))
        if path.name in LOCAL_FILES:
            LOCAL_FILES[path.name](folder)
        if kind == "pyecvl":
            args = [a.format(d=env["ECVL_DATA"]) for a in PYECVL_ARGS.get(path.name, [])]
        else:
            pos = PYEDDL_ARGS.get(path.name, [])
            args = [a.format(m=env["MIRROR_DIR"], e=env["ECVL_DATA"]) for a in pos]
            args += example_args(text, work)
        ok, last, secs = run_one([sys.executable, path.name, *args], folder, env, timeout)
        results.append({"script": str(rel), "ok": ok, "seconds": round(secs, 1), "error": last})
        print(f"{'ok  ' if ok else 'FAIL'} {rel} ({secs:.0f} s){'' if ok else ': ' + last}")
        sys.stdout.flush()
    return results


def run_tests(src: Path, work: Path, env: dict, only: str, timeout: int) -> list:
    folder = work / "tests"
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for path in sorted((src / "tests").glob("test_*.py")):
        if only and only not in path.name:
            continue
        (folder / path.name).write_text(rewrite(path.read_text()))
        report = folder / f"{path.stem}.json"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rN", "--tb=line"]
        cmd += [path.name, f"--junitxml={report.with_suffix('.xml')}"]
        _, last, secs = run_one(cmd, folder, env, timeout)
        counts = _junit_counts(report.with_suffix(".xml"))
        results.append({"file": path.name, **counts, "seconds": round(secs, 1), "last": last})
        print(f"{path.name}: {counts['passed']}/{counts['total']} passed ({secs:.0f} s)")
        for name in counts["failed_names"][:40]:
            print(f"    failed: {name}")
    return results


def _junit_counts(xml: Path) -> dict:
    import xml.etree.ElementTree as ET

    if not xml.is_file():
        return {"total": 0, "passed": 0, "failed_names": ["(no report: collection failed)"]}
    cases = ET.parse(xml).getroot().iter("testcase")
    total, failed = 0, []
    for case in cases:
        total += 1
        if any(child.tag in ("failure", "error") for child in case):
            msg = next(c.get("message", "") for c in case if c.tag in ("failure", "error"))
            failed.append(f"{case.get('name')}: {msg.splitlines()[0][:160] if msg else ''}")
        elif any(child.tag == "skipped" for child in case):
            failed.append(f"{case.get('name')}: skipped")
    return {"total": total, "passed": total - len(failed), "failed_names": failed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="local pyeddl or pyecvl checkout")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (a new one)")
    parser.add_argument("--only", default="", help="run only files whose name contains this")
    parser.add_argument("--no-examples", action="store_true")
    parser.add_argument("--no-tests", action="store_true")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per script")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    src = args.checkout.resolve()
    kind = "pyecvl" if (src / "pyecvl").is_dir() else "pyeddl"
    work = (args.work or Path(f"/tmp/upstream-{kind}")).resolve()
    if work.exists():
        shutil.rmtree(work)
    mirror, ecvl_data = work / "mirror", work / "ecvl-data"
    for d in (mirror, ecvl_data):
        d.mkdir(parents=True)
    write_ecvl_root(ecvl_data)
    (ecvl_data / "classes.txt").write_text("\n".join(f"class {i}" for i in range(1000)) + "\n")
    if kind == "pyeddl":
        write_datasets(mirror)
        write_models(mirror)
    server, url = serve(mirror)
    env = dict(os.environ)
    env.update(
        DEEPHEALTH_DATASETS_URL=url,
        DEEPHEALTH_MODELS_URL=url,
        DEEPHEALTH_CACHE=str(work / "cache"),
        MIRROR_DIR=str(mirror),
        ECVL_DATA=str(ecvl_data),
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]),
        MPLBACKEND="Agg",
    )
    out: dict = {"checkout": str(src), "kind": kind}
    try:
        if not args.no_examples:
            out["examples"] = run_examples(kind, src, work, env, args.only, args.timeout)
        if not args.no_tests:
            out["tests"] = run_tests(src, work, env, args.only, args.timeout)
    finally:
        server.shutdown()
    if "examples" in out:
        ok = sum(r["ok"] for r in out["examples"])
        print(f"\n{kind} examples: {ok}/{len(out['examples'])} ran to the end")
    if "tests" in out:
        passed = sum(r["passed"] for r in out["tests"])
        total = sum(r["total"] for r in out["tests"])
        print(f"{kind} unit tests: {passed}/{total} passed")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
