"""Pretrained downloads against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import deephealth.eddl as eddl
from deephealth.eddl.zoo.downloads import DownloadError, download_model, strip_top


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class Server:
    """A local static file server; `requests` counts GET requests per path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        outer = self

        class Handler(_QuietHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                super().do_GET()

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _classifier(name: str = "resnet18") -> eddl.Model:
    x = eddl.Input([3, 16, 16], name="data")
    h = eddl.ReLu(eddl.Conv2D(x, 4, [3, 3], name="conv"))
    h = eddl.Flatten(eddl.GlobalAveragePool2D(h, name="gap"))
    return eddl.Model([x], [eddl.Softmax(eddl.Dense(h, 10, name="fc"))], name)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "site"
    root.mkdir()
    for name in ("resnet18", "vgg16"):
        eddl.save_net_to_onnx_file(_classifier(name), root / f"{name}.onnx")
    data = (root / "resnet18.onnx").read_bytes()
    (root / "resnet18.onnx.sha256").write_text(
        hashlib.sha256(data).hexdigest() + "  resnet18.onnx\n"
    )
    srv = Server(root)
    yield srv
    srv.stop()


def test_download_then_cache_hit_then_offline(server: Server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = download_model("resnet18", base_url=server.url, cache=cache)
    assert path == cache / "resnet18.onnx"
    assert path.read_bytes() == (server.root / "resnet18.onnx").read_bytes()
    assert server.requests == ["/resnet18.onnx", "/resnet18.onnx.sha256"]
    assert download_model("resnet18", base_url=server.url, cache=cache) == path
    assert len(server.requests) == 2  # served from the cache
    server.stop()
    assert download_model("resnet18", base_url=server.url, cache=cache, force=True) == path


def test_published_checksum_mismatch_leaves_nothing(server: Server, tmp_path: Path) -> None:
    (server.root / "resnet18.onnx.sha256").write_text("0" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="resnet18.onnx: SHA-256 .* does not match"):
        download_model("resnet18", base_url=server.url, cache=cache)
    assert list(cache.iterdir()) == []


def test_given_checksum_and_env_configuration(server: Server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DEEPHEALTH_MODELS_URL", server.url)
    monkeypatch.setenv("DEEPHEALTH_CACHE", str(tmp_path / "envcache"))
    good = hashlib.sha256((server.root / "vgg16.onnx").read_bytes()).hexdigest()
    path = download_model("vgg16", sha256=good)  # no .sha256 on the server for vgg16
    assert path == tmp_path / "envcache" / "vgg16.onnx"
    with pytest.raises(DownloadError, match="does not match the expected " + "1" * 64):
        download_model("vgg16", sha256="1" * 64)


def test_url_link_and_local_path(server: Server, tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "c"
    by_url = download_model(f"{server.url}/vgg16.onnx", cache=cache)
    assert by_url.name == "vgg16.onnx"
    monkeypatch.chdir(tmp_path)
    by_link = download_model("my_copy.onnx", f"{server.url}/vgg16.onnx", cache=cache)
    assert by_link == Path("my_copy.onnx")  # pyeddl: the file lands in the working directory
    assert by_link.read_bytes() == (cache / "my_copy.onnx").read_bytes()
    local = server.root / "vgg16.onnx"
    assert download_model(local) == local


def test_download_errors(server: Server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DEEPHEALTH_MODELS_URL", raising=False)
    with pytest.raises(DownloadError, match="unknown model 'alexnet'"):
        download_model("alexnet", cache=tmp_path)
    with pytest.raises(DownloadError, match="no download location for 'resnet50'"):
        download_model("resnet50", cache=tmp_path)
    with pytest.raises(DownloadError, match="cannot download .*/resnet34.onnx: HTTP Error 404"):
        download_model("resnet34", base_url=server.url, cache=tmp_path)
    assert not (tmp_path / "resnet34.onnx").exists()


def test_pyeddl_download_functions(server: Server, tmp_path: Path) -> None:
    full = eddl.download_resnet18(False, base_url=server.url, cache=tmp_path)
    assert full.outputs[0].output_shape == (10,)
    top = eddl.download_resnet18(True, [3, 32, 32], base_url=server.url, cache=tmp_path)
    assert top.inputs[0].output_shape == (3, 32, 32)
    # as EDDL: the dense part goes, the flatten before it stays and is named "top"
    assert top.outputs[0].kind == "Flatten" and top.outputs[0].output_shape == (4,)
    assert eddl.getLayer(top, "top") is top.outputs[0]
    vgg = eddl.download_vgg16(base_url=server.url, cache=tmp_path)
    assert [layer.kind for layer in vgg.layers][-2:] == ["GlobalAveragePool2D", "Flatten"]
    with pytest.raises(DownloadError, match="cannot download .*densenet121.onnx"):
        eddl.download_densenet121(base_url=server.url, cache=tmp_path)


def test_strip_top_keeps_a_headless_net() -> None:
    x = eddl.Input([4], name="x")
    net = eddl.Model([x], [eddl.ReLu(x)])
    assert strip_top(net).outputs[0].kind == "Activation"
    x = eddl.Input([4], name="x")
    net = eddl.Model([x], [eddl.Dense(x, 2)])
    assert strip_top(net) is net  # nothing but the head: kept whole
