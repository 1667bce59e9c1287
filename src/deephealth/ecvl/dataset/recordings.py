"""Recordings in the DeepHealth dataset YAML: decoding, validation (every problem with its line),
and a generator from a folder of recordings and annotation files.

A recordings dataset lists ``recordings`` instead of ``images``::

    name: chb-like
    classes: [background, seizure]     # classes[0] is the background
    recordings:
      - location: rec000.edf           # EDF/BDF, WFDB .hea, DICOM waveform, .npz, .csv
        annotations: rec000.csv        # CSV/TSV onset,duration,label (s), or an EDF+ file
        patient: p000
        split: training                # training | validation | test (or use 'split:' below)
      - location: rec001.edf
        events:                        # inline events instead of (or besides) a file
          - {onset: 120.5, duration: 30, label: seizure}
        patient: p001
    split:                             # optional, as for images: split name -> indices
      test: [1]

Events from the recording file itself (EDF+ annotations, WFDB annotation files, DICOM markers)
are kept too; labels not in ``classes`` are ignored by the windows loader, but an event label in
an annotations file or inline that is not a class is reported (a typo would silently drop it).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deephealth.ecvl.dataset.errors import DatasetError, DatasetIssue, DatasetSyntaxError
from deephealth.ecvl.dataset.yaml_lines import LDict, load, pos
from deephealth.ecvl.signal.signal import Annotation

TOP_KEYS = ("name", "description", "classes", "recordings", "split")
RECORDING_KEYS = ("location", "annotations", "events", "patient", "split", "channels")
SPLITS = ("training", "validation", "test")
RECORDING_EXTENSIONS = (".edf", ".bdf", ".hea", ".dcm", ".npz")
ANNOTATION_EXTENSIONS = (".csv", ".tsv", ".txt")


@dataclass
class Recording:
    """One recording of a dataset.

    Attributes:
        location: Absolute path of the recording.
        annotations_file: Absolute path of its annotation file, if any.
        events: Inline events and those of the annotation file.
        patient: Patient identifier ('' when not given).
        split: Split name ('' when not given).
        line: YAML line of the entry.
    """

    location: str
    annotations_file: str | None = None
    events: list[Annotation] = field(default_factory=list)
    patient: str = ""
    split: str = ""
    line: int = 0


@dataclass
class RecordingsDataset:
    """A decoded recordings dataset and every issue found."""

    file: str
    name: str = ""
    description: str = ""
    classes: list[str] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    issues: list[DatasetIssue] = field(default_factory=list)

    def split(self, name: str) -> list[Recording]:
        """The recordings of split ``name``."""
        return [r for r in self.recordings if r.split == name]


def is_recordings_dataset(path: str | os.PathLike) -> bool:
    """Whether a dataset YAML lists ``recordings`` (cheap check of the top-level keys)."""
    try:
        with open(path, encoding="utf-8") as f:
            return any(line.startswith("recordings:") for line in f)
    except (OSError, UnicodeDecodeError):  # missing, or not a text file (a recording itself)
        return False


def read_annotations_file(path: str) -> list[Annotation]:
    """Events of a CSV/TSV file (header ``onset,duration,label``) or of an EDF+ file.

    Raises:
        DatasetError: Unreadable file or rows (names file and row).
    """
    if path.lower().endswith((".edf", ".bdf")):
        from deephealth.ecvl.signal.io import SignalOpen

        with SignalOpen(path) as f:
            return [
                Annotation(a.onset, a.duration, a.label, source="annotations")
                for a in f.header.annotations
            ]
    delim = "\t" if path.lower().endswith(".tsv") else ","
    out = []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f, delimiter=delim))
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read annotations {path!r}: {e}") from None
    if not rows:
        return out
    head = [h.strip().lower() for h in rows[0]]
    try:
        io, idur, ilab = head.index("onset"), head.index("duration"), head.index("label")
    except ValueError:
        raise DatasetError(
            f"annotations {path!r}: the header must name onset, duration and label columns, got {rows[0]}"
        ) from None
    for k, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            onset, dur = float(row[io]), float(row[idur])
            label = row[ilab].strip()
        except (ValueError, IndexError):
            raise DatasetError(
                f"annotations {path!r} row {k}: expected onset,duration,label numbers, got {row}"
            ) from None
        if onset < 0 or dur < 0:
            raise DatasetError(f"annotations {path!r} row {k}: negative onset or duration")
        out.append(Annotation(onset, dur, label, source="annotations"))
    return out


class _Decoder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.root = Path(file).resolve().parent
        self.out = RecordingsDataset(file)

    def issue(
        self, where: Any, code: str, msg: str, severity: str = "error", at: Any = None
    ) -> None:
        line, col = at if at else pos(where)
        self.out.issues.append(DatasetIssue(self.file, line, col, severity, code, msg))

    def resolve(self, loc: str) -> str:
        return loc if os.path.isabs(loc) else str(self.root / loc)

    def decode(self, doc: Any) -> RecordingsDataset:
        if not isinstance(doc, LDict):
            self.issue(
                doc,
                "type",
                "the dataset file must be a mapping with a 'recordings' list",
                at=pos(doc, (1, 1)),
            )
            return self.out
        for key, line, col in doc.duplicates:
            self.issue(None, "duplicate-key", f"key {key!r} appears more than once", at=(line, col))
        for key in doc:
            if key not in TOP_KEYS:
                self.issue(None, "unknown-key", f"unknown top-level key {key!r} (known: {', '.join(TOP_KEYS)})",
                           "warning", at=doc.key_pos[key])  # fmt: skip
        self.out.name = str(doc.get("name") or "")
        self.out.description = str(doc.get("description") or "")
        classes = doc.get("classes")
        if classes is None:
            self.issue(
                None,
                "missing-classes",
                "a recordings dataset needs 'classes' (background first)",
                at=pos(doc, (1, 1)),
            )
        elif (
            not isinstance(classes, list)
            or len(classes) < 2
            or not all(isinstance(c, (str, int)) for c in classes)
        ):
            self.issue(
                classes, "type", "classes must be a list of at least two names (background first)"
            )
        else:
            self.out.classes = [str(c) for c in classes]
            for i, c in enumerate(self.out.classes):
                if c in self.out.classes[:i]:
                    self.issue(
                        classes[i] if pos(classes[i])[0] else classes,
                        "duplicate-class",
                        f"class {c!r} is listed twice",
                    )
        recs = doc.get("recordings")
        if not isinstance(recs, list):
            self.issue(
                recs if recs is not None else None,
                "type",
                "'recordings' must be a list",
                at=None if recs is not None else pos(doc, (1, 1)),
            )
            recs = []
        seen: dict[str, int] = {}
        for i, item in enumerate(recs):
            r = self.recording(i, item, recs)
            if r is None:
                continue
            if r.location in seen:
                self.issue(
                    item,
                    "duplicate-location",
                    f"recording {i} repeats the location of recording {seen[r.location]}",
                )
            seen.setdefault(r.location, i)
            self.out.recordings.append(r)
        if "split" in doc:
            self.split(doc["split"], recs)
        self.leakage()
        return self.out

    def recording(self, i: int, item: Any, parent: Any) -> Recording | None:
        line = pos(item, pos(parent))[0]
        if isinstance(item, str):
            return Recording(self.resolve(item), line=line)
        if not isinstance(item, dict):
            self.issue(
                item if item is not None else parent,
                "type",
                f"recording {i} must be a path or a mapping",
            )
            return None
        for key in item:
            if key not in RECORDING_KEYS:
                self.issue(None, "unknown-key", f"recording {i}: unknown key {key!r} (known: {', '.join(RECORDING_KEYS)})",
                           at=item.key_pos[key])  # fmt: skip
        loc = item.get("location")
        if not isinstance(loc, str) or not loc:
            self.issue(item, "missing-location", f"recording {i} has no location")
            return None
        r = Recording(self.resolve(loc), line=line)
        ann = item.get("annotations")
        if ann is not None:
            if not isinstance(ann, str):
                self.issue(ann, "type", f"recording {i}: annotations must be a file path")
            else:
                r.annotations_file = self.resolve(ann)
                if not os.path.exists(r.annotations_file):
                    self.issue(
                        ann,
                        "missing-file",
                        f"recording {i}: no such annotations file {r.annotations_file}",
                    )
                else:
                    try:
                        r.events.extend(read_annotations_file(r.annotations_file))
                    except Exception as e:
                        self.issue(ann, "bad-annotations", f"recording {i}: {e}")
        events = item.get("events")
        if events is not None:
            if not isinstance(events, list):
                self.issue(
                    events,
                    "type",
                    f"recording {i}: events must be a list of {{onset, duration, label}}",
                )
            else:
                for k, ev in enumerate(events):
                    e = self.event(i, k, ev, events)
                    if e is not None:
                        r.events.append(e)
        if self.out.classes:
            for e in r.events:
                if e.source in ("annotations", "inline") and e.label not in self.out.classes:
                    where = item.key_pos.get("events", item.key_pos.get("annotations", (line, 1)))
                    self.issue(None, "unknown-class", f"recording {i}: event label {e.label!r} at {e.onset:g} s is not a class "
                               f"({', '.join(self.out.classes)})", at=where)  # fmt: skip
        p = item.get("patient")
        if p is not None:
            if isinstance(p, (dict, list)):
                self.issue(p, "type", f"recording {i}: patient must be an identifier")
            else:
                r.patient = str(p)
        sp = item.get("split")
        if sp is not None:
            if sp not in SPLITS:
                self.issue(
                    sp if pos(sp)[0] else item,
                    "unknown-split",
                    f"recording {i}: split {sp!r} is not one of {', '.join(SPLITS)}",
                )
            else:
                r.split = str(sp)
        return r

    def event(self, i: int, k: int, ev: Any, parent: Any) -> Annotation | None:
        where = ev if pos(ev)[0] else parent
        if not isinstance(ev, dict):
            self.issue(
                where,
                "type",
                f"recording {i} event {k}: must be a mapping {{onset, duration, label}}",
            )
            return None
        bad = [key for key in ("onset", "label") if key not in ev]
        if bad:
            self.issue(where, "missing-field", f"recording {i} event {k}: missing {', '.join(bad)}")
            return None
        onset, dur = ev.get("onset"), ev.get("duration", 0)
        if isinstance(onset, bool) or not isinstance(onset, (int, float)) or onset < 0:
            self.issue(
                where, "type", f"recording {i} event {k}: onset must be seconds >= 0, got {onset!r}"
            )
            return None
        if isinstance(dur, bool) or not isinstance(dur, (int, float)) or dur < 0:
            self.issue(
                where,
                "type",
                f"recording {i} event {k}: duration must be seconds >= 0, got {dur!r}",
            )
            return None
        return Annotation(float(onset), float(dur), str(ev["label"]), source="inline")

    def split(self, value: Any, recs: list) -> None:
        if not isinstance(value, dict):
            self.issue(value, "type", "'split' must map split names to lists of recording indices")
            return
        by_line = {r.line: r for r in self.out.recordings}
        for name, idx in value.items():
            at = value.key_pos[name]
            if name not in SPLITS:
                self.issue(
                    None,
                    "unknown-split",
                    f"split {name!r} is not one of {', '.join(SPLITS)}",
                    at=at,
                )
                continue
            if not isinstance(idx, list):
                self.issue(
                    idx,
                    "type",
                    f"split {name!r} must be a list of recording indices",
                    at=pos(idx, at),
                )
                continue
            for v in idx:
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < len(recs):
                    self.issue(
                        None,
                        "split-range",
                        f"split {name!r}: {v!r} is not a recording index (0..{len(recs) - 1})",
                        at=pos(v, at),
                    )
                    continue
                r = by_line.get(pos(recs[v], (0, 0))[0])
                if r is None:
                    continue
                if r.split and r.split != name:
                    self.issue(
                        None,
                        "split-conflict",
                        f"split {name!r}: recording {v} is already in {r.split!r}",
                        at=pos(v, at),
                    )
                    continue
                r.split = str(name)

    def leakage(self) -> None:
        where: dict[str, dict[str, int]] = {}
        for r in self.out.recordings:
            if r.patient and r.split:
                where.setdefault(r.patient, {}).setdefault(r.split, r.line)
        for patient, splits in where.items():
            if len(splits) > 1:
                line = max(splits.values())
                self.issue(None, "patient-leakage", f"patient {patient!r} is in several splits ({', '.join(sorted(splits))}): "
                           "windows of one patient would be both trained on and tested", "warning", at=(line, 1))  # fmt: skip


def decode_recordings(path: str | os.PathLike) -> RecordingsDataset:
    """Decode a recordings dataset file (structure and annotation files; no recording is opened).

    Raises:
        DatasetError: The file cannot be read.
        DatasetSyntaxError: Not valid YAML.
    """
    file = os.fspath(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except OSError as e:
        raise DatasetError(f"cannot read dataset file {file!r}: {e.strerror or e}") from None
    return _Decoder(file).decode(load(text, file))


def validate_recordings(path: str | os.PathLike, check_files: bool = True) -> list[DatasetIssue]:
    """Every problem of a recordings dataset with its line: structure, annotation files, and (with
    ``check_files``) recordings that are missing or unreadable and events past a recording's end."""
    file = os.fspath(path)
    try:
        d = decode_recordings(file)
    except DatasetSyntaxError as e:
        return [
            DatasetIssue(
                file, e.line, e.column, "error", "syntax", f"expected {e.expected}, found {e.found}"
            )
        ]
    issues = list(d.issues)
    if check_files:
        from deephealth.ecvl.signal.io import SignalOpen

        for i, r in enumerate(d.recordings):
            if not os.path.exists(r.location) and not os.path.exists(r.location + ".hea"):
                issues.append(
                    DatasetIssue(
                        file,
                        r.line,
                        1,
                        "error",
                        "missing-file",
                        f"recording {i}: no such file {r.location}",
                    )
                )
                continue
            try:
                with SignalOpen(r.location) as f:
                    dur = f.header.duration
            except Exception as e:
                issues.append(
                    DatasetIssue(file, r.line, 1, "error", "unreadable", f"recording {i}: {e}")
                )
                continue
            for e in r.events:
                if e.onset > dur:
                    issues.append(DatasetIssue(file, r.line, 1, "warning", "event-range",
                                               f"recording {i}: event {e.label!r} at {e.onset:g} s is past the end ({dur:.3f} s)"))  # fmt: skip
    return sorted(issues, key=lambda x: (x.line, x.column))


