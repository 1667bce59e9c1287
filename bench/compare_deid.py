"""Tag-by-tag comparison of ``deephealth anonymize`` with an independent de-identifier: the `deid`
package (pydicom/deid) and its default recipe, on the `deid-data` files.

For every element of each source file it records what deid does (removed, value changed, kept)
and what we do, and prints the differences grouped by keyword as a Markdown table (the table in
docs/security.md). ``rows()`` is also used by tests/ecvl/test_anonymize_deid.py.

    python bench/compare_deid.py > /tmp/deid.md
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter, defaultdict
from pathlib import Path


def deid_files() -> list[str]:
    """The DICOM files of deid-data (cookies, humans, animals, ultrasounds; zips left out)."""
    import deid_data

    base = Path(deid_data.__file__).parent / "data"
    return sorted(str(p) for p in base.rglob("*.dcm"))


def _state(orig, new) -> str:
    if new is None:
        return "removed"
    try:
        same = orig.value == new.value
    except Exception:
        same = False
    if same:
        return "emptied" if orig.is_empty else "kept"
    return "emptied" if new.is_empty else "replaced"


def rows(files: list[str] | None = None) -> list[dict]:
    """One row per (file, top-level element): keyword, deid's and our handling."""
    import pydicom
    from deid.dicom import replace_identifiers

    import deephealth.ecvl as ecvl

    logging.getLogger("deid").setLevel(logging.ERROR)
    files = files or deid_files()
    theirs = replace_identifiers(dicom_files=files, save=False)
    out = tempfile.mkdtemp()
    report = ecvl.anonymize(files, out, key="compare")
    ours = {f["source"]: pydicom.dcmread(f["output"]) for f in report.files}
    refused = {s["source"]: s["reason"] for s in report.skipped}
    result = []
    for path, their in zip(files, theirs):
        orig = pydicom.dcmread(path)
        mine = ours.get(path)
        for elem in orig:
            if elem.tag.group == 0x7FE0:
                continue
            kw = elem.keyword or ("private" if elem.tag.is_private else str(elem.tag))
            result.append({
                "file": os.path.relpath(path, Path(path).parents[1]),
                "tag": int(elem.tag), "keyword": kw,
                "deid": _state(elem, their.get(elem.tag)),
                "ours": "refused" if mine is None else _state(elem, mine.get(elem.tag)),
                "refused": refused.get(path, ""),
            })  # fmt: skip
    return result


def table(data: list[dict]) -> str:
    """Markdown: every keyword whose handling differs, with the count of files."""
    diff: dict[tuple, Counter] = defaultdict(Counter)
    for r in data:
        if r["deid"] != r["ours"]:
            diff[(r["keyword"], r["deid"], r["ours"])][r["file"]] += 1
    lines = ["| attribute | deid | deephealth | files |", "|---|---|---|---|"]
    for (kw, theirs, ours), files in sorted(diff.items()):
        lines.append(f"| {kw} | {theirs} | {ours} | {len(files)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    data = rows()
    n = len({r["file"] for r in data})
    print(f"{n} files, {len(data)} elements compared\n")
    print(table(data))
