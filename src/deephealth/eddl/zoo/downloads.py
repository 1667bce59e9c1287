"""Pretrained ONNX models: download into a cache with a checksum, or read from cache / local path.

`download_model(name_or_url)` returns the local path of an ONNX file. A known name ("resnet18",
"vgg16", ...) is fetched from `<base URL>/<name>.onnx`; the base URL is configurable (argument,
or the `DEEPHEALTH_MODELS_URL` environment variable; no public mirror is assumed). The file is
checked against a SHA-256 (given, or the server's `<file>.sha256` when it has one) before it enters
the cache (`DEEPHEALTH_CACHE`, default `~/.cache/deephealth/models`); a failed check leaves
nothing behind. Without network, a cached copy is used. pyeddl's `download_vgg16`,
`download_resnet18/34/50/101/152` and `download_densenet121` import the file as a `Model`, with a
new `input_shape` if given and, with `top=True`, without the classifier ("top") layers.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deephealth.errors import EddlError

if TYPE_CHECKING:
    from deephealth.eddl.model import Model

MODEL_NAMES = (
    "vgg16",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "densenet121",
)
URL_ENV = "DEEPHEALTH_MODELS_URL"
CACHE_ENV = "DEEPHEALTH_CACHE"
TIMEOUT_S = 30.0
# Layers of a classifier head that `top=True` removes from the end of the network.
_HEAD_KINDS = {"Dense", "Activation", "Dropout", "Flatten", "Reshape"}
_POOL_KINDS = {"GlobalAveragePool2D", "GlobalMaxPool2D", "AveragePool2D", "MaxPool2D"}


class DownloadError(EddlError, RuntimeError):
    """A model could not be fetched (and is not in the cache), or failed its checksum."""


def cache_dir() -> Path:
    """The model cache folder (created when missing)."""
    folder = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "deephealth" / "models")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "file://"))


def _resolve(name_or_url: str, link: str | None, base_url: str | None) -> tuple[str, str]:
    """(URL, cache file name) for a model name, a URL, or pyeddl's (name, link) pair."""
    if link:
        return link, Path(name_or_url).name
    if _is_url(name_or_url):
        return name_or_url, Path(urllib.request.url2pathname(name_or_url.split("?")[0])).name
    name = name_or_url.lower().removesuffix(".onnx")
    if name not in MODEL_NAMES:
        raise DownloadError(
            f"unknown model {name_or_url!r}: not a file, a URL or one of {list(MODEL_NAMES)}"
        )
    base = base_url or os.environ.get(URL_ENV)
    if not base:
        raise DownloadError(
            f"no download location for {name!r}: pass base_url or set {URL_ENV} "
            "(the folder URL holding <name>.onnx)"
        )
    return f"{base.rstrip('/')}/{name}.onnx", f"{name}.onnx"


def _fetch(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(dest, "wb") as out:
        while block := response.read(1 << 20):
            out.write(block)


def _published_sha256(url: str) -> str | None:
    """The checksum the server publishes beside the file (`<url>.sha256`), if any."""
    try:
        with urllib.request.urlopen(url + ".sha256", timeout=TIMEOUT_S) as response:
            text = response.read(4096).decode("ascii", "replace").split()
    except (urllib.error.URLError, OSError):
        return None
    return text[0].lower() if text else None


def _check(path: Path, expected: str | None, source: str) -> None:
    if expected is not None and sha256_of(path) != expected.lower():
        raise DownloadError(
            f"{source}: SHA-256 {sha256_of(path)} does not match the expected {expected.lower()}"
        )


def download_model(
    name_or_url: str | os.PathLike[str],
    link: str | None = None,
    *,
    sha256: str | None = None,
    base_url: str | None = None,
    cache: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Path:
    """The local path of an ONNX model: a local file, the cached copy, or a fresh download.

    Args:
        name_or_url: A local `.onnx` path, a URL, or a model name of `MODEL_NAMES`.
        link: pyeddl's second argument: the URL to fetch `name_or_url` (a file name) from.
        sha256: Expected SHA-256; default: the server's `<url>.sha256` when published.
        base_url: Folder URL of the named models (default: `$DEEPHEALTH_MODELS_URL`).
        cache: Cache folder (default: `$DEEPHEALTH_CACHE` or `~/.cache/deephealth/models`).
        force: Download again even when cached.

    Raises:
        DownloadError: unknown name, network failure with nothing cached, checksum mismatch.
    """
    text = os.fspath(name_or_url)
    if link is None and not _is_url(text) and Path(text).is_file():
        _check(Path(text), sha256, text)
        return Path(text)
    url, filename = _resolve(text, link, base_url)
    folder = Path(cache) if cache is not None else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    if target.is_file() and not force:
        _check(target, sha256, str(target))
        return target
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            _fetch(url, tmp)
        except (urllib.error.URLError, OSError) as err:
            if target.is_file():
                return target  # offline: the cached copy
            raise DownloadError(f"cannot download {url}: {err}") from None
        _check(tmp, sha256 or _published_sha256(url), url)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def strip_top(net: Model) -> Model:
    """Remove the classifier: trailing Dense/Activation/Dropout/Flatten layers and the last pool."""
    from deephealth.eddl.model import Model

    out = net.outputs[0]
    while out.kind in _HEAD_KINDS and out.parents:
        out = out.parents[0]
    if out.kind in _POOL_KINDS and out.parents:
        out = out.parents[0]
    if out is net.outputs[0] or out.kind == "Input":
        return net
    return Model(net.inputs, [out], net.name)


def _download_net(
    name: str, top: bool, input_shape: Sequence[int] | None, **kwargs: object
) -> Model:
    from deephealth.eddl.onnx import import_net_from_onnx_file

    path = download_model(name, **kwargs)  # type: ignore[arg-type]
    net = import_net_from_onnx_file(path, input_shape=list(input_shape) if input_shape else None)
    return strip_top(net) if top else net


def download_vgg16(top: bool = True, input_shape: Sequence[int] = (), **kwargs: object) -> Model:
    """VGG16 from ONNX; `top=True` drops the dense part and the last pooling layer."""
    return _download_net("vgg16", top, input_shape, **kwargs)


def download_resnet18(top: bool = True, input_shape: Sequence[int] = (), **kwargs: object) -> Model:
    """ResNet-18 from ONNX; `top=True` drops the classifier and the last pooling layer."""
    return _download_net("resnet18", top, input_shape, **kwargs)


def download_resnet34(top: bool = True, input_shape: Sequence[int] = (), **kwargs: object) -> Model:
    """ResNet-34 from ONNX (see `download_resnet18`)."""
    return _download_net("resnet34", top, input_shape, **kwargs)


def download_resnet50(top: bool = True, input_shape: Sequence[int] = (), **kwargs: object) -> Model:
    """ResNet-50 from ONNX (see `download_resnet18`)."""
    return _download_net("resnet50", top, input_shape, **kwargs)


def download_resnet101(
    top: bool = True, input_shape: Sequence[int] = (), **kwargs: object
) -> Model:
    """ResNet-101 from ONNX (see `download_resnet18`)."""
    return _download_net("resnet101", top, input_shape, **kwargs)


def download_resnet152(
    top: bool = True, input_shape: Sequence[int] = (), **kwargs: object
) -> Model:
    """ResNet-152 from ONNX (see `download_resnet18`)."""
    return _download_net("resnet152", top, input_shape, **kwargs)


def download_densenet121(
    top: bool = True, input_shape: Sequence[int] = (), **kwargs: object
) -> Model:
    """DenseNet-121 from ONNX (see `download_resnet18`)."""
    return _download_net("densenet121", top, input_shape, **kwargs)
