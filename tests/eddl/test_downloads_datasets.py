"""pyeddl's dataset downloads against a loopback mirror: files land in the working directory in
EDDL's `.bin` layout, checksums are enforced, interrupted transfers resume with HTTP Range."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.eddl.http_mirror import MirrorServer

import deephealth.eddl as eddl
from deephealth.eddl.tensor import bin_bytes
from deephealth.eddl.zoo.datasets import DATASETS


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MirrorServer]:
    root = tmp_path / "mirror"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("tr", 60), ("ts", 20)):
        (root / f"mnist_{name}X.bin").write_bytes(bin_bytes(rng.integers(0, 256, (n, 784))))
        (root / f"mnist_{name}Y.bin").write_bytes(bin_bytes(np.eye(10)[rng.integers(0, 10, n)]))
    for f in list(root.iterdir()):
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        (root / f"{f.name}.sha256").write_text(f"{digest}  {f.name}\n")
    server = MirrorServer(root)
    monkeypatch.setenv("DEEPHEALTH_DATASETS_URL", server.url)
    monkeypatch.setenv("DEEPHEALTH_CACHE", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield server
    server.stop()


def test_download_mnist_puts_eddl_bin_files_in_the_working_directory(mirror: MirrorServer):
    eddl.download_mnist()
    for name in DATASETS["mnist"]:
        assert Path(name).read_bytes() == (mirror.root / name).read_bytes()
    x = eddl.Tensor.load("mnist_trX.bin")
    y = eddl.Tensor.load("mnist_trY.bin")
    assert x.shape == [60, 784] and y.shape == [60, 10]
    assert y.sum() == 60.0
    before = len(mirror.requests)
    eddl.download_mnist()  # files present: nothing fetched, as pyeddl
    assert len(mirror.requests) == before


def test_a_new_process_reads_the_downloaded_tensor(mirror: MirrorServer):
    eddl.download_mnist()
    code = (
        "import deephealth.eddl as e, numpy as np; t = e.Tensor.load('mnist_tsY.bin'); "
        "print(t.shape, int(np.argmax(t.getdata(), 1).sum()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    labels = np.frombuffer((mirror.root / "mnist_tsY.bin").read_bytes()[12:], "<f4").reshape(20, 10)
    assert out.stdout.split("]")[1].strip() == str(int(labels.argmax(1).sum()))


def test_no_mirror_is_a_clear_error_and_no_request(mirror: MirrorServer, monkeypatch):
    monkeypatch.delenv("DEEPHEALTH_DATASETS_URL")
    with pytest.raises(eddl.DownloadError, match="DEEPHEALTH_DATASETS_URL") as err:
        eddl.download_cifar10()
    assert "cifar_trX.bin" in str(err.value)
    assert mirror.requests == []


def test_checksum_mismatch_leaves_nothing(mirror: MirrorServer, tmp_path: Path):
    (mirror.root / "mnist_trX.bin.sha256").write_text("0" * 64 + "  mnist_trX.bin\n")
    with pytest.raises(eddl.DownloadError, match="does not match the expected " + "0" * 64):
        eddl.download_mnist()
    assert not Path("mnist_trX.bin").exists()
    assert not list((tmp_path / "cache").glob("mnist_trX.bin*"))


@pytest.mark.parametrize("ranges", [True, False])
def test_interrupted_transfer_resumes(mirror: MirrorServer, tmp_path: Path, ranges: bool):
    mirror.ranges = ranges
    mirror.cut_after = 5000
    with pytest.raises(eddl.DownloadError, match="call again to resume"):
        eddl.download_mnist()
    part = tmp_path / "cache" / "mnist_trX.bin.part"
    assert part.stat().st_size == 5000
    mirror.cut_after = None
    eddl.download_mnist()
    assert Path("mnist_trX.bin").read_bytes() == (mirror.root / "mnist_trX.bin").read_bytes()
    gets = [r for r in mirror.requests if r[0] == "/mnist_trX.bin"]
    assert gets[-1][1] == "bytes=5000-"  # asked for the rest only
    assert not part.exists()


def test_download_model_pyeddl_form_lands_in_the_working_directory(
    mirror: MirrorServer, monkeypatch
):
    eddl.save_net_to_onnx_file(_tiny_net(), str(mirror.root / "resnet18.onnx"))
    monkeypatch.delenv("DEEPHEALTH_MODELS_URL", raising=False)
    with pytest.raises(eddl.DownloadError, match="DEEPHEALTH_MODELS_URL"):
        eddl.download_model("resnet18.onnx", "re7jodd12srksd7")  # an EDDL Dropbox key
    assert mirror.requests == []
    monkeypatch.setenv("DEEPHEALTH_MODELS_URL", mirror.url)
    path = eddl.download_model("resnet18.onnx", "re7jodd12srksd7")
    assert (
        path == Path("resnet18.onnx")
        and path.read_bytes() == (mirror.root / "resnet18.onnx").read_bytes()
    )
    net = eddl.import_net_from_onnx_file("resnet18.onnx", [3, 16, 16])
    assert net.inputs[0].output_shape == (3, 16, 16)


def _tiny_net() -> eddl.Model:
    x = eddl.Input([3, 8, 8], name="data")
    h = eddl.Flatten(eddl.GlobalAveragePool2D(eddl.Conv2D(x, 4, [3, 3])), name="flatten_170")
    return eddl.Model([x], [eddl.Softmax(eddl.Dense(h, 5, name="resnetv15_dense0_fwd"))])
