"""A small whole-slide dataset for the server tests: synthetic slides with one block of pink
("normal") or purple ("tumour") tissue (known truth), plus the real CMU-1-Small-Region slide
(Aperio SVS, H&E) as an extra test slide, in one DeepHealth dataset YAML."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from deephealth.ecvl.pathology.synthetic import COLORS, synthetic_slide

ROOT = Path(__file__).resolve().parents[2]
CMU = ROOT / ".data" / "cmu_small_region.svs"
PAINT = {"glass": COLORS["glass"], "normal": COLORS["tissue"], "tumour": COLORS["tumour"]}
SPLITS = ["training", "training", "training", "training", "test", "test"]
SLIDE_SETTINGS = {"size": 32, "mpp": 2.0, "min_tissue": 0.5, "aggregate": "mean"}
HYPER = {"epochs": 3, "batch_size": 16, "lr": 0.003, "optimizer": "adam"}


def make_slide_dataset(folder: Path, with_cmu: bool = True) -> Path:
    """Write the slides and `slides.yml` into `folder`; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    images = []
    for i in range(len(SPLITS)):
        label = ("normal", "tumour")[i % 2]
        block = (128 + 32 * (i % 3), 128, 640, 704)
        synthetic_slide(folder / f"slide_{i}.tif", (1024, 1024), [(label, block)], colors=PAINT,
                        seed=i)  # fmt: skip
        images.append({"location": f"slide_{i}.tif", "label": label})
    if with_cmu:
        shutil.copy(CMU, folder / "cmu_1.svs")
        images.append({"location": "cmu_1.svs", "label": "normal"})
    test = [i for i, s in enumerate(SPLITS) if s == "test"] + ([len(SPLITS)] if with_cmu else [])
    doc = {
        "name": "slides", "classes": ["normal", "tumour"], "images": images,
        "split": {"training": [i for i, s in enumerate(SPLITS) if s == "training"], "test": test},
    }  # fmt: skip
    (folder / "slides.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder
