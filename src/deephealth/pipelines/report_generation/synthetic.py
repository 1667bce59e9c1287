"""Synthetic image–report pairs: phantoms (`pipelines.synthetic.make_phantom`) with 0, 1 or 2
lesions whose type, size and location are known exactly, and a templated report per image.

Each finding has several phrasings (`PHRASES`, picked at random), so a model must learn the
findings rather than one sentence. Lesions sit in distinct quadrants, a quarter of the side from
the centre, with radius 0.07–0.09 (small) or 0.15–0.18 (large) × the side, so the truth is never
ambiguous. As in a structured radiology report, lesions are described in reading order (upper
before lower, left before right), so the order of the sentences is a function of the image. The
data are synthetic, not medical images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deephealth.pipelines.report_generation.findings import true_findings
from deephealth.pipelines.synthetic import make_phantom

NORMAL_PHRASES = (
    "no focal lesion is seen .",
    "the organ appears normal .",
    "unremarkable study .",
)
COUNT_PHRASES = {
    1: ("there is one lesion .", "a single lesion is present .", "one lesion is seen ."),
    2: ("there are two lesions .", "two lesions are present .", "two lesions are seen ."),
}
LESION_PHRASES = (
    "a {size} {type} in the {vertical} {horizontal} region .",
    "{size} {type} at the {vertical} {horizontal} aspect .",
    "the {vertical} {horizontal} part shows a {size} {type} .",
)
QUADRANTS = (("upper", "left"), ("upper", "right"), ("lower", "left"), ("lower", "right"))


WORDS = {  # the phrasings of each finding value (all recognised by `findings.parse_findings`)
    "type": {"nodule": ("nodule", "nodular lesion"), "cyst": ("cyst", "cystic lesion")},
    "size": {"small": ("small", "tiny"), "large": ("large", "big")},
    "vertical": {"upper": ("upper", "superior"), "lower": ("lower", "inferior")},
}


def _word(group: str, value: str, rng: np.random.Generator) -> str:
    words = WORDS[group][value]
    return words[int(rng.integers(len(words)))]


def write_report(lesions: list[dict[str, Any]], rng: np.random.Generator) -> str:
    """A templated report (tokens separated by spaces) stating exactly the lesions given, in
    reading order."""
    if not lesions:
        return NORMAL_PHRASES[int(rng.integers(len(NORMAL_PHRASES)))]
    parts = [COUNT_PHRASES[len(lesions)][int(rng.integers(3))]]
    for les in sorted(
        lesions, key=lambda les: QUADRANTS.index((les["vertical"], les["horizontal"]))
    ):
        template = LESION_PHRASES[int(rng.integers(len(LESION_PHRASES)))]
        parts.append(
            template.format(
                size=_word("size", les["size"], rng),
                type=_word("type", les["type"], rng),
                vertical=_word("vertical", les["vertical"], rng),
                horizontal=les["horizontal"],
            )
        )
    return " ".join(parts)


def make_case(side: int, rng: np.random.Generator) -> tuple[np.ndarray, str, list[dict]]:
    """One image (1, side, side) in [0, 1], its report and its lesion records."""
    count = int(rng.choice([0, 1, 2], p=[0.3, 0.4, 0.3]))
    quads = rng.permutation(4)[:count]
    lesions = []
    for q in quads:
        vert, horiz = QUADRANTS[q]
        size = "small" if rng.random() < 0.5 else "large"
        lo, hi = (0.07, 0.09) if size == "small" else (0.15, 0.18)
        lesions.append(
            {
                "type": "nodule" if rng.random() < 0.5 else "cyst",
                "size": size,
                "vertical": vert,
                "horizontal": horiz,
                "radius": float(rng.uniform(lo, hi) * side),
                "center": (
                    side / 2 + (-1 if vert == "upper" else 1) * side * rng.uniform(0.2, 0.26),
                    side / 2 + (-1 if horiz == "left" else 1) * side * rng.uniform(0.2, 0.26),
                ),
            }
        )
    first = lesions[0] if lesions else None
    img, _, _ = make_phantom(
        (side, side),
        first["type"] if first else "normal",
        rng,
        radius=first["radius"] if first else None,
        center=first["center"] if first else None,
    )
    yy, xx = np.mgrid[:side, :side]
    for les in lesions[1:]:  # further lesions, painted as make_phantom paints the first
        disk = (yy - les["center"][0]) ** 2 + (xx - les["center"][1]) ** 2 <= les["radius"] ** 2
        level = float(np.median(img[side // 2 - 2 : side // 2 + 2, side // 2 - 2 : side // 2 + 2]))
        img = np.where(
            disk, np.clip(level + (0.35 if les["type"] == "nodule" else -0.22), 0, 1), img
        )
    return img[None].astype(np.float32), write_report(lesions, rng), lesions


def make_dataset(n: int, side: int = 32, seed: int = 0) -> dict[str, Any]:
    """`n` cases: images (n, 1, side, side), reports, lesion records and true findings."""
    rng = np.random.default_rng(seed)
    cases = [make_case(side, rng) for _ in range(n)]
    return {
        "images": np.stack([c[0] for c in cases]),
        "reports": [c[1] for c in cases],
        "lesions": [c[2] for c in cases],
        "findings": [true_findings(c[2]) for c in cases],
    }


def write_dataset(folder: str | Path, train: int, test: int, side: int = 32, seed: int = 0) -> Path:
    """Write `train` + `test` cases as 8-bit PNGs and a DeepHealth dataset YAML whose text
    feature `report` holds each image's report; returns the YAML path."""
    import cv2
    import yaml

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images: list[dict[str, Any]] = []
    order: dict[str, list[int]] = {"training": [], "test": []}
    for i in range(train + test):
        image, report, _ = make_case(side, rng)
        name = f"images/case{i:05d}.png"
        cv2.imwrite(str(folder / name), np.round(image[0] * 255).astype(np.uint8))
        images.append({"location": name, "values": {"report": report}})
        order["training" if i < train else "test"].append(i)
    doc = {
        "name": "synthetic-reports",
        "description": "synthetic phantoms with templated reports (not medical images)",
        "features": [{"name": "report", "type": "text", "role": "target"}],
        "images": images,
        "split": order,
    }
    path = folder / "reports.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=200))
    return path
