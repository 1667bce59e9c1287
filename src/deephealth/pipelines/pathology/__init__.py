"""Digital-pathology pipeline: slide-level inference of ONNX patch models and its outputs.

:func:`predict_slide` runs a patch classifier or segmenter over a slide in parallel and
resumably; the :class:`SlidePrediction` it returns writes slide-aligned heat maps and label
maps (pyramidal TIFF), exports predicted regions as QuPath GeoJSON and aggregates the tiles into
a slide label.
"""

from deephealth.pipelines.pathology.aggregate import METHODS, SlideLabel, aggregate_predictions
from deephealth.pipelines.pathology.inference import SlidePrediction, predict_slide
from deephealth.pipelines.pathology.maps import (
    NO_PREDICTION,
    label_map,
    stitch,
    write_heatmap,
    write_label_map,
)
from deephealth.pipelines.pathology.model import PatchModel
from deephealth.pipelines.pathology.polygons import (
    export_geojson,
    label_map_to_annotations,
    mask_to_polygons,
)
from deephealth.pipelines.pathology.runstore import RunStore

__all__ = [
    "METHODS",
    "NO_PREDICTION",
    "PatchModel",
    "RunStore",
    "SlideLabel",
    "SlidePrediction",
    "aggregate_predictions",
    "export_geojson",
    "label_map",
    "label_map_to_annotations",
    "mask_to_polygons",
    "predict_slide",
    "stitch",
    "write_heatmap",
    "write_label_map",
]