def generate_recordings_dataset(
    folder: str | os.PathLike,
    classes: list[str],
    out: str | os.PathLike | None = None,
    splits: dict[str, float] | None = None,
    seed: int = 0,
) -> Path:
    """Write a recordings dataset YAML for a folder of recordings and annotation files.

    A recording ``x.edf`` takes the annotation file ``x.csv``/``x.tsv``/``x.txt`` (or
    ``x-annotations.*``) next to it; the patient is the recording's sub-folder name when recordings
    sit in per-patient folders, else the file stem. Patients (not recordings) are split by the
    fractions ``splits`` (default training 0.7, validation 0.15, test 0.15), so no patient spans
    two splits.

    Returns:
        The YAML path (``folder/dataset.yml`` by default).
    """
    import numpy as np

    root = Path(folder).resolve()
    recs = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in RECORDING_EXTENSIONS and p.is_file()
    )
    splits = splits or {"training": 0.7, "validation": 0.15, "test": 0.15}
    patients = sorted({(p.parent.name if p.parent != root else p.stem) for p in recs})
    order = np.random.default_rng(seed).permutation(len(patients))
    names, fr = list(splits), np.cumsum(list(splits.values())) / sum(splits.values())
    pat_split = {}
    for rank, k in enumerate(order):
        pat_split[patients[k]] = names[
            int(np.searchsorted(fr, (rank + 0.5) / max(1, len(patients))))
        ]
    lines = [f"name: {root.name}", f"classes: [{', '.join(classes)}]", "recordings:"]
    for p in recs:
        rel = p.relative_to(root).as_posix()
        lines.append(f"  - location: {rel}")
        for cand in [p.with_suffix(e) for e in ANNOTATION_EXTENSIONS] + [
            p.with_name(p.stem + "-annotations" + e) for e in ANNOTATION_EXTENSIONS
        ]:
            if cand.exists():
                lines.append(f"    annotations: {cand.relative_to(root).as_posix()}")
                break
        patient = p.parent.name if p.parent != root else p.stem
        lines += [f"    patient: {patient}", f"    split: {pat_split[patient]}"]
    path = Path(out) if out else root / "dataset.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
