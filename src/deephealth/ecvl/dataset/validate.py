"""Validation of a DeepHealth dataset file: every problem, with its YAML line, in one run.

On top of the structural checks of the decoder (types, unknown classes and features, labels and split
indices out of range, duplicate locations), the validator checks the files: missing images and
ground truths, and images that cannot be decoded. URLs are only checked when ``fetch`` is set.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import cv2

from deephealth.ecvl.dataset.errors import (
    DatasetError,
    DatasetIssue,
    DatasetLimitError,
    DatasetSyntaxError,
)
from deephealth.ecvl.dataset.parser import decode_file
from deephealth.ecvl.dataset.reader import CV_EXTENSIONS, read_location
from deephealth.ecvl.dataset.remote import is_url


def _decodes(path: str) -> str | None:
    """None when ``path`` decodes, else the reason."""
    try:
        if path.lower().endswith(CV_EXTENSIONS):
            return None if cv2.imread(path, cv2.IMREAD_UNCHANGED) is not None else "cannot decode"
        read_location(path, "none")
        return None
    except Exception as e:
        return f"{type(e).__name__}: {e}"


def ValidateDataset(
    filename: str | os.PathLike, check_images: bool = True, fetch: bool = False, workers: int = 4
) -> list[DatasetIssue]:
    """Check a dataset file and its files; return every issue (empty list: valid).

    Args:
        filename: Dataset YAML file.
        check_images: Also try to decode every image and ground truth.
        fetch: Also download and check http(s) locations.
        workers: Threads used to decode images.

    Returns:
        Issues sorted by line; severity ``error`` or ``warning``.
    """
    file = os.fspath(filename)
    from deephealth.ecvl.dataset.recordings import is_recordings_dataset, validate_recordings

    if is_recordings_dataset(file):  # signal datasets: `recordings` instead of `images`
        return validate_recordings(file, check_images)
    try:
        d = decode_file(file)
    except DatasetLimitError as e:
        return [DatasetIssue(file, e.line, e.column, "error", "limit", e.cause)]
    except DatasetSyntaxError as e:
        return [DatasetIssue(file, e.line, e.column, "error", "syntax",
                             f"expected {e.expected}, found {e.found}")]  # fmt: skip
    except DatasetError as e:  # the file cannot be read
        return [DatasetIssue(file, 0, 0, "error", "read", str(e))]
    issues = list(d.issues)

    def checks() -> Iterator[tuple[int, str, str]]:  # (line, role, path)
        for i, s in enumerate(d.samples):
            for loc in s.location_:
                yield (s.line_, f"image {i}", loc)
            if s.label_path_ is not None:
                yield (s.line_, f"image {i} ground truth", s.label_path_)

    def check(item: tuple[int, str, str]) -> DatasetIssue | None:
        line, role, path = item
        if is_url(path):
            if not fetch:
                return None
            try:
                from deephealth.ecvl.dataset.remote import fetch as do_fetch

                path = do_fetch(path)
            except Exception as e:
                return DatasetIssue(file, line, 1, "error", "fetch-failed", f"{role}: {e}")
        if not os.path.exists(path):
            return DatasetIssue(
                file, line, 1, "error", "missing-file", f"{role}: no such file {path}"
            )
        if check_images:
            why = _decodes(path)
            if why:
                return DatasetIssue(file, line, 1, "error", "undecodable",
                                    f"{role}: {path}: {why}")  # fmt: skip
        return None

    # In batches: `map` over everything at once holds a Future per file (~1 KB each; 100 MB for
    # the 100,000 images of a 10 MB dataset file).
    todo = checks()
    with ThreadPoolExecutor(max(1, workers)) as pool:
        while batch := list(itertools.islice(todo, 1024)):
            issues += [r for r in pool.map(check, batch) if r is not None]
    return sorted(issues, key=lambda x: (x.line, x.column))
