"""Boxes from an exported detector, with onnxruntime only.

A detector exported by the pipelines (`eddl.zoo.detection.onnx_nms.save_detector`) has four
outputs, ``boxes`` (K, 4) corner boxes [x0, y0, x1, y1] in input pixels, ``scores``, ``labels``
and ``image`` (the index of each detection's image in the batch), non-maximum suppression done in
the graph. `detect` runs such a model on a batch and returns the detections of each image, boxes
optionally scaled to the size of the original images.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deephealth.serving.session import InferenceSession, ServingError

OUTPUTS = ("boxes", "scores", "labels", "image")


def is_detector(session: InferenceSession) -> bool:
    """Whether the session's model returns boxes (the four outputs of an exported detector)."""
    return set(OUTPUTS) <= set(session.output_names)


def detect(
    session: InferenceSession,
    batch: np.ndarray,
    scale: Sequence[float] = (1.0, 1.0),
    min_score: float = 0.0,
) -> list[dict[str, Any]]:
    """Per-image detections of a batch (N, C, H, W).

    Args:
        session: A session of an exported detector.
        batch: Model inputs with the batch axis.
        scale: (x, y) factors from model input pixels to the caller's pixels.
        min_score: Detections scoring below this are left out.

    Returns:
        One dict per image: ``boxes`` (list of [x0, y0, x1, y1]), ``scores``, ``labels`` (class
        names when the model stores them, else indices), in decreasing score order.

    Raises:
        ServingError: when the model is not a detector or the batch has no batch axis.
    """
    if not is_detector(session):
        raise ServingError(f"{session.path.name} is not a detector (outputs {OUTPUTS})")
    if batch.ndim != 4:
        raise ServingError(f"detect takes a batch (N, C, H, W), got shape {batch.shape}")
    out = session.run_named(np.ascontiguousarray(batch, dtype=np.float32))
    boxes = np.asarray(out["boxes"], dtype=np.float64).reshape(-1, 4)
    boxes = boxes * np.array([scale[0], scale[1], scale[0], scale[1]])
    scores, labels, image = (np.asarray(out[k]).reshape(-1) for k in OUTPUTS[1:])
    names = session.class_names
    result = []
    for i in range(batch.shape[0]):
        sel = np.nonzero((image == i) & (scores >= min_score))[0]
        sel = sel[np.argsort(-scores[sel], kind="stable")]
        result.append({
            "boxes": [[round(float(v), 3) for v in boxes[k]] for k in sel],
            "scores": [round(float(scores[k]), 5) for k in sel],
            "labels": [names[int(labels[k])] if int(labels[k]) < len(names) else int(labels[k])
                       for k in sel],
        })  # fmt: skip
    return result
