"""Explanations of single-image classification predictions for the REST endpoint and the model page.

The image goes through the same preparation as `deephealth.server.inference` (size, channels,
stored preprocessing); the heat map comes from `deephealth.pipelines.explain` on the ONNX file
imported into EDDL, and is drawn over the displayed image (`explain_file`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deephealth.server.inference import PredictionError, model_input, predict_array, session_for


def explain_array(
    weights_path: str | Path, hwc: np.ndarray, method: str
) -> tuple[dict[str, Any], np.ndarray]:
    """Predict on one (H, W, C) image and explain the predicted class.

    Returns:
        The prediction (with `explanation`: the method and explained class) and the heat map
        ((h, w) in [0, 1], the model's input size).

    Raises:
        PredictionError: not a 2D classifier, or a method that cannot explain this network.
    """
    from deephealth.pipelines.explain import ExplainError, explain, load_model

    session = session_for(weights_path)
    result = predict_array(session, hwc, "classification")
    x: Any = model_input(session, hwc)
    prep = session.preprocessing
    if not prep.is_identity:
        x = prep.apply(x, batched=False)
    layout = prep.layout or "CHW"
    if layout != "CHW":
        x = np.transpose(x, [layout.index(a) for a in "CHW"])
    try:
        module, layer = load_model(weights_path)
        heat, target = explain(
            module, layer, np.asarray(x, np.float32), method, result["label_index"]
        )
    except ExplainError as err:
        raise PredictionError(str(err)) from None
    result["explanation"] = {"method": method, "class": result["label"], "class_index": target}
    return result, heat


def overlay_png(hwc: np.ndarray, heat: np.ndarray, caption: str) -> bytes:
    """The displayed image with the heat map over it and a caption, as PNG bytes."""
    from deephealth.pipelines.explain import heat_overlay
    from deephealth.server import imaging

    return imaging.png_bytes(imaging.caption(heat_overlay(imaging.display(hwc), heat), caption))
