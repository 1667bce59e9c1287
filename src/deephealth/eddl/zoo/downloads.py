"""Pretrained ONNX models: download into a cache with a checksum, or read from cache / local path.

`download_model(name_or_url)` returns the local path of an ONNX file. A known name ("resnet18",
"vgg16", ...) is fetched from `<base URL>/<name>.onnx`; the base URL is configurable (argument,
or the `DEEPHEALTH_MODELS_URL` environment variable; no public mirror is assumed). The file is
checked against a SHA-256 (given, or the server's `<file>.sha256` when it has one) before it enters
the cache (`DEEPHEALTH_CACHE`, default `~/.cache/deephealth/models`); a failed check leaves
nothing behind; an interrupted transfer resumes (see `fetch`). Without network, a cached copy is
used. pyeddl's `download_model(name, link)` puts the file in the working directory. pyeddl's
`download_vgg16[_bn]`, `download_vgg19[_bn]`, `download_resnet18/34/50/101/152` and
`download_densenet121` import the file as a `Model`, with a new `input_shape` if given and, with
`top=True`, without the densely connected classifier (the last remaining layer is named "top").
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from deephealth.eddl.zoo.fetch import (
    CACHE_ENV,
    DownloadError,
    cache_dir,
    check_sha256,
    fetch,
    is_url,
    place,
    sha256_of,
)

if TYPE_CHECKING:
    from deephealth.eddl.model import Model

__all__ = ["CACHE_ENV", "DownloadError", "cache_dir", "download_model", "sha256_of", "strip_top"]

MODEL_NAMES = (
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "densenet121",
)
URL_ENV = "DEEPHEALTH_MODELS_URL"
# Layers of a classifier head that `top=True` removes from the end of the network (as EDDL: the
# densely connected part; the flatten before it stays and is renamed "top").
_HEAD_KINDS = {"Dense", "Activation", "Dropout"}


def _resolve(name_or_url: str, link: str | None, base_url: str | None) -> tuple[str, str]:
    """(URL, cache file name) for a model name, a URL, or pyeddl's (name, link) pair."""
    if link:
        filename = Path(name_or_url).name
        if is_url(link):
            return link, filename
        base = base_url or os.environ.get(URL_ENV)
        if not base:
            raise DownloadError(
                f"download_model({name_or_url!r}, {link!r}): the link is an EDDL Dropbox key, "
                f"which is not fetched from here. Set {URL_ENV} to a folder URL holding "
                f"{filename!r} (e.g. export {URL_ENV}=http://server/models), or pass a full URL."
            )
        return f"{base.rstrip('/')}/{filename}", filename
    if is_url(name_or_url):
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

    pyeddl's form `download_model("resnet18.onnx", link)` puts the file in the working directory
    and returns that path; `link` is a URL, or EDDL's Dropbox key (then the file is fetched from
    `$DEEPHEALTH_MODELS_URL`/`base_url` under its name).

    Args:
        name_or_url: A local `.onnx` path, a URL, a model name of `MODEL_NAMES`, or with `link`
            the file name.
        link: pyeddl's second argument: the URL (or Dropbox key) of `name_or_url`.
        sha256: Expected SHA-256; default: the server's `<url>.sha256` when published.
        base_url: Folder URL of the models (default: `$DEEPHEALTH_MODELS_URL`).
        cache: Cache folder (default: `$DEEPHEALTH_CACHE` or `~/.cache/deephealth/models`).
        force: Download again even when cached.

    Raises:
        DownloadError: unknown name, no mirror, network failure with nothing cached, checksum
            mismatch.
    """
    text = os.fspath(name_or_url)
    if link is None and not is_url(text) and Path(text).is_file():
        check_sha256(Path(text), sha256, text)
        return Path(text)
    url, filename = _resolve(text, link, base_url)
    cached = fetch(url, filename, cache=cache, sha256=sha256, force=force)
    if link is None:
        return cached
    return place(cached, Path(text))


def strip_top(net: Model) -> Model:
    """Remove the classifier (trailing Dense/Activation/Dropout layers) and name the last layer "top".

    As EDDL's `download_*(top=True)`: what feeds the classifier (usually a Flatten) becomes the
    output, renamed "top" unless another layer has that name.
    """
    from deephealth.eddl.model import Model

    out = net.outputs[0]
    while out.kind in _HEAD_KINDS and out.parents:
        out = out.parents[0]
    if out is net.outputs[0] or out.kind == "Input":
        return net
    if all(layer.name != "top" for layer in net.layers):
        out.name = "top"
    return Model(net.inputs, [out], net.name)


def _download_net(
    name: str, top: bool, input_shape: Sequence[int] | None, **kwargs: object
) -> Model:
    from deephealth.eddl.onnx import import_net_from_onnx_file

    path = download_model(name, **kwargs)  # type: ignore[arg-type]
    net = import_net_from_onnx_file(path, input_shape=list(input_shape) if input_shape else None)
    if len(net.inputs) == 1 and all(layer.name != "input" for layer in net.layers):
        net.inputs[0].name = "input"  # as EDDL: getLayer(net, "input")
    return strip_top(net) if top else net


def download_vgg16(top: bool = True, input_shape: Sequence[int] = (), **kwargs: object) -> Model:
    """VGG16 from ONNX; `top=True` drops the densely connected part (last layer named "top")."""
    return _download_net("vgg16", top, input_shape, **kwargs)


def download_vgg16_bn(top: bool = True, input_shape: Sequence[int] = (), **kwargs: object) -> Model:
    """VGG16 with batch normalization from ONNX (see `download_vgg16`)."""
    return _download_net("vgg16_bn", top, input_shape, **kwargs)


def download_vgg19(top: bool = True, input_shape: Sequence[int] = (), **kwargs: object) -> Model:
    """VGG19 from ONNX (see `download_vgg16`)."""
    return _download_net("vgg19", top, input_shape, **kwargs)


def download_vgg19_bn(top: bool = True, input_shape: Sequence[int] = (), **kwargs: object) -> Model:
    """VGG19 with batch normalization from ONNX (see `download_vgg16`)."""
    return _download_net("vgg19_bn", top, input_shape, **kwargs)


def download_resnet18(top: bool = True, input_shape: Sequence[int] = (), **kwargs: object) -> Model:
    """ResNet-18 from ONNX; `top=True` drops the classifier (last layer named "top")."""
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
