"""The findings vocabulary of the synthetic reports, and a parser from report text to findings.

A report states either that the image is normal, or how many lesions it shows and, per lesion,
its type (`nodule` or `cyst`), size (`small` or `large`) and location (`upper`/`lower` ×
`left`/`right`). The parser reads one sentence at a time, lower-cased, and recognises these words
and their synonyms (`SYNONYMS`); it is exact on the generator's phrasings and tolerant of word
order. A report's findings are a set of strings:

- `normal`, or `abnormal` and `count=<n>`;
- per lesion: `<type>`, `<type>:<size>`, `<type>@<vertical> <horizontal>`.

`finding_scores` compares predicted against true findings: precision/recall/F1 per finding and
micro-averaged over all of them — text metrics alone reward fluent reports that state wrong
findings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "type": {"nodule": ("nodule", "nodular"), "cyst": ("cyst", "cystic")},
    "size": {"small": ("small", "tiny"), "large": ("large", "big", "sizeable")},
    "vertical": {"upper": ("upper", "superior"), "lower": ("lower", "inferior")},
    "horizontal": {"left": ("left",), "right": ("right",)},
    "count": {"1": ("one", "single", "solitary"), "2": ("two",)},
    "normal": {"normal": ("normal", "unremarkable", "no focal lesion", "no lesion")},
}


def _find(sentence: str, group: str) -> str | None:
    for value, words in SYNONYMS[group].items():
        if any(re.search(rf"\b{re.escape(w)}\b", sentence) for w in words):
            return value
    return None


def parse_findings(text: str) -> set[str]:
    """The findings a report text states (see the module doc)."""
    found: set[str] = set()
    for sentence in re.split(r"[.;\n]", text.lower()):
        if not sentence.strip():
            continue
        kind = _find(sentence, "type")
        if kind is None:
            count = _find(sentence, "count")
            if count is not None and "lesion" in sentence:
                found.update({"abnormal", f"count={count}"})
            elif _find(sentence, "normal"):
                found.add("normal")
            continue
        found.update({"abnormal", kind})
        size = _find(sentence, "size")
        if size:
            found.add(f"{kind}:{size}")
        vert, horiz = _find(sentence, "vertical"), _find(sentence, "horizontal")
        if vert and horiz:
            found.add(f"{kind}@{vert} {horiz}")
    return found


def true_findings(lesions: Sequence[dict[str, Any]]) -> set[str]:
    """The findings of a generated image from its lesion records (type, size, vertical, ...)."""
    if not lesions:
        return {"normal"}
    out = {"abnormal", f"count={len(lesions)}"}
    for les in lesions:
        kind = les["type"]
        out.update({kind, f"{kind}:{les['size']}", f"{kind}@{les['vertical']} {les['horizontal']}"})
    return out


def finding_scores(predicted: Iterable[set[str]], truth: Iterable[set[str]]) -> dict[str, Any]:
    """Per-finding and micro-averaged precision, recall and F1 over paired finding sets."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for pred, true in zip(predicted, truth, strict=True):
        for f in pred & true:
            tp[f] += 1
        for f in pred - true:
            fp[f] += 1
        for f in true - pred:
            fn[f] += 1

    def prf(t: int, p: int, n: int) -> dict[str, float]:
        precision = t / (t + p) if t + p else 1.0
        recall = t / (t + n) if t + n else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "support": t + n}

    names = sorted(set(tp) | set(fp) | set(fn))
    per = {f: prf(tp[f], fp[f], fn[f]) for f in names}
    micro = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return {"per_finding": per, "micro": micro}
