"""pyeddl's dataset downloads: `download_mnist()` & co. put EDDL `.bin` files in the working folder.

As in pyeddl, each function makes sure the dataset's files (e.g. `mnist_trX.bin`, `mnist_trY.bin`,
`mnist_tsX.bin`, `mnist_tsY.bin`: EDDL's tensor layout) are in the working directory, and does
nothing for a file already there. Missing files come from a mirror: the folder URL in
`$DEEPHEALTH_DATASETS_URL` (or `base_url=`) holding the files under these names; EDDL's own
download servers are never called. Transfers go through the cache with checksums and resume after
an interruption (see `fetch`).
"""

from __future__ import annotations

import os
from pathlib import Path

from deephealth.eddl.zoo.fetch import DownloadError, fetch, place

URL_ENV = "DEEPHEALTH_DATASETS_URL"

DATASETS: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist_trX.bin", "mnist_trY.bin", "mnist_tsX.bin", "mnist_tsY.bin"),
    "cifar10": ("cifar_trX.bin", "cifar_trY.bin", "cifar_tsX.bin", "cifar_tsY.bin"),
    "imdb_2000": (
        "imdb_2000_trX.bin",
        "imdb_2000_trY.bin",
        "imdb_2000_tsX.bin",
        "imdb_2000_tsY.bin",
    ),
    "eutrans": ("eutrans_trX.bin", "eutrans_trY.bin", "eutrans_tsX.bin", "eutrans_tsY.bin"),
    "drive": ("drive_trX.bin", "drive_trY.bin"),
    "flickr": ("flickr_trX.bin", "flickr_trY.bin"),
}


def download_dataset(
    name: str,
    *,
    base_url: str | None = None,
    dest: str | os.PathLike[str] = ".",
    cache: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> list[Path]:
    """Make sure the files of dataset `name` are in `dest`; return their paths.

    Args:
        name: A key of `DATASETS`.
        base_url: Mirror folder URL (default `$DEEPHEALTH_DATASETS_URL`).
        dest: Where the files go (default: the working directory, as pyeddl).
        cache: Cache folder (default `$DEEPHEALTH_CACHE` or `~/.cache/deephealth/models`).
        force: Download again even when the files exist.

    Raises:
        DownloadError: unknown dataset, no mirror for a missing file, network or checksum failure.
    """
    if name not in DATASETS:
        raise DownloadError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for filename in DATASETS[name]:
        target = folder / filename
        if target.is_file() and not force:
            paths.append(target)
            continue
        base = base_url or os.environ.get(URL_ENV)
        if not base:
            raise DownloadError(
                f"download_{name}: {filename} is not in {str(folder.resolve())!r} and no mirror is "
                f"set. Set {URL_ENV} to the folder URL that holds EDDL's {name} files "
                f"({', '.join(DATASETS[name])}), e.g. export {URL_ENV}=http://server/eddl-data, "
                "or copy the files into the working directory."
            )
        cached = fetch(f"{base.rstrip('/')}/{filename}", filename, cache=cache, force=force)
        paths.append(place(cached, target))
    return paths


def download_mnist(**kwargs: object) -> None:
    """MNIST as EDDL `.bin` files in the working directory (`mnist_trX.bin`, ...)."""
    download_dataset("mnist", **kwargs)  # type: ignore[arg-type]


def download_cifar10(**kwargs: object) -> None:
    """CIFAR-10 as EDDL `.bin` files in the working directory (`cifar_trX.bin`, ...)."""
    download_dataset("cifar10", **kwargs)  # type: ignore[arg-type]


def download_imdb_2000(**kwargs: object) -> None:
    """IMDB reviews (2,000-word vocabulary) as `imdb_2000_trX.bin`, ... in the working directory."""
    download_dataset("imdb_2000", **kwargs)  # type: ignore[arg-type]


def download_eutrans(**kwargs: object) -> None:
    """EuTrans translation pairs as `eutrans_trX.bin`, ... in the working directory."""
    download_dataset("eutrans", **kwargs)  # type: ignore[arg-type]


def download_drive(**kwargs: object) -> None:
    """DRIVE retina images and masks as `drive_trX.bin`, `drive_trY.bin` in the working directory."""
    download_dataset("drive", **kwargs)  # type: ignore[arg-type]


def download_flickr(**kwargs: object) -> None:
    """Flickr images and captions as `flickr_trX.bin`, `flickr_trY.bin` in the working directory."""
    download_dataset("flickr", **kwargs)  # type: ignore[arg-type]


def exist(name: str | os.PathLike[str]) -> bool:
    """True when the file `name` exists (pyeddl's `exist`)."""
    return Path(name).is_file()
