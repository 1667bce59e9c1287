"""Digital pathology on whole-slide images: tissue detection, tiling, tile labels, stain
normalization and augmentation, a streaming patch dataset and a patch extractor.

Everything works on the :class:`~deephealth.ecvl.slide.OpenSlideImage` reader; tiles travel as
``(H, W, 3)`` uint8 RGB arrays until the dataset turns batches into ``NCHW`` tensors.
"""

from deephealth.ecvl.pathology.annotations import (
    Annotation,
    AnnotationLabeler,
    annotations_to_geojson,
    parse_geojson,
    read_geojson,
    write_geojson,
)
from deephealth.ecvl.pathology.dataset import PatchDataset, Sample, SlideSource
from deephealth.ecvl.pathology.extract import extract_patches
from deephealth.ecvl.pathology.stain import (
    MacenkoNormalizer,
    RandStainAugment,
    ReinhardNormalizer,
    macenko_stain_matrix,
    stain_concentrations,
)
from deephealth.ecvl.pathology.tiler import Tile, Tiler, iter_tile_pixels, ordered_map, read_tile
from deephealth.ecvl.pathology.tissue import TissueMask, detect_tissue, tissue_mask_from_rgb

__all__ = [
    "Annotation",
    "AnnotationLabeler",
    "MacenkoNormalizer",
    "PatchDataset",
    "RandStainAugment",
    "ReinhardNormalizer",
    "Sample",
    "SlideSource",
    "Tile",
    "Tiler",
    "TissueMask",
    "annotations_to_geojson",
    "detect_tissue",
    "extract_patches",
    "iter_tile_pixels",
    "macenko_stain_matrix",
    "ordered_map",
    "parse_geojson",
    "read_geojson",
    "read_tile",
    "stain_concentrations",
    "tissue_mask_from_rgb",
    "write_geojson",
]
