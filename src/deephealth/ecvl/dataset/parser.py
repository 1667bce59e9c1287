"""Decoding of a DeepHealth dataset YAML into samples, classes, features and splits.

The decoder never stops at the first problem: it records every structural issue (wrong types,
unknown classes or features, labels or split indices out of range, duplicate locations) as a
:class:`DatasetIssue` with its YAML line, and keeps going. :class:`~.dataset.Dataset` raises them
all at once; the validator adds the file checks.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deephealth.ecvl.dataset.errors import DatasetIssue
from deephealth.ecvl.dataset.model import Sample, Split
from deephealth.ecvl.dataset.remote import is_url
from deephealth.ecvl.dataset.schema import FeatureSpec, decode_feature
from deephealth.ecvl.dataset.yaml_lines import LDict, LInt, load, pos

TOP_KEYS = ("name", "description", "classes", "features", "patients", "images", "split")
SAMPLE_KEYS = ("location", "label", "values", "boxes")


@dataclass
class Decoded:
    """The result of decoding: the dataset fields plus every issue found."""

    name: str = ""
    description: str = ""
    classes: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    feature_specs: list[FeatureSpec] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    issues: list[DatasetIssue] = field(default_factory=list)


# relative locations that pathlib rewrites when joining (repeated or trailing slashes, "."
# components, backslashes, empty text): those go through pathlib, the rest are joined as text
_PATHLIB_NORMALISES = re.compile(r"//|(^|/)\.(/|$)|/$|^$|\\")


def _plain_relative(loc: str) -> bool:
    """Whether ``loc`` joins to the folder as text: a cheap test that no URL (``:``), absolute
    path or text that pathlib rewrites passes (it refuses a few more, which take the long way)."""
    return not (
        not loc
        or loc[0] == "/"
        or ":" in loc
        or "\\" in loc
        or "//" in loc
        or "./" in loc
        or loc[-1] == "/"
        or loc[-1] == "."
    )


def _looks_like_path(s: str) -> bool:
    return "/" in s or "\\" in s or bool(os.path.splitext(s)[1]) or is_url(s)


class _Decoder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.root = Path(file).resolve().parent
        self.root_text = str(self.root).rstrip("/")
        self.out = Decoded()
        self.key_at = (0, 0)  # the current top-level key: where problems of null values are
        self.class_pos: dict[str, int] = {}  # class name -> its first index

    def issue(self, where: Any, code: str, msg: str, severity: str = "error", at=None) -> None:
        line, col = at if at else pos(where, self.key_at)
        self.out.issues.append(DatasetIssue(self.file, line, col, severity, code, msg))

    def resolve(self, loc: str) -> str:
        if _plain_relative(loc):
            return f"{self.root_text}/{loc}"
        if is_url(loc) or os.path.isabs(loc):
            return str(loc)
        if _PATHLIB_NORMALISES.search(loc) is None:  # the text pathlib would give, 10x faster
            return f"{self.root_text}/{loc}"
        return str(self.root / loc)

    def str_list(self, value: Any, what: str) -> list[str]:
        if not isinstance(value, list):
            self.issue(value, "type", f"{what} must be a list of names, got {value!r}")
            return []
        out = []
        for v in value:
            if v is None or isinstance(v, (dict, list)):
                self.issue(
                    v if v is not None else value, "type", f"{what} entry {v!r} is not a name"
                )
                continue
            out.append(str(v))
        return out

    def decode(self, doc: Any) -> Decoded:
        if not isinstance(doc, LDict):
            self.issue(doc, "type", "the dataset file must be a mapping with an 'images' list",
                       at=pos(doc, (1, 1)))  # fmt: skip
            return self.out
        for key, line, col in doc.duplicates:
            self.issue(None, "duplicate-key", f"key {key!r} appears more than once", at=(line, col))
        for key in doc:
            if key not in TOP_KEYS:
                self.issue(None, "unknown-key", f"unknown top-level key {key!r} (known: "
                           f"{', '.join(TOP_KEYS)})", "warning", at=doc.key_pos[key])  # fmt: skip
        self.out.name = "" if doc.get("name") is None else str(doc.get("name"))
        self.out.description = "" if doc.get("description") is None else str(doc["description"])
        if "classes" in doc:
            self.key_at = doc.key_pos["classes"]
            self.out.classes = self.str_list(doc["classes"], "classes")
            for k, c in enumerate(self.out.classes):
                self.class_pos.setdefault(c, k)
            seen: set[str] = set()
            raws = doc["classes"] if isinstance(doc["classes"], list) else []
            names = [r for r in raws if r is not None and not isinstance(r, (dict, list))]
            for c, raw in zip(self.out.classes, names):
                if c in seen:
                    self.issue(raw, "duplicate-class", f"class {c!r} is listed twice")
                seen.add(c)
        if "features" in doc:
            self.key_at = doc.key_pos["features"]
            self.feature_list(doc["features"])
        images = doc.get("images")
        self.key_at = doc.key_pos.get("images", (0, 0))
        if images is None:
            self.issue(
                None, "missing-images", "the dataset has no 'images' list", at=pos(doc, (1, 1))
            )
        elif not isinstance(images, list):
            self.issue(images, "type", "'images' must be a list")
        else:
            for i, item in enumerate(images):
                self.out.samples.append(self.sample(i, item, images))
            self.check_duplicates(images)
        if "patients" in doc:
            self.key_at = doc.key_pos["patients"]
            self.patients(doc["patients"])
        if "split" in doc:
            self.key_at = doc.key_pos["split"]
            self.split(doc["split"])
        return self.out

    def feature_list(self, value: Any) -> None:
        if not isinstance(value, list):
            self.issue(value, "type", f"features must be a list, got {value!r}")
            return
        for entry in value:
            where = entry if pos(entry)[0] else value
            spec = decode_feature(
                entry, lambda w, code, msg, at=where: self.issue(w or at, code, msg)
            )
            if spec is None:
                continue
            if spec.name in self.out.features:
                self.issue(where, "duplicate-feature", f"feature {spec.name!r} is listed twice")
                continue
            self.out.features.append(spec.name)
            self.out.feature_specs.append(spec)

    def check_value(self, where: Any, k: int, v: str, what: str) -> None:
        problem = self.out.feature_specs[k].check(v)
        if problem:
            self.issue(where, "feature-value", f"{what}: {problem}")

    def patients(self, value: Any) -> None:
        """Per-patient values, merged into the samples of each patient (a sample's own win)."""
        specs = self.out.feature_specs
        ids = [k for k, spec in enumerate(specs) if spec.type == "id"]
        if not isinstance(value, dict):
            self.issue(value, "type", "'patients' must map patient ids to their values")
            return
        if not ids:
            self.issue(value, "feature-schema", "'patients' needs a feature of type id "
                       "(e.g. {name: patient, type: id}) to match samples to patients")  # fmt: skip
            return
        by_id: dict[str, list[Sample]] = {}
        for s in self.out.samples:
            if s.values_ and ids[0] in s.values_:
                by_id.setdefault(s.values_[ids[0]], []).append(s)
        for pid, vals in value.items():
            at = value.key_pos.get(pid, pos(value))
            probe = Sample()
            self.values(probe, -1, vals, f"patient {pid}")
            if str(pid) not in by_id:
                self.issue(None, "unknown-patient", f"patient {pid}: no image has this "
                           f"{specs[ids[0]].name}", "warning", at=at)  # fmt: skip
            for s in by_id.get(str(pid), []):
                s.values_ = {**(probe.values_ or {}), **(s.values_ or {})}

    def locations(self, value: Any, i: int) -> list[str]:
        if isinstance(value, str):
            return [self.resolve(value)]
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return [self.resolve(v) for v in value]
        self.issue(value, "type", f"image {i}: location must be a path or a list of paths, "
                   f"got {value!r}")  # fmt: skip
        return []

    def sample(self, i: int, item: Any, parent: Any) -> Sample:
        s = Sample(line_=pos(item, pos(parent))[0])
        if not isinstance(item, dict):
            s.location_ = self.locations(item, i) if item is not None else []
            if item is None:
                self.issue(parent, "type", f"image {i} is empty")
            return s
        for key in item:
            if key not in SAMPLE_KEYS:
                self.issue(None, "unknown-key", f"image {i}: unknown key {key!r} (known: "
                           f"{', '.join(SAMPLE_KEYS)})", at=item.key_pos[key])  # fmt: skip
        if "location" not in item:
            self.issue(item, "missing-location", f"image {i} has no location")
        else:
            s.location_ = self.locations(item["location"], i)
        if "label" in item:
            self.label(s, i, item["label"], item)
        if "values" in item:
            self.values(s, i, item["values"])
        if "boxes" in item:
            self.boxes(s, i, item["boxes"], item)
        return s

    def boxes(self, s: Sample, i: int, value: Any, item: Any) -> None:
        """Per-sample boxes: `[x0, y0, x1, y1, class]` (3D: six numbers) or a mapping
        `{box: [...], label: class}`; class by name or index of `classes`."""
        if not isinstance(value, list):
            self.issue(value if pos(value)[0] else item, "type", f"image {i}: boxes must be a list")
            return
        s.boxes_ = []
        for k, entry in enumerate(value):
            where = entry if pos(entry)[0] else value
            if isinstance(entry, dict):
                coords, label = entry.get("box"), entry.get("label")
            elif isinstance(entry, list) and entry:
                coords, label = entry[:-1], entry[-1]
            else:
                coords, label = None, None
            what = f"image {i}, box {k}"
            if (
                not isinstance(coords, list)
                or len(coords) not in (4, 6)
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords)
            ):
                self.issue(where, "box", f"{what}: expected 4 (2D) or 6 (3D) corner coordinates "
                           f"and a class, e.g. [x0, y0, x1, y1, nodule]; got {entry!r}")  # fmt: skip
                continue
            nd = len(coords) // 2
            if any(coords[a + nd] <= coords[a] for a in range(nd)):
                self.issue(where, "box", f"{what}: the far corner {coords[nd:]} is not beyond the "
                           f"near corner {coords[:nd]}")  # fmt: skip
                continue
            if any(c < 0 for c in coords):
                self.issue(where, "box", f"{what}: negative coordinate in {coords}")
                continue
            idx = self.class_index(label, i, where)
            if idx is not None:
                s.boxes_.append(([float(c) for c in coords], idx))

    def label(self, s: Sample, i: int, value: Any, item: Any) -> None:
        if isinstance(value, str) and value in self.class_pos:  # the common case, a class name
            s.label_ = [self.class_pos[value]]
            return
        classes = self.out.classes
        where = value if pos(value)[0] else item
        if isinstance(value, list):
            labels = []
            for v in value:
                idx = self.class_index(v, i, v if pos(v)[0] else where)
                if idx is not None:
                    labels.append(idx)
            s.label_ = labels
            return
        if (
            isinstance(value, str)
            and value not in classes
            and (not classes or _looks_like_path(value))
        ):
            s.label_path_ = self.resolve(value)
            return
        idx = self.class_index(value, i, where)
        s.label_ = [idx] if idx is not None else []

    def class_index(self, v: Any, i: int, where: Any) -> int | None:
        classes = self.out.classes
        if isinstance(v, bool) or v is None or isinstance(v, (float, dict, list)):
            self.issue(where, "type", f"image {i}: label {v!r} is not a class name or index")
            return None
        if isinstance(v, int):
            if not 0 <= v < len(classes):
                self.issue(where, "label-range", f"image {i}: label index {v} out of range "
                           f"(0..{len(classes) - 1} for {len(classes)} classes)")  # fmt: skip
                return None
            return int(v)
        if str(v) in classes:
            return classes.index(str(v))
        self.issue(where, "unknown-class", f"image {i}: unknown class {str(v)!r} "
                   f"(classes: {', '.join(classes) or 'none listed'})")  # fmt: skip
        return None

    def values(self, s: Sample, i: int, value: Any, what: str = "") -> None:
        feats = self.out.features
        what = what or f"image {i}"
        out: dict[int, str] = {}
        if isinstance(value, list):
            if len(value) > len(feats):
                self.issue(value, "values-range", f"{what}: {len(value)} values for "
                           f"{len(feats)} features")  # fmt: skip
            for k, v in enumerate(value[: len(feats)]):
                if v is not None:
                    out[k] = str(v)
                    self.check_value(v if pos(v)[0] else value, k, out[k], what)
        elif isinstance(value, dict):
            for k, v in value.items():
                at = value.key_pos.get(k, pos(value))
                if str(k) not in feats:
                    self.issue(None, "unknown-feature", f"{what}: unknown feature {k!r} "
                               f"(features: {', '.join(feats) or 'none listed'})",
                               at=at)  # fmt: skip
                    continue
                if v is not None:
                    out[feats.index(str(k))] = str(v)
                    problem = self.out.feature_specs[feats.index(str(k))].check(str(v))
                    if problem:
                        self.issue(None, "feature-value", f"{what}: {problem}", at=at)
        else:
            self.issue(value, "type", f"{what}: values must be a list or a mapping")
        s.values_ = out

    def check_duplicates(self, images: list) -> None:
        first: dict[str | tuple[str, ...], int] = {}
        for i, s in enumerate(self.out.samples):
            locs = s.location_
            if not locs:
                continue
            key = locs[0] if len(locs) == 1 else tuple(locs)  # a str: cheaper than a 1-tuple
            if key in first:
                self.issue(images[i], "duplicate-location", f"image {i} repeats the location of "
                           f"image {first[key]}: {', '.join(locs)}",
                           at=pos(images[i], (s.line_, 1)))  # fmt: skip
            else:
                first[key] = i

    def split(self, value: Any) -> None:
        n = len(self.out.samples)
        if not isinstance(value, dict):
            self.issue(value, "type", "'split' must map split names to lists of image indices")
            return
        for name, idx_list in value.items():
            kline = value.key_pos[name]
            sp = Split(split_name_=str(name), line_=kline[0])
            if idx_list is None:
                idx_list = []
            if not isinstance(idx_list, list):
                self.issue(idx_list, "type", f"split {name!r} must be a list of image indices",
                           at=pos(idx_list, kline))  # fmt: skip
                idx_list = []
            if _valid_indices(idx_list, n):
                sp.samples_indices_ = [int(v) for v in idx_list]
                idx_list = []
            seen: set[int] = set()
            for v in idx_list:
                where = pos(v, kline)
                if isinstance(v, bool) or not isinstance(v, int):
                    self.issue(
                        None, "type", f"split {name!r}: {v!r} is not an image index", at=where
                    )
                    continue
                if not 0 <= v < n:
                    self.issue(None, "split-range", f"split {name!r}: index {v} out of range "
                               f"(0..{n - 1} for {n} images)", at=where)  # fmt: skip
                    continue
                if v in seen:
                    self.issue(None, "split-duplicate", f"split {name!r}: index {v} listed twice",
                               at=where)  # fmt: skip
                    continue
                seen.add(int(v))
                sp.samples_indices_.append(int(v))
            if not sp.samples_indices_:
                sp.no_label_ = True
            else:
                first = self.out.samples[sp.samples_indices_[0]]
                sp.no_label_ = first.label_ is None and first.label_path_ is None
            self.out.splits.append(sp)


def _valid_indices(values: list, n: int) -> bool:
    """Whether every value is a distinct int index below ``n`` (then no issue can arise)."""
    return (
        all(type(v) is int or type(v) is LInt for v in values)
        and (not values or (min(values) >= 0 and max(values) < n))
        and len(set(values)) == len(values)
    )


def decode_text(text: str, file: str) -> Decoded:
    """Decode YAML ``text`` (paths resolve relative to ``file``'s folder).

    Raises:
        DatasetSyntaxError: The text is not valid YAML.
    """
    return _Decoder(file).decode(load(text, file))


def decode_file(path: str | os.PathLike) -> Decoded:
    """Decode a dataset file.

    Raises:
        DatasetError: The file cannot be read.
        DatasetSyntaxError: The file is not valid YAML (:class:`DatasetLimitError`: too large,
            too deep, an alias bomb, not UTF-8/16/32 text).
    """
    from deephealth.ecvl.dataset.errors import DatasetError, DatasetLimitError
    from deephealth.ecvl.dataset.yaml_limits import YamlLimitError, read_text

    path = os.fspath(path)
    try:
        text = read_text(path)
    except OSError as e:
        raise DatasetError(f"cannot read dataset file {path!r}: {e.strerror or e}") from None
    except YamlLimitError as e:
        raise DatasetLimitError(path, 0, 0, e.cause) from None
    with _no_gc():  # ~1M acyclic containers: the collector's full passes would rescan them all
        doc = load(text, path)
        del text  # the loaded values no longer need it: a 10 MB file's text is 10 MB
        return _Decoder(path).decode(doc)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees everything)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
